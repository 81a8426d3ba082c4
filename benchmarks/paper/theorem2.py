"""Theorem 2 of the seed paper, measured: T_γ, T_β, T_α (Definition 1, thresholds 0.5 and 0.1), the
loss-based time and t_ICL for N = 4 … n_max (default 2²⁵), query last, the 19-parameter θ-flow (key
sums by quadrature above N = 65536) and the 3-parameter one up to 2²³ (beyond, its emergence's
transient at t ≈ 10¹⁵ needs steps below float64's resolution of t); the uniform query (O(N²) per
evaluation) up to N = 128; local log-log slopes and the derived constants (derivations/paper/).

The solves run through :func:`gradflow.sweep` into the store ``<out>/theorem2_store/`` (one JSON
file per run; an interrupted study resumes, a finished one is redrawn without solving) on the local
workers (``--workers``, default 2). Writes ``<out>/theorem2.json``, ``.md`` and ``theorem2.png``.
Run: ``python benchmarks/paper/theorem2.py [--n-max 33554432] [--workers K] [--figures-only]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import gradflow as gf
from gradflow.result import json_ready
from gradflow.systems.paper.derive import limit_constants

HEAD = ("gamma3", "beta2", "alpha3")
POWER = {"gamma3": 1, "beta2": 2, "alpha3": 2}
PARAMS = {"3": ("alpha3", "beta2", "gamma3"), "19": None}
UNIFORM_N_MAX = {"3": 128, "19": 128}
LAST_N_MAX = {"3": 2 ** 23, "19": 2 ** 25}


def study(n_max: int) -> list[dict]:
    """The runs of the study, as solve keyword dicts (small N first)."""
    Ns = [2 ** k for k in range(2, int(np.log2(n_max)) + 1)]
    return [{"system": "paper", "N": N, "query": query, "params": PARAMS[system]}
            for query in ("last", "uniform") for system in PARAMS for N in Ns
            if N <= (LAST_N_MAX if query == "last" else UNIFORM_N_MAX)[system]]


def from_row(row: dict) -> dict:
    """A sweep row in the study's own format."""
    run, e = row["inputs"], row["emergence"]
    return {"N": run["N"], "query": run["query"], "system": "19" if run["params"] is None else "3",
            "status": row["status"], "order": row["order"], "t_p": {n: e["t_p"][n] for n in HEAD},
            "T_loss": e["T_loss"], "t_ICL": e["t_ICL"], "moved": row["moved"], "rank": row["rank"],
            "nfev": row["stats"]["nfev"], "seconds": row["wall_seconds"]}


def slopes(rows, key):
    Ns = np.array([x["N"] for x in rows], float)
    T = np.array([key(x) for x in rows], float)
    return (np.sqrt(Ns[1:] * Ns[:-1])).tolist(), (np.diff(np.log(T)) / np.diff(np.log(Ns))).tolist()


#: the local slopes fitted by s(N) = s∞ − k/(ln N + d) from this N (midpoint) on
FIT_FROM_N = 8192


def limit_fit(mid, slope) -> dict | None:
    """Least-squares fit of the local slopes s(N) = s∞ − k/(ln N + d) over N ≥ FIT_FROM_N: an
    extrapolation (s∞ with its standard error from the fit's covariance and the largest residual);
    k = 1 and s∞ = 2 is the law N²/(ln N + d). None with fewer than 5 slopes or no convergence."""
    from scipy.optimize import curve_fit
    mid, slope = np.asarray(mid), np.asarray(slope)
    keep = mid >= FIT_FROM_N
    if keep.sum() < 5:
        return None

    def model(x, s_inf, k, d):
        return s_inf - k / (np.log(x) + d)
    try:
        p, cov = curve_fit(model, mid[keep], slope[keep], p0=(2.0, 1.0, 0.0), maxfev=20000)
    except RuntimeError:
        return None
    return {"s_inf": p[0], "s_inf_se": float(np.sqrt(cov[0, 0])), "k": p[1], "d": p[2], "points": int(keep.sum()),
            "max_residual": float(np.max(np.abs(slope[keep] - model(mid[keep], *p))))}


def analyse(runs):
    C = {k: v[1] for k, v in limit_constants().items()}
    out = {}
    for query in ("last", "uniform"):
        for system in PARAMS:
            rows = [x for x in runs if x["query"] == query and x["system"] == system]
            if not rows:
                continue
            a = {}
            for n in HEAD:
                for c in ("0.5", "0.1"):
                    mid, sl = slopes(rows, lambda x: x["t_p"][n][c])
                    last = rows[-1]
                    a[f"{n}({c})"] = {"slope_mid_N": mid, "local_slope": sl,
                                      "ratio_at_largest_N": last["t_p"][n][c] / last["N"] ** POWER[n],
                                      "limit_fit": limit_fit(mid, sl) if POWER[n] == 2 else None}
            mid, sl = slopes(rows, lambda x: x["T_loss"])
            a["T_loss"] = {"slope_mid_N": mid, "local_slope": sl, "ratio_at_largest_N": rows[-1]["T_loss"] / rows[-1]["N"] ** 2,
                           "limit_fit": limit_fit(mid, sl)}
            out[f"{query}/{system}"] = a
    out["derived"] = C
    return out


def table(data) -> str:
    C = data["analysis"]["derived"]
    lines = []
    for cfg in ("last/3", "last/19", "uniform/3", "uniform/19"):
        rows = [x for x in data["runs"] if f"{x['query']}/{x['system']}" == cfg]
        if not rows:
            continue
        lines += [f"\n{cfg}: T_γ = t_γ3(0.5), T_β = t_β2(0.5), T_α = t_α3(0.5), T_loss (𝓛 < ¼); in brackets the local "
                  "slope from the previous N; order by t_p(0.5)", "",
                  "| N | T_γ | T_β | T_α | T_loss | order |", "|---:|---:|---:|---:|---:|---|"]
        prev = None
        for x in rows:
            cells = []
            for v in (x["t_p"]["gamma3"]["0.5"], x["t_p"]["beta2"]["0.5"], x["t_p"]["alpha3"]["0.5"], x["T_loss"]):
                cells.append(f"{v:.5g}")
            if prev is not None:
                pv = (prev["t_p"]["gamma3"]["0.5"], prev["t_p"]["beta2"]["0.5"], prev["t_p"]["alpha3"]["0.5"], prev["T_loss"])
                cells = [f"{c} ({np.log(v / p) / np.log(x['N'] / prev['N']):.3f})" for c, v, p in
                         zip(cells, (x["t_p"]["gamma3"]["0.5"], x["t_p"]["beta2"]["0.5"], x["t_p"]["alpha3"]["0.5"], x["T_loss"]), pv)]
            lines.append(f"| {x['N']} | " + " | ".join(cells) + f" | {' → '.join(x['order'])} |")
            prev = x
        a = data["analysis"][cfg]
        if cfg != "last/3":                  # the constants are derived for the three-parameter system only
            lines += ["", f"At N = {rows[-1]['N']}: " + ", ".join(
                f"t_{n}({c})/N^{POWER[n]} = {a[f'{n}({c})']['ratio_at_largest_N']:.4g}"
                for n in HEAD for c in ("0.5", "0.1")) + f", T_loss/N² = {a['T_loss']['ratio_at_largest_N']:.4g} "
                "(no closed form derived)."]
            continue
        lines += ["", "| time | ratio T/N^p at the largest N | derived constant | relative gap |", "|---|---:|---:|---:|"]
        for n, cname in (("gamma3", "C_gamma"), ("beta2", "C_beta"), ("alpha3", "C_alpha")):
            for c in ("0.5", "0.1"):
                ratio = a[f"{n}({c})"]["ratio_at_largest_N"]
                derived = C[f"{cname}({c})"]
                lines.append(f"| t_{n}({c}) / N^{POWER[n]} | {ratio:.6g} | {derived:.6g} | {ratio / derived - 1:+.1e} |")
        lines.append(f"| T_loss / N² | {a['T_loss']['ratio_at_largest_N']:.6g} | τ* = {C['tau_star']:.6g} | "
                     f"{a['T_loss']['ratio_at_largest_N'] / C['tau_star'] - 1:+.1e} |")
    return "\n".join(lines) + "\n"


def figure(data, out: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, sx) = plt.subplots(1, 2, figsize=(11, 4.2))
    C = data["analysis"]["derived"]
    colours = {"gamma3": "C2", "beta2": "C1", "alpha3": "C0"}
    greek = {"gamma3": "γ3", "beta2": "β2", "alpha3": "α3"}
    for cfg, style in (("last/3", "-"), ("last/19", "--")):
        rows = [x for x in data["runs"] if f"{x['query']}/{x['system']}" == cfg]
        Ns = np.array([x["N"] for x in rows])
        for n in HEAD:
            T = np.array([x["t_p"][n]["0.5"] for x in rows])
            ax.loglog(Ns, T, style, color=colours[n], marker="o", ms=3, label=f"T({greek[n]}), {cfg}")
            mid, sl = slopes(rows, lambda x: x["t_p"][n]["0.5"])
            sx.semilogx(mid, sl, style, color=colours[n], marker="o", ms=3)
    Ns = np.array(sorted({x["N"] for x in data["runs"]}), float)
    ax.loglog(Ns, C["C_gamma(0.5)"] * Ns, ":", color="C2", lw=1, label="2 ln2 · N (derived)")
    ax.loglog(Ns, C["C_beta(0.5)"] * Ns ** 2, ":", color="C1", lw=1, label="1.9197 N² (derived)")
    ax.loglog(Ns, C["C_alpha(0.5)"] * Ns ** 2, ":", color="C0", lw=1, label="3.4225 N² (derived)")
    ax.set_xlabel("N")
    ax.set_ylabel("t_p(0.5)")
    ax.set_title("paper system, query last: solid 3 parameters, dashed 19", fontsize=9)
    ax.legend(fontsize=6.5, ncol=2)
    for y in (1, 2):
        sx.axhline(y, color="0.6", lw=0.7, ls=":")
    sx.set_xlabel("N (midpoint)")
    sx.set_ylabel("local slope d ln T / d ln N")
    fig.tight_layout()
    fig.savefig(out / "theorem2.png", dpi=120)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-max", type=int, default=2 ** 25)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "paper")
    p.add_argument("--workers", type=int, default=2, help="local worker processes")
    p.add_argument("--figures-only", action="store_true", help="redraw from <out>/theorem2.json")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.figures_only:
        data = json.loads((args.out / "theorem2.json").read_text())
    else:
        start = time.perf_counter()
        rows = gf.sweep(study(args.n_max), args.out / "theorem2_store", workers=args.workers)
        runs = [from_row(r) for r in rows]
        data = json_ready({"meta": {"n_max": args.n_max, "seconds": time.perf_counter() - start,
                                    "solve_seconds": sum(r["seconds"] for r in runs), "workers": args.workers,
                                    "date": time.strftime("%Y-%m-%d"), "method": "LSODA", "rtol": 1e-8, "atol": 1e-10},
                           "runs": runs, "analysis": analyse(runs)})
        (args.out / "theorem2.json").write_text(json.dumps(data, indent=1))
    (args.out / "theorem2.md").write_text(table(data))
    figure(data, args.out)
    print(table(data))


if __name__ == "__main__":
    main()
