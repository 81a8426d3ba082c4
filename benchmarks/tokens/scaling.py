"""Emergence-time scaling study: does T(N) grow as N², or as N²/√(ln N)?

Solves both flows (theta, weights), the 19- and the 3-parameter systems, for L = N + 1 and
L = 2N (K = N), N = 4, 8, …, --n-max, and writes

* ``<out>/scaling.json``: every number (T, T_tenth, t_p(c) of every pseudo-parameter, order,
  solver statistics, local slopes, fits);
* ``<out>/scaling_T.png``: log-log T(N) with an N² guide and the local slopes;
* ``<out>/scaling_params.png``: emergence times of γ3, β2, α3 against N;
* ``<out>/takeover_L2N.png``: the L = 2N trajectories at N = 64 (the pseudo-parameters that
  take over before the induction head).

The solves run through :func:`gradflow.sweep` (store ``<out>/scaling_store``: an interrupted study
resumes). Run: ``python benchmarks/tokens/scaling.py [--n-max 2048] [--out benchmarks/results/tokens]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

import gradflow as gf
from gradflow.result import json_ready

HEAD = ("gamma3", "beta2", "alpha3")
SYSTEMS = {"19": None, "3": ("alpha3", "beta2", "gamma3")}
L_RULES = {"N+1": lambda N: N + 1, "2N": lambda N: 2 * N}
FLOWS = ("theta", "weights")


def key(flow, system, rule):
    return f"{flow}/{system}/L={rule}"


def arr(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def fmt(x, spec):
    return "—" if x is None else format(x, spec)


def local_slopes(Ns, Ts):
    """d ln T / d ln N between consecutive N, at the geometric midpoints."""
    Ns, Ts = np.asarray(Ns, float), np.asarray(Ts, float)
    return np.sqrt(Ns[1:] * Ns[:-1]), np.diff(np.log(Ts)) / np.diff(np.log(Ns))


def decade_fits(Ns, Ts):
    """Over the largest decade of N: the log-log slope, and p of T ∝ N² (ln N)^p."""
    Ns, Ts = np.asarray(Ns, float), np.asarray(Ts, float)
    sel = (Ns >= Ns.max() / 10) & np.isfinite(Ts)
    if sel.sum() < 2:
        return {"N_range": None, "slope": float("nan"), "p_log": float("nan")}
    slope = np.polyfit(np.log(Ns[sel]), np.log(Ts[sel]), 1)[0]
    p = np.polyfit(np.log(np.log(Ns[sel])), np.log(Ts[sel] / Ns[sel] ** 2), 1)[0]
    return {"N_range": [float(Ns[sel].min()), float(Ns[sel].max())], "slope": float(slope), "p_log": float(p)}


def study(n_max, method, rtol, atol) -> list[dict]:
    """The study's runs as solve keyword dicts, small N first. The θ-flow gives up at 1000·N², the
    weight flow at 1000·N³ (their natural time scales)."""
    Ns = [int(2 ** k) for k in range(2, int(np.log2(n_max)) + 1)]
    return [{"system": "tokens", "N": N, "L": Lf(N), "flow": flow, "params": params, "method": method,
             "rtol": rtol, "atol": atol, "t_limit": 1e3 * N ** (2 if flow == "theta" else 3)}
            for N in Ns for rule, Lf in L_RULES.items() for flow in FLOWS for params in SYSTEMS.values()]


def from_row(row: dict) -> dict:
    """A sweep row in the study's own format."""
    x, e = row["inputs"], row["emergence"]
    return {"N": x["N"], "K": x["N"], "L": x["L"], "rule": "N+1" if x["L"] == x["N"] + 1 else "2N",
            "flow": x["flow"], "system": "19" if x["params"] is None else "3", "T": e["T"],
            "T_tenth": e["T_tenth"], "t_p": e["t_p"], "order": row["order"], "status": row["status"],
            "message": row["message"], "stats": row["stats"], "t_limit": x["t_limit"],
            "final_loss": row["final_loss"], "final_theta": row["final_theta"]}


def run(n_max, method, rtol, atol, out: Path, workers: int = 2):
    """Every run through gradflow.sweep into ``<out>/scaling_store`` (resumable; one JSON file per run)."""
    start = time.perf_counter()
    rows = gf.sweep(study(n_max, method, rtol, atol), out / "scaling_store", workers=workers)
    runs = [from_row(r) for r in rows]
    total_seconds = time.perf_counter() - start
    tolerance = tolerance_check(runs, method, rtol, atol, sorted({min(64, n_max), min(256, n_max)}))
    analysis = {}
    for rule in L_RULES:
        for flow in FLOWS:
            for system in SYSTEMS:
                rows = [x for x in runs if (x["rule"], x["flow"], x["system"]) == (rule, flow, system)]
                Ns_ = [x["N"] for x in rows]
                Ts_ = [x["T"] for x in rows]
                mid, sl = local_slopes(Ns_, Ts_)
                analysis[key(flow, system, rule)] = {
                    "N": Ns_, "T": Ts_, "slope_mid_N": mid.tolist(), "local_slope": sl.tolist(),
                    # the heuristic T ∝ N²/√(ln N) has local slope 2 − 1/(2 ln N)
                    "heuristic_slope": (2 - 1 / (2 * np.log(mid))).tolist(),
                    "largest_decade": decade_fits(Ns_, Ts_)}
    return {"meta": {"n_max": n_max, "method": method, "rtol": rtol, "atol": atol,
                     "total_seconds": total_seconds, "python": platform.python_version(),
                     "machine": platform.machine(), "date": time.strftime("%Y-%m-%d")},
            "tolerance_check": tolerance, "runs": runs, "analysis": analysis}


def tolerance_check(runs, method, rtol, atol, Ns):
    """Re-solve every emerged configuration at these N with rtol/10: the largest relative
    change of T(N) bounds the integration error in the study's T (timed apart from it)."""
    changes = []
    for x in runs:
        if x["N"] in Ns and x["status"] == "emerged":
            r = gf.solve(x["N"], system="tokens", L=x["L"], flow=x["flow"], params=SYSTEMS[x["system"]], method=method,
                         rtol=rtol / 10, atol=atol / 10)
            changes.append(abs(r.emergence["T"] / x["T"] - 1))
    print(f"tolerance check: {len(changes)} solves at rtol/10 change T by at most {max(changes):.2e}",
          file=sys.stderr, flush=True)
    return {"N": list(Ns), "rtol_ref": rtol / 10, "atol_ref": atol / 10, "n_solves": len(changes),
            "max_rel_change_T": max(changes)}


def table(data) -> str:
    """Markdown table of T(N) and local slopes for every configuration."""
    lines = []
    for name, a in data["analysis"].items():
        fit = a["largest_decade"]
        rng = fit["N_range"] or [None, None]
        lines += [f"\n{name}: slope over N in [{fmt(rng[0], 'g')}, {fmt(rng[1], 'g')}] = "
                  f"{fmt(fit['slope'], '.3f')};  T ∝ N²(ln N)^p with p = {fmt(fit['p_log'], '.3f')}",
                  "| N | T(N) | local slope | 2 − 1/(2 ln N) |", "|---:|---:|---:|---:|"]
        for k, (N, T) in enumerate(zip(a["N"], a["T"])):
            s = fmt(a["local_slope"][k - 1], ".3f") if k else ""
            h = fmt(a["heuristic_slope"][k - 1], ".3f") if k else ""
            lines.append(f"| {N} | {fmt(T, '.6g')} | {s} | {h} |")
    return "\n".join(lines)


def param_table(data, flow="theta", system="19", rule="N+1") -> str:
    rows = [x for x in data["runs"] if (x["flow"], x["system"], x["rule"]) == (flow, system, rule)]
    lines = [f"\nParameter times t_p(c), {flow} flow, {system} parameters, L = {rule}",
             "| N | " + " | ".join(f"t_{n}(0.1) | t_{n}(1)" for n in HEAD) + " | T(N) | order |",
             "|---:|" + "---:|" * 8 + "---|"]
    for x in rows:
        cells = [fmt(x["t_p"][n][c], ".5g") for n in HEAD for c in ("0.1", "1")]
        lines.append(f"| {x['N']} | " + " | ".join(cells) + f" | {fmt(x['T'], '.5g')} | {' → '.join(x['order'])} |")
    return "\n".join(lines)


def figures(data, out: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    styles = {"theta": "-", "weights": "--"}
    colours = {("19", "N+1"): "C0", ("3", "N+1"): "C1", ("19", "2N"): "C2", ("3", "2N"): "C3"}
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.8))
    for name, a in data["analysis"].items():
        flow, system, rule = name.split("/")
        rule = rule[2:]
        c = colours[(system, rule)]
        ax.loglog(a["N"], arr(a["T"]), styles[flow], marker="o", ms=3, color=c, label=name)
        bx.semilogx(a["slope_mid_N"], arr(a["local_slope"]), styles[flow], marker="o", ms=3, color=c, label=name)
    N = np.array(data["analysis"][key("theta", "19", "N+1")]["N"], float)
    T = arr(data["analysis"][key("theta", "19", "N+1")]["T"])
    ax.loglog(N, T[-1] * (N / N[-1]) ** 2, "k:", lw=1, label="∝ N² (guide)")
    ax.set_xlabel("N")
    ax.set_ylabel("T(N): first t with loss < ½ log N")
    ax.legend(fontsize=7, ncol=2)
    mid = np.geomspace(6, N[-1], 100)
    for s in (2, 3):
        bx.axhline(s, color="k", lw=0.6, ls=":")
    bx.semilogx(mid, 2 - 1 / (2 * np.log(mid)), "k-", lw=0.8, label="2 − 1/(2 ln N): N²/√ln N")
    bx.set_xlabel("N (geometric midpoint)")
    bx.set_ylabel("local slope d ln T / d ln N")
    bx.set_ylim(0.5, 4)
    bx.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "scaling_T.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=False)
    for ax, flow in zip(axes, FLOWS):
        rows = [x for x in data["runs"] if (x["flow"], x["system"], x["rule"]) == (flow, "19", "N+1")]
        Ns = [x["N"] for x in rows]
        for n, c in zip(HEAD, ("C2", "C1", "C0")):
            ax.loglog(Ns, arr([x["t_p"][n]["0.1"] for x in rows]), "-o", ms=3, color=c, label=f"t_{n}(0.1)")
            ax.loglog(Ns, arr([x["t_p"][n]["1"] for x in rows]), "--s", ms=3, color=c, label=f"t_{n}(1)")
        ax.loglog(Ns, arr([x["T"] for x in rows]), "k-", lw=2, label="T(N)")
        ax.set_title(f"{flow} flow, 19 pseudo-parameters, L = N + 1")
        ax.set_xlabel("N")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "scaling_params.png", dpi=120)
    plt.close(fig)


def takeover_figure(out: Path, N=64):
    """L = 2N: the 19-parameter θ-flow against the 3-parameter subsystem at N = 64."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    full = gf.solve(N, system="tokens", L=2 * N)
    three = gf.solve(N, system="tokens", L=2 * N, params=SYSTEMS["3"])
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    big = [k for k in range(19) if np.max(np.abs(full.theta[:, k])) > 1.0]
    colours = plt.cm.tab20(np.linspace(0, 1, len(big)))
    for k, colour in zip(big, colours):
        head = gf.NAMES[k] in HEAD
        ax.plot(full.t[1:], full.theta[1:, k], label=gf.NAMES[k], color=colour, lw=2.5 if head else 1,
                ls="-" if head else "--")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylabel("pseudo-parameter (|θ| > 1 at some t)")
    ax.legend(fontsize=7, ncol=3)
    ax.set_title(f"L = 2N, N = {N}: 19-parameter θ-flow (induction head at T = {full.emergence['T']:.4g}) "
                 f"vs 3-parameter (T = {three.emergence['T']:.4g})", fontsize=9)
    bx.plot(full.t[1:], full.loss[1:], "k", label="19 parameters")
    bx.plot(three.t[1:], three.loss[1:], "C1", label="3 parameters (α3, β2, γ3)")
    bx.axhline(0.5 * np.log(N), color="0.5", ls="--", lw=0.8)
    bx.axhline(np.log(N), color="0.5", ls=":", lw=0.8)
    bx.set_xscale("log")
    bx.set_xlabel("t")
    bx.set_ylabel("loss")
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "takeover_L2N.png", dpi=120)
    plt.close(fig)
    peak = {gf.NAMES[k]: float(full.theta[np.argmax(np.abs(full.theta[:, k])), k]) for k in big}
    plateau = int(np.argmin(np.abs(full.t - 0.5 * full.emergence["T"])))
    return {"N": N, "T_19": full.emergence["T"], "T_3": three.emergence["T"],
            "ratio": full.emergence["T"] / three.emergence["T"], "peak_theta": peak,
            "loss_at_half_T": float(full.loss[plateau]), "theta_at_half_T": dict(zip(gf.NAMES, full.theta[plateau].tolist()))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-max", type=int, default=2048, help="largest N (a power of two >= 16)")
    p.add_argument("--method", default="LSODA", choices=("Radau", "BDF", "LSODA"))
    p.add_argument("--rtol", type=float, default=1e-6)
    p.add_argument("--atol", type=float, default=1e-10)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "tokens")
    p.add_argument("--figures-only", action="store_true", help="redraw the figures from <out>/scaling.json")
    p.add_argument("--workers", type=int, default=2, help="local worker processes of gradflow.sweep")
    args = p.parse_args(argv)
    if args.figures_only:
        data = json.loads((args.out / "scaling.json").read_text())
        takeover_figure(args.out)
        figures(data, args.out)
        return
    if args.n_max < 16 or args.n_max & (args.n_max - 1):
        p.error("--n-max must be a power of two >= 16")
    args.out.mkdir(parents=True, exist_ok=True)
    data = run(args.n_max, args.method, args.rtol, args.atol, args.out, args.workers)
    data["takeover_L2N"] = takeover_figure(args.out)
    data = json_ready(data)
    (args.out / "scaling.json").write_text(json.dumps(data, indent=1, allow_nan=False))
    figures(data, args.out)
    report = table(data) + "\n" + param_table(data) + "\n" + param_table(data, flow="weights")
    (args.out / "scaling.md").write_text(report + "\n")
    print(report)
    print(f"\ntotal {data['meta']['total_seconds']:.0f} s; wrote {args.out}/scaling.json, scaling.md and figures")


if __name__ == "__main__":
    main()
