"""gradflow against training, side by side: the paper system's t_ICL from GD on the full-weight model
(NumPy reference, and the same model in PyTorch if it is installed) against ``gradflow.solve``.

What is trained. The full weights W = (W1, W2, W3) from W = 0, query last, by GD on the population
loss. At invariant weights the population gradient is the canonical sequence's gradient projected on
the 19 basis matrices (every frame gives the same loss; reference.theta_gradient), so each step is
one forward and backward pass of the full model on the canonical sequence (T = 2N + 1 tokens of
width 2D, D = 2N + 2) and a projection; W stays in the span (no other direction is ever written).
Time: the weight flow's t = η·steps (the metric is D·I, so the θ-flow's time is t/D). t_ICL of a run
is the first step at which α3, β2, γ3 (read from W) are all ≥ 0.5, interpolated linearly between
steps.

Accuracy. GD is the weight flow's Euler scheme: its t_ICL error is c·η to first order. Each N is
trained at η0 and η0/2 (where it runs in the time allowed) to measure c; the step that gives a 1e-3
relative error, η* = 1e-3·t_ICL/|c| (capped at η0: no step larger than one run), and its step count
t_ICL/η* follow. Where GD is not run to the
end, its cost is *projected*: (steps at η*) × (measured seconds per step), marked as such.

PyTorch: the same forward pass written with torch (float64, autograd), one step timed at each N.

Also: the markov system against the authors' setting (their GD at lr 1 on 9000 sequences, 10⁴
epochs, `python -m gradflow solve --system markov`'s reference trainer) — per-step cost measured
over a few steps and projected to 10⁴ steps, against the flow's solve of the same sample.

Writes benchmarks/results/paper/training.json, .md and .png. Run:
``OMP_NUM_THREADS=1 python benchmarks/paper/training.py [--budget SECONDS]`` (default 600 s of GD in all; about 12 minutes).
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
from gradflow.systems.paper import reference as ref
from gradflow.systems.paper.reduced import NAMES

OUT = Path(__file__).resolve().parents[1] / "results" / "paper"
HEAD = [NAMES.index(n) for n in ("alpha3", "beta2", "gamma3")]
NS = (4, 8, 16, 32)


def numpy_step_fn(N: int):
    """θ ↦ (𝓛, the weight-flow velocity in θ) through the full NumPy model: one canonical pass."""
    D = ref.check_D(N, None)

    def grad(theta):
        loss, g = ref.theta_gradient(theta, N, D)
        return loss, g / D                          # ⟨∇_W𝓛, B_k⟩/‖B_k‖²: the projection's coordinates
    return grad, D


def torch_step_fn(N: int):
    """The same step with the model written in PyTorch (float64, autograd), or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    D = ref.check_D(N, None)
    E, Y = (torch.tensor(a) for a in ref.canonical(N, D, np.array([N])))
    basis = [tuple(torch.tensor(w) for w in ref.weights(np.eye(19)[k], D)) for k in range(19)]
    T = 2 * N + 1
    strict = torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-1)

    def grad(theta):
        th = torch.tensor(theta, requires_grad=True)
        W1 = sum(th[k] * basis[k][0] for k in range(19))
        W2 = sum(th[k] * basis[k][1] for k in range(19))
        W3 = sum(th[k] * basis[k][2] for k in range(19))
        S1 = (E @ W1) @ E.transpose(1, 2)
        S1 = S1.masked_fill(~strict, float("-inf"))
        A1 = torch.softmax(S1[:, 1:], dim=-1)                 # the first token has no key: h1 = 0
        H1 = torch.cat([torch.zeros_like(E[:, :1]), A1 @ E], dim=1)
        U = torch.cat([E, H1], dim=2)
        q = U[:, -1] @ W2
        A2 = torch.softmax(torch.einsum("buk,bk->bu", U[:, :-1], q), dim=-1)
        h2 = torch.einsum("bu,buk->bk", A2, U[:, :-1])
        yhat = torch.cat([E[:, -1], H1[:, -1], h2], dim=1) @ W3.T
        loss = 0.5 * ((yhat - Y) ** 2).sum(dim=1).mean()
        loss.backward()
        return loss.item(), th.grad.numpy() / D          # ∂𝓛/∂θ = ⟨∇_W𝓛, B_k⟩: the same projection
    return grad


def gd(grad, eta: float, t_end: float, seconds: float):
    """GD θ ← θ − η·velocity until min(α3, β2, γ3) ≥ 0.5 (t_ICL, interpolated) or ``seconds`` pass.
    Returns (t_ICL or None, steps taken, seconds per step)."""
    theta = np.zeros(19)
    start, steps, prev = time.perf_counter(), 0, -0.5
    while steps * eta < 2 * t_end:
        _, v = grad(theta)
        theta = theta - eta * v
        steps += 1
        now = theta[HEAD].min() - 0.5
        if now >= 0:
            return eta * (steps - now / (now - prev)), steps, (time.perf_counter() - start) / steps
        prev = now
        if time.perf_counter() - start > seconds:
            break
    return None, steps, (time.perf_counter() - start) / steps


def per_step(grad, n: int = 20) -> float:
    theta = np.random.default_rng(0).normal(size=19) * 0.1
    grad(theta)
    start = time.perf_counter()
    for _ in range(n):
        grad(theta)
    return (time.perf_counter() - start) / n


def paper_rows(budget: float) -> list:
    rows = []
    for N in NS:
        start = time.perf_counter()
        flow = gf.solve(N, system="paper", flow="weights")
        solve_s = time.perf_counter() - start
        t_icl = flow.emergence["t_ICL"]
        grad, D = numpy_step_fn(N)
        tgrad = torch_step_fn(N)
        row = {"N": N, "D": D, "t_ICL": t_icl, "solve_seconds": solve_s, "numpy_step": per_step(grad),
               "torch_step": per_step(tgrad) if tgrad else None}
        eta0 = 0.02 * D                                  # in θ-time 0.02: stable at every N here
        runs = []
        for eta in (eta0, eta0 / 2):
            t, steps, sec = gd(grad, eta, t_icl, budget / (2 * len(NS)))
            runs.append({"eta": eta, "t_ICL": t, "steps": steps, "seconds_per_step": sec})
        row["gd"] = runs
        if all(r["t_ICL"] is not None for r in runs):
            c = (runs[0]["t_ICL"] - runs[1]["t_ICL"]) / (runs[0]["eta"] - runs[1]["eta"])
            row["error_per_eta"] = c
            row["richardson_error"] = (2 * runs[1]["t_ICL"] - runs[0]["t_ICL"]) / t_icl - 1
        else:
            row["error_per_eta"] = None
        rows.append(row)
    return project(rows)


def project(rows: list) -> list:
    """η* and the cost of GD at η*: the relative error per unit of η/D measured where both runs
    finished (beyond, the largest such N's), times the seconds per step GD itself took (the larger of
    its two runs: the step loop, not only the gradient)."""
    measured = [r for r in rows if r["error_per_eta"] is not None]
    for r in rows:
        src = r if r["error_per_eta"] is not None else measured[-1]
        rel_per_theta_eta = abs(src["error_per_eta"]) * src["D"] / src["t_ICL"]    # relative error per unit of η/D
        eta_star = min(1e-3 / rel_per_theta_eta * r["D"], r["gd"][0]["eta"])     # never beyond the step run
        r["eta_star"] = eta_star
        r["steps_star"] = r["t_ICL"] / eta_star
        r["error_model_from_N"] = src["N"]
        step = max(r["numpy_step"], *(g["seconds_per_step"] for g in r["gd"]))
        r["numpy_seconds_star"] = r["steps_star"] * step
        r["torch_seconds_star"] = r["steps_star"] * r["torch_step"] * step / r["numpy_step"] if r["torch_step"] else None
        r["projected"] = r is not src or r["gd"][1]["t_ICL"] is None
    return rows


def markov_row(steps: int = 2, t_end: float = 10_000.0) -> dict:
    """The authors' setting: their GD at lr 1 for 10⁴ epochs on 9000 sequences (the reference trainer,
    timed over ``steps`` steps and projected), against the flow's solve of the same sample to t = 10⁴."""
    from gradflow.systems.markov import MarkovSystem
    s = MarkovSystem()
    start = time.perf_counter()
    gf.solve(system=s, t_max=t_end)
    solve_s = time.perf_counter() - start
    run = s.train(eta=1.0, steps=steps, every=steps, progress=False)
    step_s = run.seconds / (steps + 1)               # steps + 1 gradients (the last one records)
    return {"sizes": s.sizes(), "solve_seconds": solve_s, "t_end": t_end, "gd_step_seconds": step_s,
            "gd_steps": int(t_end), "gd_seconds_projected": step_s * t_end}


def table(data: dict) -> str:
    m = data["meta"]
    L = [f"gradflow against GD on the full-weight model, paper system, query last, 19 pseudo-parameters; "
         f"measured {m['date']} on {m['machine']} (torch {m['torch']}). Weight-flow time; GD's step η* gives a "
         "1e-3 relative error of t_ICL (first-order error measured at η0 = 0.02·D and η0/2). *Projected* = "
         "steps at η* × the seconds per step GD took (PyTorch: scaled by its gradient's time against NumPy's).", "",
         "| N | t_ICL (flow) | solve s | GD t_ICL at η0/2 (rel. error) | s/step NumPy | s/step PyTorch | steps at η* | "
         "NumPy s at η* | PyTorch s at η* | NumPy / solve |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in data["paper"]:
        g = r["gd"][1]
        got = f"{g['t_ICL']:.6g} ({g['t_ICL'] / r['t_ICL'] - 1:+.1e})" if g["t_ICL"] else f"not reached ({g['steps']} steps)"
        mark = " (projected)" if r["projected"] else ""
        torch_s = f"{r['torch_step'] * 1e3:.2f} ms" if r["torch_step"] else "–"
        torch_star = f"{r['torch_seconds_star']:.3g}{mark}" if r["torch_step"] else "–"
        L.append(f"| {r['N']} | {r['t_ICL']:.6g} | {r['solve_seconds']:.3f} | {got} | {r['numpy_step'] * 1e3:.2f} ms | "
                 f"{torch_s} | {r['steps_star']:.3g} | {r['numpy_seconds_star']:.3g}{mark} | {torch_star} | "
                 f"{r['numpy_seconds_star'] / r['solve_seconds']:.3g}{mark} |")
    k = data["markov"]
    L += ["", f"markov, the authors' setting ({', '.join(f'{a}={b}' for a, b in k['sizes'].items())}): the flow's "
          f"solve to t = {k['t_end']:g} takes {k['solve_seconds']:.1f} s; the reference's GD at lr 1 takes "
          f"{k['gd_step_seconds']:.2f} s per step, so {k['gd_steps']} steps take {k['gd_seconds_projected']:.3g} s "
          f"(projected), {k['gd_seconds_projected'] / k['solve_seconds']:.3g}× the solve."]
    return "\n".join(L) + "\n"


def figure(data: dict, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = data["paper"]
    Ns = [r["N"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(Ns, [r["solve_seconds"] for r in rows], "o-", label="gradflow.solve (19 parameters)")
    ax.loglog(Ns, [r["numpy_seconds_star"] for r in rows], "s--", label="GD, NumPy full model (η*)")
    if all(r["torch_step"] for r in rows):
        ax.loglog(Ns, [r["torch_seconds_star"] for r in rows], "^--", label="GD, PyTorch full model (η*)")
    ax.set_xlabel("N (item-label pairs)")
    ax.set_ylabel("wall seconds to t_ICL at 1e-3 relative error")
    ax.set_title("paper system, query last: the flow against GD on the full weights\n"
                 "(GD at the larger N projected from measured seconds per step)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "training.png", dpi=120)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--budget", type=float, default=600.0, help="seconds of GD in all (split over N and η)")
    p.add_argument("--table-only", action="store_true")
    args = p.parse_args(argv)
    if args.table_only:
        data = json.loads((args.out / "training.json").read_text())
        data["paper"] = project(data["paper"])
    else:
        try:
            import torch
            version = torch.__version__
        except ImportError:
            version = "not installed"
        gf.solve(4, system="paper", flow="weights")          # compile outside the timings
        data = {"meta": {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, Python "
                         f"{platform.python_version()}", "torch": version, "budget": args.budget},
                "paper": paper_rows(args.budget), "markov": markov_row()}
        (args.out / "training.json").write_text(json.dumps(json_ready(data), indent=1))
    (args.out / "training.md").write_text(table(data))
    figure(data, args.out)
    print(table(data))


if __name__ == "__main__":
    main()
