"""The markov system's study (issue 13 §6): selection against argmax Ĩ, the stage-I law, the
authors' recorded joint run reproduced from fresh data, a(t) against ln t, the joint order, the
late selection (the joint flow on to t = 10⁵), finite L against L → ∞, and the speed of the flow
against the reference's gradient descent.

``python benchmarks/markov/study.py [--part selection|joint|long|gd|late|limits|speed|all]`` writes
benchmarks/results/markov/study.json (each part updates its own key), study.md and joint_run.png.
Every number is measured here; the authors' numbers come from authors_record.json
(authors_record.py, read from their repository's recorded run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import gradflow as gf
from gradflow.systems.markov import MarkovSystem
from gradflow.systems.markov import population as P
from gradflow.systems.markov import reference as ref
from gradflow.systems.markov.mi import mi_samples
from gradflow.systems.markov.stage1 import fitness, predicted_time
from gradflow.systems.markov.task import MarkovTask

OUT = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "markov"
GRID = [(S, n, alpha) for S in (2, 3, 4) for n in (2, 3) for alpha in (0.1, 0.3, 1.0)]
SELECTION = dict(L=100, count=2000, seed=0, n_kernels=400, t_max=200.0)
JOINT = dict(count=9000, seed=1, t_max=1e4)
CHECKPOINTS = (10, 100, 1000, 10000)
LOSSES = ("ce_softmax", "nll")


def _say(text):
    print(text, file=sys.stderr, flush=True)


def selection() -> dict:
    """For each (S, n, α): argmax Ĩ (400 kernels, paired standard error of the margin) against the
    set the stage-I flow selects (c only, 2000 sequences of L = 100) and the replicator law's time."""
    rows = []
    for S, n, alpha in GRID:
        start = time.perf_counter()
        task = MarkovTask(S=S, n=n, alpha=alpha, L=SELECTION["L"])
        samples = mi_samples(task, K=3, D=2, n_kernels=SELECTION["n_kernels"], seed=SELECTION["seed"])
        means = {R: float(v.mean()) for R, v in samples.items()}
        ranked = sorted(means, key=means.get, reverse=True)
        best, second = ranked[0], ranked[1]
        diff = samples[best] - samples[second]
        z = float(diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff))))
        row = {"S": S, "n": n, "alpha": alpha, "argmax_mi": list(best), "runner_up": list(second),
               "mi_best": means[best], "mi_runner_up": means[second], "z_margin": z, "mi": {
                   "".join(map(str, R)): m for R, m in means.items()}}
        for loss in LOSSES:
            system = MarkovSystem(S=S, n=n, alpha=alpha, length=SELECTION["L"], count=SELECTION["count"],
                                  seed=SELECTION["seed"], loss=loss)
            law = predicted_time(system.initial(), system)
            r = gf.solve(system=system, params=system.layout.c_names, t_max=SELECTION["t_max"])
            chosen = system.leading(r.theta[-1])
            row[loss] = {"flow_selected": list(chosen), "law_winner": list(law["winner"]),
                         "agree": tuple(chosen) == tuple(best), "T_flow": r.emergence["selector"],
                         "T_law": law["t"], "kappa": law["kappa"],
                         "g0": dict(zip(["".join(map(str, R)) for R in system.layout.subsets], law["g0"].tolist())),
                         "share_end": float(np.max(system.layout.shares(r.theta[-1])))}
            _say(f"S={S} n={n} alpha={alpha} {loss}: argmax MI {best} (z {z:.1f}), flow {chosen}, "
                 f"T {r.emergence['selector']:.4g} vs law {law['t']:.4g}")
        # the same sample with an exact copier (band logits ±40): what the soft copier changes
        exact = MarkovSystem(S=S, n=n, alpha=alpha, length=SELECTION["L"], count=SELECTION["count"],
                             seed=SELECTION["seed"], loss="nll", eps=1e-12)
        band = np.full((3, 3), -40.0)
        band[:, 0] = 40.0
        g_exact = fitness(exact.layout.pack(band, np.full(exact.layout.n_c, 0.01), 1e-7), exact)
        row["exact_copier_winner"] = list(exact.layout.subsets[int(np.argmax(g_exact))])
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
    return {"settings": SELECTION, "rows": rows}


def joint() -> dict:
    """The authors' recorded configuration from fresh data: joint flow to t = 10⁴ (lr 1 × epochs)."""
    system = MarkovSystem(count=JOINT["count"], seed=JOINT["seed"])
    start = time.perf_counter()
    r = gf.solve(system=system, t_max=JOINT["t_max"], progress=True)
    seconds = time.perf_counter() - start
    lay = system.layout
    true = lay.subsets.index((1, 2))
    share = lambda t: float(lay.shares(r.theta_at(float(t)))[true])
    a = {str(e): float(r.theta_at(float(e))[-1]) for e in CHECKPOINTS}
    loss = {str(e): system.loss(np.ascontiguousarray(r.theta_at(float(e)))) for e in CHECKPOINTS}
    # a against ln t: least-squares slope over t in [100, 10^4] and local slopes per decade
    grid = np.logspace(1, 4, 31)
    a_grid = r.theta_at(grid)[:, -1]
    slope = float(np.polyfit(np.log(grid[grid >= 100]), a_grid[grid >= 100], 1)[0])
    decades = {f"{lo:g}-{10 * lo:g}": float((r.theta_at(10.0 * lo)[-1] - r.theta_at(lo)[-1]) / np.log(10))
               for lo in (10.0, 100.0, 1000.0)}
    ts = np.logspace(-2, 4, 121)
    th = r.theta_at(ts)
    np.savez(OUT / "joint_run.npz", t=ts, theta=th, loss=np.array([system.loss(np.ascontiguousarray(x)) for x in th]),
             band0=lay.unpack(system.initial())[0], band_end=lay.unpack(r.theta[-1])[0],
             t_steps=r.t, log_abs_steps=r.log_abs_theta)
    late = late_selection(system, OUT / "joint_run.npz")
    return {"settings": JOINT, "a": a, "loss": loss, "late": late,
            "share_true_parents": {str(e): share(e) for e in (1, 2, 5, 10, 100)},
            "band_end": lay.unpack(r.theta[-1])[0].tolist(), "order": list(r.order),
            "stages": {k: r.emergence[k] for k in ("selector", "copier", "classifier")},
            "a_slope_ln_t_100_10000": slope, "a_per_ln_t_by_decade": decades,
            "parents": list(system.parents(r.theta[-1])), "nfev": r.stats["nfev"], "seconds": seconds}


def gd() -> dict:
    """The authors' discrete process on fresh data: full-batch GD at lr 1 on the reduced loss (exact
    for the same sample, so this is their training run up to the data), 10⁴ epochs, recorded at
    the same epochs as their record."""
    system = MarkovSystem(count=JOINT["count"], seed=JOINT["seed"])
    lay = system.layout
    true = lay.subsets.index((1, 2))
    theta = system.initial()
    rec = {"a": {}, "loss": {}, "share_true_parents": {}}
    start = time.perf_counter()
    for epoch in range(1, int(JOINT["t_max"]) + 1):
        value, g = system.loss_and_grad(theta)
        theta = theta - 1.0 * g
        if epoch in (1, 2, 5, 10, 100):
            rec["share_true_parents"][str(epoch)] = float(lay.shares(theta)[true])
        if epoch in CHECKPOINTS:
            rec["a"][str(epoch)] = float(theta[-1])
            rec["loss"][str(epoch)] = system.loss(theta)
        if epoch % 500 == 0:
            _say(f"  GD epoch {epoch}: loss {value:.5f}, a {theta[-1]:.4f}")
    rec["seconds"] = time.perf_counter() - start
    rec["band_end"] = lay.unpack(theta)[0].tolist()
    rec["shares_end"] = dict(zip(["".join(map(str, R)) or "empty" for R in lay.subsets], lay.shares(theta).tolist()))
    return rec


def late_selection(system, npz: Path) -> dict:
    """Whether the joint flow revises its selection late (an earlier finding, made with the
    selector integrated as it is, withdrawn): the log-shares ln ρ_R = 2 ln|c_R| − ln Σc² at the
    solver's steps, integrated in log coordinates (exact however small), the exact rate of
    ln ρ_{1} (−2 r_{1}, Z conserved) along the path, and the fitness g_R at t = 10³ and 10⁴."""
    from scipy.special import logsumexp
    run = np.load(npz)
    lay = system.layout
    names = ["".join(map(str, R)) or "empty" for R in lay.subsets]
    log_c = run["log_abs_steps"][:, lay.c_slice]
    log_share = 2 * log_c - logsumexp(2 * log_c, axis=1)[:, None]
    one = lay.subsets.index((1,))
    out = {}
    for label, t in (("1000", 1e3), ("10000", 1e4)):
        k = int(np.argmin(np.abs(run["t_steps"] - t)))
        th = np.ascontiguousarray(run["theta"][int(np.argmin(np.abs(run["t"] - t)))])
        out[label] = {"t_step": float(run["t_steps"][k]),
                      "log_shares": dict(zip(names, log_share[k].tolist())),
                      "fitness": dict(zip(names, fitness(th, system).tolist())),
                      "kappa": float(4 * th[-1] / np.sum(lay.unpack(th)[1] ** 2))}
    rates = np.array([-2 * system.loss_and_rates(np.ascontiguousarray(th))[1][lay.c_slice][one]
                      for th in run["theta"]])
    positive = run["t"][rates > 0]
    out["rate_1"] = {"t": run["t"].tolist(), "d_log_share_dt": rates.tolist(),
                     "first_positive_t": float(positive[0]) if len(positive) else None,
                     "most_negative": float(rates.min())}
    out["min_log_share_1"] = float(log_share[:, one].min())
    out["max_log_share_1_after_1000"] = float(log_share[run["t_steps"] >= 1e3, one].max())
    return out


LONG = dict(t_max=1e5, checkpoints=(1e4, 2e4, 3e4, 5e4, 1e5))


def long() -> dict:
    """The joint flow of the recorded configuration on to t = 10⁵, in log coordinates, at the default
    tolerances and at 100× tighter ones (the check): log-shares of every subset at the checkpoints
    and when the share of {1} exceeds 1 % again after its lowest point."""
    from scipy.special import logsumexp
    system = MarkovSystem(count=JOINT["count"], seed=JOINT["seed"])
    lay = system.layout
    names = ["".join(map(str, R)) or "empty" for R in lay.subsets]
    one = lay.subsets.index((1,))
    out = {"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in LONG.items()}}
    for label, tol in (("default", dict(rtol=1e-8, atol=1e-10)), ("tight", dict(rtol=1e-10, atol=1e-12))):
        start = time.perf_counter()
        r = gf.solve(system=system, t_max=LONG["t_max"], progress=True, **tol)
        log_c = r.log_abs_theta[:, lay.c_slice]
        log_share = 2 * log_c - logsumexp(2 * log_c, axis=1)[:, None]
        at = {}
        for t in LONG["checkpoints"]:
            k = min(int(np.searchsorted(r.t, t)), len(r.t) - 1)
            at[f"{t:g}"] = {"t_step": float(r.t[k]), "log_shares": dict(zip(names, log_share[k].tolist())),
                            "a": float(r.theta[k, -1])}
        low = int(np.argmin(log_share[:, one]))
        above = low + np.flatnonzero(log_share[low:, one] > np.log(0.01))
        out[label] = {"status": r.status, "message": r.message, "tolerances": tol, "at": at,
                      "t_share_1_above_1pct": float(r.t[above[0]]) if len(above) else None,
                      "seconds": time.perf_counter() - start, "nfev": r.stats["nfev"]}
        _say(f"long ({label}): {r.status}, share of {{1}} above 1 % from t = {out[label]['t_share_1_above_1pct']}")
    return out


def limits() -> dict:
    """Finite L against L → ∞ (authors' task): the fitness g⁰ at the authors' initialisation and the
    selected set, for L = 8 (every sequence, exact), L = 100 (9000 sequences) and L → ∞ (64 kernels,
    with the standard error over kernels)."""
    out = {}
    for label, kw in (("L=8 exact", dict(length=8, population="exact")),
                      ("L=100 sample", dict(length=100, count=9000, seed=1)),
                      ("L=inf stationary", dict(population="stationary", count=64, seed=1))):
        system = MarkovSystem(**kw)
        g = fitness(system.initial(), system, a=1e-7)
        row = {"g0": dict(zip(["".join(map(str, R)) or "empty" for R in system.layout.subsets], g.tolist())),
               "winner": list(system.layout.subsets[int(np.argmax(g))])}
        if kw.get("population") == "stationary":
            parts = [fitness(system.initial(), system, a=1e-7, population=p) for p in P.per_kernel(system.population)]
            row["g0_se"] = (np.std(parts, axis=0, ddof=1) / np.sqrt(len(parts))).tolist()
        out[label] = row
        _say(f"{label}: winner {row['winner']}")
    return out


def speed() -> dict:
    """(1) One loss-and-gradient at the authors' size: the reduced kernel against the full-tensor
    reference. (2) At equal accuracy on the check's problem (L = 10, 12 sequences, t = 2): GD on the
    reference needs steps η with error ≈ C·η; the flow reaches 1e−7 of GD's η → 0 limit."""
    system = MarkovSystem(count=9000, seed=1)
    theta = system.initial()
    system.loss_and_grad(theta)
    t0 = time.perf_counter()
    for _ in range(5):
        system.loss_and_grad(theta)
    reduced_s = (time.perf_counter() - t0) / 5
    w = ref.Weights.from_theta(system.layout, theta)
    t0 = time.perf_counter()
    ref.loss_and_grad(w, system.tokens, 3, 2)
    reference_s = time.perf_counter() - t0
    small = MarkovSystem(length=10, count=12)
    report = small.check(eta=0.02, t_end=2.0, refinements=3)
    t0 = time.perf_counter()
    r = gf.solve(system=small, t_max=2.0, rtol=1e-8, atol=1e-10)
    flow_s = time.perf_counter() - t0
    # GD error ≈ C η (first order): the step that matches the flow's error against the extrapolated
    # GD limit, and its cost in reference gradients
    C = report.errors[-1] / report.etas[-1]
    flow_err = float(np.max(np.abs(r.theta_at(report.t) - report.theta_ode)))
    eta_equal = max(flow_err, 1e-12) / C
    ref_grad_s = sum(report.seconds) / sum(int(round(2.0 / e)) for e in report.etas)
    from gradflow import _threads
    return {"threads": _threads.count(), "reduced_grad_seconds_9000x100": reduced_s, "reference_grad_seconds_9000x100": reference_s,
            "speedup_per_gradient": reference_s / reduced_s,
            "check_small": {"gd_errors": report.errors, "etas": report.etas, "flow_error_rtol1e-8": flow_err,
                            "flow_seconds": flow_s, "flow_nfev": r.stats["nfev"],
                            "gd_eta_for_equal_error": eta_equal,
                            "gd_seconds_for_equal_error": ref_grad_s * 2.0 / eta_equal,
                            "reference_gradient_seconds": ref_grad_s}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", choices=("selection", "joint", "long", "gd", "late", "limits", "speed", "all"),
                   default="all")
    args = p.parse_args(argv)
    path = OUT / "study.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    parts = ("selection", "joint", "long", "gd", "limits", "speed") if args.part == "all" else (args.part,)
    if parts == ("late",):           # recompute only the late-selection facts from the saved run
        data["joint"]["late"] = late_selection(MarkovSystem(count=JOINT["count"], seed=JOINT["seed"]),
                                               OUT / "joint_run.npz")
        path.write_text(json.dumps(data, indent=1) + "\n")
        parts = ()
    for part in parts:
        start = time.perf_counter()
        data[part] = globals()[part]()
        data.setdefault("seconds", {})[part] = time.perf_counter() - start
        path.write_text(json.dumps(data, indent=1) + "\n")
        _say(f"{part}: {data['seconds'][part]:.0f} s")
    from report import write_report
    write_report(data)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
