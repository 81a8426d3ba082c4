"""What the other 16 pseudo-parameters do (a question SPEC-paper §6 records from the reviews):
the query-last flow of the head (α3, β2, γ3) with one more pseudo-parameter free, or a few, or all
but one, at N = 1024, 4096 and 16384.

For each set: the order by t_p(0.5), T_β/N² and T_α/N² at the largest N and the local log-log
slopes of T_β, T_α and T_loss between consecutive N. The solves run through :func:`gradflow.sweep`
into ``<out>/ablation_store/`` (resumable) on ``--workers`` local processes. Writes
``<out>/ablation.json`` and ``.md``. Run: ``python benchmarks/paper/ablation.py [--workers K]``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import gradflow as gf
from gradflow.systems.paper.reduced import NAMES

HEAD = ("alpha3", "beta2", "gamma3")
NS = (1024, 4096, 16384)
#: the pseudo-parameters that move in the full flow besides the head (α2, β3, β5 … β9 do not)
MOVING = ("alpha1", "beta1", "beta4", "beta10", "beta11", "beta12", "gamma1", "gamma2", "gamma4")
SETS = ({"head": HEAD}
        | {f"head + {p}": HEAD + (p,) for p in MOVING}
        | {"head + gamma2 + gamma4": HEAD + ("gamma2", "gamma4"),
           "all but gamma4": tuple(n for n in NAMES if n != "gamma4"),
           "all 19": tuple(NAMES)})


def study() -> list[dict]:
    return [{"system": "paper", "N": N, "query": "last", "params": list(params)}
            for params in SETS.values() for N in NS]


def analyse(rows) -> dict:
    out = {}
    for name, params in SETS.items():
        mine = [r for r in rows if tuple(r["inputs"]["params"]) == params]
        T = {k: [f(r["emergence"]) for r in mine] for k, f in (
            ("beta2", lambda e: e["t_p"]["beta2"]["0.5"]), ("alpha3", lambda e: e["t_p"]["alpha3"]["0.5"]),
            ("loss", lambda e: e["T_loss"]))}
        slopes = {k: [math.log(v[i + 1] / v[i]) / math.log(NS[i + 1] / NS[i]) for i in range(len(NS) - 1)]
                  for k, v in T.items()}
        last = mine[-1]
        out[name] = {"params": list(params), "order": last["order"], "status": [r["status"] for r in mine],
                     "T_beta_over_N2": T["beta2"][-1] / NS[-1] ** 2, "T_alpha_over_N2": T["alpha3"][-1] / NS[-1] ** 2,
                     "slopes": slopes, "T": T, "seconds": sum(r["wall_seconds"] for r in mine)}
    return out


def table(d: dict) -> str:
    a = d["analysis"]
    lines = [f"| free pseudo-parameters | order (N = {NS[-1]}) | T_β/N² | T_α/N² | slopes T_β | slopes T_α | slopes T_loss |",
             "|---|---|---:|---:|---|---|---|"]
    for name, x in a.items():
        order = " → ".join(x["order"])
        s = {k: ", ".join(f"{v:.3f}" for v in x["slopes"][k]) for k in ("beta2", "alpha3", "loss")}
        lines.append(f"| {name} | {order} | {x['T_beta_over_N2']:.4f} | {x['T_alpha_over_N2']:.4f} | "
                     f"{s['beta2']} | {s['alpha3']} | {s['loss']} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "paper")
    p.add_argument("--workers", type=int, default=2, help="local worker processes")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = gf.sweep(study(), args.out / "ablation_store", workers=args.workers)
    d = {"meta": {"Ns": list(NS), "seconds": time.perf_counter() - start, "workers": args.workers,
                  "solve_seconds": sum(r["wall_seconds"] for r in rows), "date": time.strftime("%Y-%m-%d")},
         "analysis": analyse(rows)}
    (args.out / "ablation.json").write_text(json.dumps(d, indent=1) + "\n")
    (args.out / "ablation.md").write_text("# paper: the head with more pseudo-parameters (query last)\n\n"
                                          + table(d) + "\n")
    print(table(d))


if __name__ == "__main__":
    main()
