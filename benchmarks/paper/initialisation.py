"""Initialisation, the reviewers' last question: training from small random weights instead of zero.

GD on the three full weight matrices of the paper's model, query last, at N = 3 (D = 8) and
N = 4 … 7 (D = 16), on every frame of the finite group whose fixed space is the 19-dimensional span
(:func:`gradflow.systems.paper.check.frames_batch`: 8192 framed sequences at D = 8, 131072 at
D = 16): at invariant weights their mean gradient is the population's, so GD from W = 0 is the
weight flow's Euler scheme; from random weights it is GD on that finite data set. Starts: W = 0,
and W with i.i.d. N(0, σ²/fan-in) entries (fan-in: the matrix's column count) for several σ and
seeds, all at the step η = D (weight-flow time; θ-time steps of 1). Recorded along training: the
fraction of the weights outside the span, ‖W − P W‖/‖W‖; T_β and T_α, the first weight-flow times
at which β2 and α3 (the projections on their basis matrices) reach 0.5. Per N, the σ below which
every seed's T_β and T_α are within 1 % of the start from zero is reported.

N = 8 needs D = 32 (2,097,152 frames; D = 16 holds N ≤ 7): a step costs about 3 s at N = 4
(131072 sequences of 9 tokens) and more with every N, so this benchmark stops at N = 7, with fewer
σ and seeds from N = 5 on.

Writes benchmarks/results/paper/initialisation.json, .md and .png. Run:
``python benchmarks/paper/initialisation.py`` (about 2.5 hours on 2 cores: N = 4 … 7 dominate;
an interrupted run resumes from the runs already written).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")              # before NumPy loads its BLAS: the workers share 2 cores

import numpy as np  # noqa: E402

from gradflow.result import json_ready  # noqa: E402
from gradflow.sweeps import _write_atomic  # noqa: E402
from gradflow.systems.paper import reference as ref  # noqa: E402
from gradflow.systems.paper.reduced import NAMES  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "results" / "paper"
#: N -> (D, the σ values, seeds per σ, the last weight-flow time)
CASES = {3: (8, (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0), 4, 1200.0),
         4: (16, (1e-3, 1e-2, 3e-2, 0.1, 0.3), 3, 4000.0),
         5: (16, (1e-2, 3e-2, 0.1, 0.3), 2, 6000.0),
         6: (16, (1e-2, 3e-2, 0.1), 2, 8000.0),
         7: (16, (1e-2, 3e-2, 0.1), 2, 10000.0)}
#: sequences per chunk of one gradient (the mean is taken chunk by chunk: memory)
CHUNK = 16384
WATCH = {"beta2": NAMES.index("beta2"), "alpha3": NAMES.index("alpha3")}


def shapes(D: int):
    return ((2 * D, 2 * D), (4 * D, 4 * D), (D, 8 * D))


_BATCH = {}


def _batch(N: int, D: int):
    """The framed sequences of (N, D), built once per process."""
    if (N, D) not in _BATCH:
        from gradflow.systems.paper.check import frames_batch
        _BATCH[(N, D)] = frames_batch("last", N=N, D=D)[:3]
    return _BATCH[(N, D)]


def gradient(W, E, Y, target):
    """The mean gradient over the batch, chunk by chunk."""
    total = [np.zeros_like(w) for w in W]
    for a in range(0, len(E), CHUNK):
        sl = slice(a, a + CHUNK)
        _, g = ref.loss_and_grad(W, E[sl], Y[sl], target=target[sl])
        n = len(E[sl])
        total = [t + gi * n for t, gi in zip(total, g)]
    return [t / len(E) for t in total]


def run(N: int, sigma: float | None, seed: int) -> dict:
    """GD at η = D from W = 0 (``sigma`` None) or from N(0, σ²/fan-in) weights (``seed``) until
    both watched pseudo-parameters reached 0.5 (or the case's last time): their crossing times
    (linear interpolation between steps) and the off-span fraction at every step."""
    D, _, _, t_end = CASES[N]
    eta = float(D)
    E, Y, target = _batch(N, D)
    if sigma is None:
        W = [np.zeros(s) for s in shapes(D)]
    else:
        rng = np.random.default_rng(seed)
        W = [rng.normal(size=s) * sigma / np.sqrt(s[1]) for s in shapes(D)]
    times = {k: None for k in WATCH}
    prev = None
    off = []
    start = time.perf_counter()
    for step in range(int(t_end / eta) + 1):
        theta, resid = ref.project(W, D)
        off.append(resid)
        for k, i in WATCH.items():
            if times[k] is None and prev is not None and theta[i] >= 0.5 > prev[i]:
                times[k] = eta * (step - 1 + (0.5 - prev[i]) / (theta[i] - prev[i]))
        prev = theta
        if all(v is not None for v in times.values()):
            break
        g = gradient(W, E, Y, target)
        W = [Wi - eta * gi for Wi, gi in zip(W, g)]
    out = {"N": N, "sigma": sigma, "seed": seed, "T_beta": times["beta2"], "T_alpha": times["alpha3"],
           "off_span": off, "steps": step, "sequences": len(E), "seconds": time.perf_counter() - start}
    print(f"N {N} sigma {sigma} seed {seed}: T_beta {out['T_beta']}, T_alpha {out['T_alpha']}, off-span "
          f"{off[0]:.3g} -> {off[-1]:.3g} ({out['seconds']:.0f} s)", flush=True)
    return out


def _assemble(done: list, seconds: float, workers: int) -> dict:
    """The JSON document from the finished runs (every case with its zero start; rows by σ, seed)."""
    cases = []
    for N, (D, sigmas, seeds, t_end) in CASES.items():
        zero = next((r for r in done if r["N"] == N and r["sigma"] is None), None)
        if zero is None:
            continue
        rows = sorted((r for r in done if r["N"] == N and r["sigma"] is not None), key=lambda r: (r["sigma"], r["seed"]))
        per_sigma = [sum(r["sigma"] == x for r in rows) for x in {r["sigma"] for r in rows}]
        cases.append({"meta": {"N": N, "D": D, "eta": float(D), "seeds": min(per_sigma, default=0),
                               "seeds_asked": seeds, "t_end": t_end,
                               "sequences": zero["sequences"]}, "zero": zero, "rows": rows})
    return {"meta": {"date": time.strftime("%Y-%m-%d"), "seconds": seconds,
                     "solve_seconds": sum(r["seconds"] for r in done), "workers": workers}, "cases": cases}


def _previous(path: Path) -> list:
    """Runs already in ``path`` whose case (D, η, last time) is unchanged: they are not re-run."""
    if not path.exists():
        return []
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    keep = []
    for case in old.get("cases", []):
        m = case["meta"]
        if m["N"] in CASES and (m["D"], m["eta"], m["t_end"]) == (CASES[m["N"]][0], float(CASES[m["N"]][0]), CASES[m["N"]][3]):
            keep += [case["zero"]] + case["rows"]
    return keep


def measure(workers: int, path: Path) -> dict:
    """Every case's zero start and random starts, ``workers`` processes (one BLAS thread each).
    Runs already in ``path`` are kept; after each finished run the file is rewritten (atomically),
    so an interrupted benchmark resumes where it stopped."""
    from concurrent.futures import as_completed
    done = _previous(path)
    have = {(r["N"], r["sigma"], r["seed"]) for r in done}
    jobs = [(N, None, 0) for N in CASES] + [(N, sigma, seed) for N, (_, sigmas, seeds, _) in CASES.items()
                                           for sigma in sigmas for seed in range(seeds)]
    jobs = sorted((j for j in jobs if j not in have), key=lambda j: -j[0])        # the costly N first
    print(f"{len(have)} runs kept from {path.name}, {len(jobs)} to run", flush=True)
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for future in as_completed([pool.submit(run, *j) for j in jobs]):
            done.append(future.result())
            _write_atomic(path, json_ready(_assemble(done, time.perf_counter() - start, workers)))
    return _assemble(done, time.perf_counter() - start, workers)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--figures-only", action="store_true")
    args = p.parse_args(argv)
    if args.figures_only:
        data = json.loads((args.out / "initialisation.json").read_text())
    else:
        data = json_ready(measure(args.workers, args.out / "initialisation.json"))
        _write_atomic(args.out / "initialisation.json", data)
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
    L = []
    for case in data["cases"]:
        z, m = case["zero"], case["meta"]
        L += [f"**N = {m['N']}**, D = {m['D']}: GD on the full weights from random starts, query last, "
              f"{m['sequences']} framed sequences, η = {m['eta']:g} (weight-flow time), {m['seeds']} seeds per σ"
              f"{'' if m['seeds'] >= m.get('seeds_asked', 0) else ' (of ' + str(m['seeds_asked']) + ' asked: stopped early)'}. "
              f"From W = 0: T_β = {z['T_beta']:.5g}, T_α = {z['T_alpha']:.5g}, off-span {max(z['off_span']):.1g} "
              f"at most. Largest σ with every seed's T_β and T_α within 1 % of W = 0: {threshold(case)}.", "",
              "| σ | T_β (mean ± sd) | T_α (mean ± sd) | largest relative change | off-span at start | at T_α |",
              "|---:|---:|---:|---:|---:|---:|"]
        for sigma in sorted({r["sigma"] for r in case["rows"]}):
            rows = [r for r in case["rows"] if r["sigma"] == sigma]
            cells = []
            for k in ("T_beta", "T_alpha"):
                v = np.array([r[k] for r in rows if r[k] is not None], float)
                cells.append(f"{v.mean():.5g} ± {v.std(ddof=1):.2g}" if len(v) == len(rows) else f"{len(v)}/{len(rows)} reached")
            dev = max((d for d in (_dev(rows, z, "T_beta"), _dev(rows, z, "T_alpha")) if d is not None), default=None)
            L.append(f"| {sigma:g} | {cells[0]} | {cells[1]} | {'–' if dev is None else f'{dev:.1e}'} | "
                     f"{np.mean([r['off_span'][0] for r in rows]):.3g} | {np.mean([r['off_span'][-1] for r in rows]):.3g} |")
        L.append("")
    return "\n".join(L)


def figure(data, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.2))
    ax = axes[0]
    for c, case in enumerate(data["cases"]):
        z, N = case["zero"], case["meta"]["N"]
        for k, marker in (("T_beta", "o"), ("T_alpha", "s")):
            xs, ys = [], []
            for r in case["rows"]:
                if r[k] is not None:
                    xs.append(r["sigma"] * 1.06 ** (c - (len(data["cases"]) - 1) / 2))   # the N side by side
                    ys.append(max(abs(r[k] / z[k] - 1), 1e-7))
            ax.loglog(xs, ys, marker, color=f"C{c}", alpha=0.7, fillstyle="full" if k == "T_beta" else "none",
                      label=f"N = {N}: {'T_β' if k == 'T_beta' else 'T_α'}")
    ax.axhline(0.01, color="0.5", lw=0.8, ls="--", label="1 %")
    ax.set_xlabel("σ (initial weights N(0, σ²/fan-in))")
    ax.set_ylabel("|T / T(from W = 0) − 1|, each seed")
    ax.legend(fontsize=7, ncol=2)
    case = data["cases"][-1]
    ax = axes[1]
    for sigma in sorted({r["sigma"] for r in case["rows"]}):
        r = next(x for x in case["rows"] if x["sigma"] == sigma)
        ax.semilogy(np.arange(len(r["off_span"])) * case["meta"]["eta"], np.maximum(r["off_span"], 1e-18),
                    label=f"σ = {sigma:g}")
    ax.set_xlabel("weight-flow time t = η·steps")
    ax.set_ylabel("‖W − P W‖ / ‖W‖ (off the 19-dim span)")
    ax.set_title(f"N = {case['meta']['N']}, D = {case['meta']['D']}, seed 0", fontsize=9)
    ax.legend(fontsize=7)
    fig.suptitle("paper: GD on the full weights from random weights against the start from zero", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "initialisation.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
