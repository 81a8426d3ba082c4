"""Each optimizer's flow against its own rule on the full-weight references (derivations/optimizers.md §4).

paper, N = 3 (the population gradient exact over 8192 frames): momentum (lr 1, μ 0.5, t ≤ 96,
η = 1, ½, ¼), Adam (lr 0.01, ε 1e-3) and sign descent (ε 1e-3), t ≤ 1, η = 0.01, 0.005, 0.0025;
markov, L = 10, 12 sequences: Adam (lr 0.02, ε 1e-3), simplified and full model, t ≤ 0.5,
η = 0.005 … 0.00125. Each: the error per η, its ratios (first order: 2), Richardson's (4), the
off-span residual. Writes ``<out>/checks.json`` and ``.md``. Run:
``python benchmarks/optimizers/checks.py`` (about 5 minutes).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from gradflow.optimizers import Adam, Momentum, Sign
from gradflow.result import json_ready
from gradflow.systems.markov import MarkovSystem
from gradflow.systems.paper import PaperSystem

OUT = Path(__file__).resolve().parents[1] / "results" / "optimizers"


def cases():
    paper = PaperSystem(N=3, D=8)
    yield "paper", Momentum(lr=1.0, momentum=0.5), lambda o: paper.check(eta=1.0, t_end=96.0, n_times=4, optimizer=o)
    for opt in (Adam(lr=0.01, eps=1e-3), Sign(eps=1e-3)):
        yield "paper", opt, lambda o: paper.check(eta=0.01, t_end=1.0, n_times=4, optimizer=o)
    for model in ("simplified", "full"):
        m = MarkovSystem(model=model, length=10, count=12)
        yield f"markov ({model})", Adam(lr=0.02, eps=1e-3), lambda o, m=m: m.check(optimizer=o, t_end=0.5, eta=0.005)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    rows = []
    for system, opt, run in cases():
        start = time.perf_counter()
        rep = run(opt)
        off = max(rep.off_span) if isinstance(rep.off_span, list) else rep.off_span
        rows.append({"system": system, "optimizer": opt.spec(), "label": opt.describe(), "etas": rep.etas,
                     "errors": rep.errors, "rates": rep.rates, "extrapolated_rate": rep.extrapolated_rates[0],
                     "off_span": off, "passed": rep.passed, "seconds": time.perf_counter() - start,
                     "summary": rep.summary()})
        print(rep.summary(), flush=True)
    (args.out / "checks.json").write_text(json.dumps(json_ready({"date": time.strftime("%Y-%m-%d"), "rows": rows}),
                                                      indent=1))
    lines = ["| system | rule | η | error per η | ratios | extrapolated ratio | off-span | passed |",
             "|---|---|---|---|---|---:|---:|---|"]
    for r in rows:
        off = "–" if r["off_span"] is None else f"{r['off_span']:.1e}"
        lines.append(f"| {r['system']} | {r['label']} | {', '.join(f'{e:g}' for e in r['etas'])} | "
                     f"{', '.join(f'{e:.3g}' for e in r['errors'])} | {', '.join(f'{x:.3f}' for x in r['rates'])} | "
                     f"{r['extrapolated_rate']:.2f} | {off} | {'yes' if r['passed'] else 'no'} |")
    (args.out / "checks.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
