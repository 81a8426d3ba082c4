"""The paper system's key sums by quadrature against the exact sums, and what it buys at large N.

(a) N = 4096, 16384, 65536, the 19-parameter flow, query last: the exact and the quadrature solve at
    the default tolerances and, for N ≤ 16384, at rtol 1e-11 (where the integrator's own error is far
    below 1e-8; at N = 65536 the exact solve at rtol 1e-11 ran for over 30 minutes and was stopped):
    the largest relative difference of the Definition-1 times (0.1 and 0.5 of α3, β2, γ3), t_ICL and
    T_loss; along the exact trajectory (every 25th step) the loss's relative error and the
    gradient's and Hessian's largest error against their largest entry.
(b) N = 2¹⁷ … 2²⁰ and 10⁶ with the default sums ("auto": quadrature above 65536): wall time of the
    solve, right-hand sides, Jacobians, the rule's size and its stated bound.

Writes benchmarks/results/paper/quadrature.json and .md. Run: ``python benchmarks/paper/quadrature.py``
(about 6 minutes).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import gradflow as gf
from gradflow.result import json_ready
from gradflow.systems.paper import reduced
from gradflow.systems.paper.quadrature import EXACT, NODES, RATIO, bound, rule

OUT = Path(__file__).resolve().parents[1] / "results" / "paper"
TIMES = [("t_ICL", None), ("T_loss", None)] + [(n, c) for n in ("alpha3", "beta2", "gamma3") for c in ("0.1", "0.5")]


def _times(r) -> dict:
    e = r.emergence
    return {(k if c is None else f"t_{k}({c})"): (e[k] if c is None else e["t_p"][k][c]) for k, c in TIMES}


def _diff(a: dict, b: dict) -> float:
    return max(abs(b[k] - a[k]) / abs(a[k]) for k in a)


def agreement(N: int, tight: bool = True) -> dict:
    out = {"N": N}
    for label, kw in (("default", {}), ("tight", {"rtol": 1e-11, "atol": 1e-13}))[:2 if tight else 1]:
        runs = {}
        for sums in ("exact", "quadrature"):
            start = time.perf_counter()
            r = gf.solve(N, system="paper", sums=sums, **kw)
            runs[sums] = r
            out[f"{label}_{sums}_seconds"] = time.perf_counter() - start
            out[f"{label}_{sums}_nfev"] = r.stats["nfev"]
        out[f"{label}_max_rel_diff"] = _diff(_times(runs["exact"]), _times(runs["quadrature"]))
        if label == "default":
            exact = runs["exact"]
    out.update(trajectory_errors(N, exact))
    return out


def trajectory_errors(N: int, exact) -> dict:
    """Quadrature against exact sums at every 25th step of the exact solve: the loss's relative
    error where 𝓛 ≥ 1e-8 (below, both are at rounding: their absolute difference is reported), the
    gradient's and the Hessian's largest error over their largest entry along the whole trajectory."""
    loss_rel = loss_abs = 0.0
    dg = dh = g_scale = h_scale = 0.0
    for theta in exact.theta[::25]:
        l0, g0 = reduced.loss_and_grad(theta, N)
        l1, g1 = reduced.loss_and_grad(theta, N, sums="quadrature")
        H0, H1 = reduced.hessian(theta, N), reduced.hessian(theta, N, sums="quadrature")
        if l0 >= 1e-8:
            loss_rel = max(loss_rel, abs(l1 - l0) / l0)
        else:
            loss_abs = max(loss_abs, abs(l1 - l0))
        dg, g_scale = max(dg, np.abs(g1 - g0).max()), max(g_scale, np.abs(g0).max())
        dh, h_scale = max(dh, np.abs(H1 - H0).max()), max(h_scale, np.abs(H0).max())
    return {"trajectory_loss": loss_rel, "trajectory_loss_abs_below_1e-8": loss_abs, "trajectory_grad": dg / g_scale,
            "trajectory_hess": dh / h_scale, "trajectory_points": len(exact.theta[::25])}


def large(N: int) -> dict:
    start = time.perf_counter()
    r = gf.solve(N, system="paper")
    seconds = time.perf_counter() - start
    q = rule(N)
    return {"N": N, "seconds": seconds, "nfev": r.stats["nfev"], "njev": r.stats["njev"], "status": r.status,
            "keys": q.size, "bound": bound(q), "sums": r.system.sums, **_times(r)}


def table(data: dict) -> str:
    m = data["meta"]
    L = [f"Key sums by quadrature (exact keys 1 … {m['exact']} and N; panels b ≤ {m['ratio']}·a with "
         f"{m['nodes']} integer nodes). Measured {m['date']} on {m['machine']}.", "",
         "(a) against the exact sums, 19 parameters, query last: largest relative difference of the 8 "
         "emergence times; along the exact trajectory (every 25th step) the loss's relative error where 𝓛 ≥ 1e-8 "
         "(in brackets the absolute difference below), and the gradient's and Hessian's largest error over their "
         "largest entry along the trajectory", "",
         "| N | times, default tol | times, rtol 1e-11 | loss | gradient | Hessian | exact s | quadrature s |",
         "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in data["agreement"]:
        tight = f"{x['tight_max_rel_diff']:.1e}" if "tight_max_rel_diff" in x else "–"
        L.append(f"| {x['N']} | {x['default_max_rel_diff']:.1e} | {tight} | "
                 f"{x['trajectory_loss']:.1e} ({x['trajectory_loss_abs_below_1e-8']:.1e}) | {x['trajectory_grad']:.1e} | {x['trajectory_hess']:.1e} | "
                 f"{x['default_exact_seconds']:.1f} | {x['default_quadrature_seconds']:.2f} |")
    L += ["", "(b) large N, default sums (quadrature above N = 65536): one solve of the 19-parameter flow "
          "to twice t_ICL", "",
          "| N | seconds | right-hand sides | Jacobians | keys | stated bound | t_ICL |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for x in data["large"]:
        L.append(f"| {x['N']} | {x['seconds']:.1f} | {x['nfev']} | {x['njev']} | {x['keys']} | {x['bound']:.1e} | "
                 f"{x['t_ICL']:.6g} |")
    return "\n".join(L) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--table-only", action="store_true", help="redraw the table from <out>/quadrature.json")
    p.add_argument("--trajectory-only", action="store_true",
                   help="recompute only the trajectory errors of (a) into <out>/quadrature.json")
    args = p.parse_args(argv)
    if args.table_only or args.trajectory_only:
        data = json.loads((args.out / "quadrature.json").read_text())
        if args.trajectory_only:
            for x in data["agreement"]:
                x.update(trajectory_errors(x["N"], gf.solve(x["N"], system="paper", sums="exact")))
            (args.out / "quadrature.json").write_text(json.dumps(json_ready(data), indent=1))
    else:
        gf.solve(2 ** 17, system="paper", t_max=1.0)          # compile outside the timings
        data = {"meta": {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {platform.python_version()}",
                         "exact": EXACT, "nodes": NODES, "ratio": RATIO},
                "agreement": [agreement(N, tight=N <= 16384) for N in (4096, 16384, 65536)],
                "large": [large(N) for N in (2 ** 17, 2 ** 18, 2 ** 19, 2 ** 20, 10 ** 6)]}
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "quadrature.json").write_text(json.dumps(json_ready(data), indent=1))
    (args.out / "quadrature.md").write_text(table(data))
    print(table(data))


if __name__ == "__main__":
    main()
