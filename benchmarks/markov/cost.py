"""What one markov evaluation (loss and gradient) costs against count, L, S and H, with the pairs
it visits after identical keys are merged, and against the estimate the size limits use.

``python benchmarks/markov/cost.py`` writes benchmarks/results/markov/cost.json and cost.md (the
median of 5 evaluations at the authors' initialisation, on this machine, its cores as the kernels
use them).
"""

from __future__ import annotations

import json
import time
from pathlib import Path


from gradflow import _threads
from gradflow.bench import median_seconds
from gradflow.systems.markov import MarkovSystem

OUT = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "markov"
BASE = dict(S=3, n=3, length=100, H=3, count=9000, seed=1)
VARY = {"count": (1000, 3000, 9000, 27000), "length": (25, 50, 100, 200), "S": (2, 3, 4, 6), "H": (1, 2, 3, 4)}


def measure(sizes: dict) -> dict:
    s = MarkovSystem(**dict(sizes, degree=min(2, sizes["H"])))
    start = time.perf_counter()
    pop = s.population
    build = time.perf_counter() - start
    theta = s.initial()
    seconds = median_seconds(lambda: s.loss_and_grad(theta))
    keys = sizes["count"] * sizes["length"]
    return {"sizes": sizes, "seconds": seconds, "build_seconds": build, "pairs": pop.size,
            "pairs_before_merging": keys, "estimate_seconds": s.cost()[1]}


def main():
    rows = []
    for name, values in VARY.items():
        for v in values:
            rows.append(dict(measure(dict(BASE, **{name: v})), varied=name))
            r = rows[-1]
            print(f"{name} = {v}: {r['seconds'] * 1e3:.1f} ms, {r['pairs']} pairs "
                  f"({r['pairs_before_merging'] / r['pairs']:.1f}× merged)", flush=True)
    data = {"threads": _threads.count(), "base": BASE, "rows": rows}
    (OUT / "cost.json").write_text(json.dumps(data, indent=1) + "\n")
    lines = [f"One markov evaluation (loss and gradient, median of 5, {data['threads']} threads) against each size, "
             "the others at S = 3, n = 3, L = 100, H = 3, 9000 sequences:", "",
             "| varied | value | ms | pairs visited | keys merged by | estimate (size limits) ms |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['varied']} | {r['sizes'][r['varied']]} | {r['seconds'] * 1e3:.1f} | {r['pairs']} | "
                     f"{r['pairs_before_merging'] / r['pairs']:.1f}× | {r['estimate_seconds'] * 1e3:.1f} |")
    (OUT / "cost.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
