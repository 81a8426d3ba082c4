"""The uniform query's law (derivations/paper/README.md §6): the three-parameter head (α3, β2, γ3)
with the query index uniform over 1 … N, solved to N = 65536 on the O(N) kernel.

Leading order: T_γ = 2 ln 2 · N as for the last query, and T_β, T_α, T_loss = C · N² / ln N with the
last query's constants C (1.9197, 3.4225, τ* = 5.0133 at threshold 0.5), approached with relative
corrections O(1/ln N). For each N the script records T ln N / N² and the offset d with
T = C N² / (ln N + d), and sets them against what :mod:`gradflow.systems.paper.uniform_law` derives:
the L-flow's T ln N/N² at L = ln N and the offsets d of β2 and α3 as 1/ln N → 0.

``python benchmarks/paper/uniform_law.py`` writes benchmarks/results/paper/uniform_law.json and .md.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import gradflow as gf
from gradflow.systems.paper import uniform_law
from gradflow.systems.paper.derive import limit_constants

OUT = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "paper"
NS = (16, 64, 256, 1024, 4096, 16384, 65536)
HEAD = ("alpha3", "beta2", "gamma3")
#: the last query's leading constants (derived in derive.limit_constants), by the keys used here
CONSTANTS = {key: limit_constants()[name][1] for key, name in
             (("beta2(0.5)", "C_beta(0.5)"), ("alpha3(0.5)", "C_alpha(0.5)"), ("T_loss", "tau_star"))}


def run(N: int) -> dict:
    start = time.perf_counter()
    r = gf.solve(N, query="uniform", params=HEAD)
    e = r.emergence
    times = {"gamma3(0.5)": e["t_p"]["gamma3"]["0.5"], "beta2(0.5)": e["t_p"]["beta2"]["0.5"],
             "alpha3(0.5)": e["t_p"]["alpha3"]["0.5"], "T_loss": e["T_loss"]}
    seconds = time.perf_counter() - start
    lnN = math.log(N)
    scaled = {k: times[k] * lnN / N ** 2 for k in CONSTANTS}
    lflow = uniform_law.finite_L_times(lnN)
    return {"N": N, "status": r.status, "order": list(r.order), "T": times,
            "gamma_over_N": times["gamma3(0.5)"] / N, "scaled": scaled,
            "offset_d": {k: lnN * (CONSTANTS[k] / scaled[k] - 1) for k in CONSTANTS},
            "l_flow": {"beta2(0.5)": lflow["beta2"], "alpha3(0.5)": lflow["alpha3"]},
            "nfev": r.stats["nfev"], "seconds": seconds}


def table(d: dict) -> str:
    lines = ["| N | order | T_γ/N | T_β ln N/N² (L-flow) | T_α ln N/N² (L-flow) | T_loss ln N/N² | d_β | d_α | d_loss |",
             "|---|---|---|---|---|---|---|---|---|"]
    for x in d["runs"]:
        s, o, f = x["scaled"], x["offset_d"], x["l_flow"]
        lines.append(f"| {x['N']} | {' → '.join(n[0] if n[0] != 'g' else 'γ' for n in x['order']).replace('a', 'α').replace('b', 'β')} | "
                     f"{x['gamma_over_N']:.4f} | {s['beta2(0.5)']:.4f} ({f['beta2(0.5)']:.4f}) | "
                     f"{s['alpha3(0.5)']:.4f} ({f['alpha3(0.5)']:.4f}) | {s['T_loss']:.4f} | "
                     f"{o['beta2(0.5)']:.3f} | {o['alpha3(0.5)']:.3f} | {o['T_loss']:.3f} |")
    c, off = d["constants"], d["offsets"]
    lines.append(f"| leading order; derived d (ln N → ∞) | γ → β → α | 2 ln 2 = {2 * math.log(2):.4f} | "
                 f"{c['beta2(0.5)']:.4f} | {c['alpha3(0.5)']:.4f} | {c['T_loss']:.4f} | "
                 f"{off['beta2(0.5)']:.3f} | {off['alpha3(0.5)']:.3f} | not derived |")
    return "\n".join(lines)


def main():
    runs = []
    for N in NS:
        runs.append(run(N))
        print(f"N = {N}: {runs[-1]['scaled']}  ({runs[-1]['seconds']:.1f} s)", file=sys.stderr, flush=True)
    derived = uniform_law.offsets(0.5)
    d = {"constants": CONSTANTS, "offsets": {"beta2(0.5)": derived["beta2"][1], "alpha3(0.5)": derived["alpha3"][1]},
         "runs": runs, "seconds": sum(x["seconds"] for x in runs)}
    (OUT / "uniform_law.json").write_text(json.dumps(d, indent=1) + "\n")
    (OUT / "uniform_law.md").write_text("# uniform query, three-parameter head\n\n" + table(d) + "\n")
    print(table(d))


if __name__ == "__main__":
    main()
