"""Initialisation, the reviewers' last question: training from small random weights instead of zero.

GD on the three full weight matrices of the paper's model at N = 3 (D = 8), query last, on the
8192 framed sequences of the finite group whose fixed space is the 19-dimensional span
(:func:`gradflow.systems.paper.check.frames_batch`): at invariant weights their mean gradient is the
population's, so GD from W = 0 is the weight flow's Euler scheme; from random weights it is GD on
that finite data set. Starts: W = 0, and W with i.i.d. N(0, σ²/fan-in) entries (fan-in: the
matrix's column count) for σ = 10⁻³ … 1 and 4 seeds each, all at the same step η = 8 (weight-flow
time; θ-time t/D). Recorded along training: the fraction of the weights outside the span,
‖W − P W‖/‖W‖; T_β and T_α, the first weight-flow times at which β2 and α3 (the projections on
their basis matrices) reach 0.5. The σ below which every seed's T_β and T_α are within 1 % of the
start from zero is reported.

Writes benchmarks/results/paper/initialisation.json, .md and .png. Run:
``OMP_NUM_THREADS=1 python benchmarks/paper/initialisation.py`` (about 5 minutes).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from gradflow.result import json_ready
from gradflow.systems.paper import reference as ref
from gradflow.systems.paper.check import D_CHECK, N_CHECK, frames_batch
from gradflow.systems.paper.reduced import NAMES

OUT = Path(__file__).resolve().parents[1] / "results" / "paper"
SIGMAS = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
SEEDS = 4
ETA = 8.0
T_END = 1200.0
WATCH = {"beta2": NAMES.index("beta2"), "alpha3": NAMES.index("alpha3")}


def shapes():
    D = D_CHECK
    return ((2 * D, 2 * D), (4 * D, 4 * D), (D, 8 * D))


def run(W, E, Y, target) -> dict:
    """GD from W until both watched pseudo-parameters reached 0.5 (or T_END): their crossing times
    (linear interpolation between steps) and the off-span fraction at every step."""
    times = {k: None for k in WATCH}
    prev = None
    off = []
    steps = int(T_END / ETA)
    for step in range(steps + 1):
        theta, resid = ref.project(W, D_CHECK)
        off.append(resid)
        for k, i in WATCH.items():
            if times[k] is None and prev is not None and theta[i] >= 0.5 > prev[i]:
                times[k] = ETA * (step - 1 + (0.5 - prev[i]) / (theta[i] - prev[i]))
        prev = theta
        if all(v is not None for v in times.values()):
            break
        _, g = ref.loss_and_grad(W, E, Y, target=target)
        W = [Wi - ETA * gi for Wi, gi in zip(W, g)]
    return {"T_beta": times["beta2"], "T_alpha": times["alpha3"], "off_span": off, "steps": step}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--figures-only", action="store_true")
    args = p.parse_args(argv)
    if args.figures_only:
        data = json.loads((args.out / "initialisation.json").read_text())
    else:
        start = time.perf_counter()
        E, Y, target, _ = frames_batch("last")
        zero = run([np.zeros(s) for s in shapes()], E, Y, target)
        rows = []
        for sigma in SIGMAS:
            for seed in range(SEEDS):
                rng = np.random.default_rng(seed)
                W = [rng.normal(size=s) * sigma / np.sqrt(s[1]) for s in shapes()]
                r = run(W, E, Y, target)
                rows.append({"sigma": sigma, "seed": seed, **r})
                print(f"sigma {sigma:g} seed {seed}: T_beta {r['T_beta']}, T_alpha {r['T_alpha']}, "
                      f"off-span {r['off_span'][0]:.3g} -> {r['off_span'][-1]:.3g}", flush=True)
        data = json_ready({"meta": {"N": N_CHECK, "D": D_CHECK, "eta": ETA, "seeds": SEEDS, "sequences": len(E),
                                    "date": time.strftime("%Y-%m-%d"), "seconds": time.perf_counter() - start},
                           "zero": zero, "rows": rows})
        (args.out / "initialisation.json").write_text(json.dumps(data, indent=1))
    (args.out / "initialisation.md").write_text(table(data))
    figure(data, args.out)
    print(table(data))


def _dev(rows, zero, key):
    vals = [r[key] for r in rows]
    if any(v is None for v in vals):
        return None
    return max(abs(v / zero[key] - 1) for v in vals)


def threshold(data) -> float | None:
    """The largest σ at and below which every seed's T_β and T_α are within 1 % of the start from 0."""
    best = None
    for sigma in sorted({r["sigma"] for r in data["rows"]}):
        rows = [r for r in data["rows"] if r["sigma"] == sigma]
        devs = [_dev(rows, data["zero"], k) for k in ("T_beta", "T_alpha")]
        if any(d is None or d > 0.01 for d in devs):
            break
        best = sigma
    return best


def table(data) -> str:
    z, m = data["zero"], data["meta"]
    L = [f"GD on the full weights from random starts, paper N = {m['N']}, D = {m['D']}, query last, "
         f"{m['sequences']} framed sequences, η = {m['eta']:g} (weight-flow time), {m['seeds']} seeds per σ. "
         f"From W = 0: T_β = {z['T_beta']:.5g}, T_α = {z['T_alpha']:.5g}, off-span 0 throughout. "
         f"Largest σ with every seed's T_β and T_α within 1 % of W = 0: {threshold(data)}.", "",
         "| σ | T_β (mean ± sd) | T_α (mean ± sd) | largest relative change | off-span at start | at T_α |",
         "|---:|---:|---:|---:|---:|---:|"]
    for sigma in sorted({r["sigma"] for r in data["rows"]}):
        rows = [r for r in data["rows"] if r["sigma"] == sigma]
        cells = []
        for k in ("T_beta", "T_alpha"):
            v = np.array([r[k] for r in rows if r[k] is not None], float)
            cells.append(f"{v.mean():.5g} ± {v.std(ddof=1):.2g}" if len(v) == len(rows) else f"{len(v)}/{len(rows)} reached")
        dev = max((d for d in (_dev(rows, z, "T_beta"), _dev(rows, z, "T_alpha")) if d is not None), default=None)
        L.append(f"| {sigma:g} | {cells[0]} | {cells[1]} | {'–' if dev is None else f'{dev:.1e}'} | "
                 f"{np.mean([r['off_span'][0] for r in rows]):.3g} | {np.mean([r['off_span'][-1] for r in rows]):.3g} |")
    return "\n".join(L) + "\n"


def figure(data, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    z = data["zero"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    sig = sorted({r["sigma"] for r in data["rows"]})
    for k, style in (("T_beta", "o"), ("T_alpha", "s")):
        for sigma in sig:
            vals = [r[k] / z[k] for r in data["rows"] if r["sigma"] == sigma and r[k] is not None]
            axes[0].plot([sigma] * len(vals), vals, style, color="C0" if k == "T_beta" else "C1", alpha=0.7,
                         label=(("T_β" if k == "T_beta" else "T_α") + " / its value from W = 0") if sigma == sig[0] else None)
    axes[0].axhspan(0.99, 1.01, color="0.85", label="±1 %")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("σ (initial weights N(0, σ²/fan-in))")
    axes[0].set_ylabel("emergence time relative to W = 0")
    axes[0].legend(fontsize=8)
    for sigma in sig:
        r = next(x for x in data["rows"] if x["sigma"] == sigma)
        axes[1].semilogy(np.arange(len(r["off_span"])) * data["meta"]["eta"], np.maximum(r["off_span"], 1e-18),
                         label=f"σ = {sigma:g}")
    axes[1].set_xlabel("weight-flow time t = η·steps")
    axes[1].set_ylabel("‖W − P W‖ / ‖W‖ (off the 19-dim span)")
    axes[1].legend(fontsize=7)
    fig.suptitle(f"paper N = {data['meta']['N']}: GD from random weights against the start from zero (seed 0 on the right)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "initialisation.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
