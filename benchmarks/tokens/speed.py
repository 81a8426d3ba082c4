"""Speed: gradflow against training the reference transformer, and how cost grows with N.

In one run, side by side (``time.perf_counter``, medians of repeats):

(a) ``solve(N, flow="weights")`` to emergence vs plain GD on the full reference transformer
    (exact population gradient, W = 0 start) until its loss falls below ½ log N, with steps
    η = T(N)/k for k in ``--gd-k`` (default 500, 2000, 16000): the measured ratio of wall times
    and GD's relative error in T, which is first order in η. From that law, the projected GD
    time to match T to ``--accuracy`` (default 1e-6, a tolerance the solve meets; its own
    error is measured too), and at η = 1.
(b) the right-hand side (gradient), the Jacobian (Hessian) and ``solve`` against N;
(c) ``python -m gradflow.derive`` (in-process generation);
(d) cold (empty Numba cache: compilation) vs warm (cache on disk) vs hot (same process)
    ``solve(N=64)`` for each method and flow, in fresh processes.

Writes ``<out>/speed.json`` and ``<out>/speed.md``. Run: ``python benchmarks/tokens/speed.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import gradflow as gf
from gradflow import derive
from gradflow.systems.tokens import reference


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def gd_emergence(task, eta, max_steps):
    """Plain GD on the full reference transformer from W = 0 until 𝓛 < ½ log N: its emergence
    time (the loss interpolated linearly between the two steps around ½ log N), steps, seconds."""
    level = 0.5 * np.log(task.N)
    traj = reference.train(task, eta, max_steps, record_every=1, stop_loss=level)
    k = int(np.argmax(traj.loss < level))
    if traj.loss[k] >= level:
        raise RuntimeError(f"GD did not reach ½ log N in {max_steps} steps at eta = {eta:g}")
    l0, l1 = traj.loss[k - 1], traj.loss[k]
    return eta * (k - 1 + (l0 - level) / (l0 - l1)), int(traj.steps[-1]), traj.seconds


def gd_vs_solve(Ns, ks, repeats, accuracy):
    """(a): for each N, the weight-flow solve against GD with η = T/k for every k in ``ks``.

    GD's relative error in T is first order in η (SPEC §7), e(k) ≈ c/k; c is fitted to the
    runs and gives the steps GD needs to match T to ``accuracy`` (projected time = steps × the
    measured seconds per step). The solve's own error is measured against rtol 1e-12."""
    rows = []
    for N in Ns:
        task = gf.Task(N)
        solve = lambda: gf.solve(N, system="tokens", flow="weights", method="LSODA")      # noqa: E731
        r = solve()
        t_solve = median_time(solve, repeats)
        T = r.emergence["T"]
        T_ref = gf.solve(N, system="tokens", flow="weights", method="LSODA", rtol=1e-12, atol=1e-14).emergence["T"]
        runs = []
        for k in ks:
            log(f"(a) N={N}: solve {t_solve:.3f} s, T={T:.6g}; GD with eta = T/{k} ...")
            T_gd, steps, seconds = gd_emergence(task, T / k, 3 * k)
            runs.append({"k": k, "eta": T / k, "steps": steps, "seconds": seconds, "T_gd": T_gd,
                         "rel_err": T_gd / T - 1, "ratio": seconds / t_solve})
            log(f"    {steps} steps, {seconds:.1f} s, T_GD/T - 1 = {T_gd / T - 1:+.2e}, ratio {seconds / t_solve:.0f}x")
        kk = np.array(ks, float)
        err = np.array([x["rel_err"] for x in runs])
        c = float(np.sum(err / kk) / np.sum(kk ** -2.0))          # least squares of e(k) = c/k
        per_step = sum(x["seconds"] for x in runs) / sum(x["steps"] for x in runs)
        k_eq = abs(c) / accuracy
        rows.append({"N": N, "T_flow": T, "solve_seconds": t_solve, "solve_rel_err": abs(T / T_ref - 1),
                     "gd": runs, "err_times_k": (err * kk).tolist(), "c": c, "gd_seconds_per_step": per_step,
                     "accuracy": accuracy, "steps_for_accuracy": k_eq,
                     "ratio_for_accuracy_projected": k_eq * per_step / t_solve,
                     "ratio_eta1_projected": per_step * T / t_solve})
        log(f"    e(k)·k = {', '.join(f'{v:.3g}' for v in err * kk)}; {k_eq:.3g} steps for {accuracy:g}: "
            f"projected ratio {k_eq * per_step / t_solve:.3g}x")
    return rows


def cost_vs_N(Ns, solve_max, radau_max, repeats):
    rows = []
    for N in Ns:
        task = gf.Task(N)
        theta = 0.3 * np.random.default_rng(0).normal(size=19)
        gf.grad(theta, task)
        t_grad = median_time(lambda: gf.grad(theta, task), repeats)
        t_hess = median_time(lambda: gf.hessian(theta, task), max(1, repeats // 2) if N <= 1024 else 1)
        row = {"N": N, "grad_seconds": t_grad, "hessian_seconds": t_hess}
        if N <= solve_max:
            r = gf.solve(N, system="tokens", method="LSODA")
            row.update(solve_seconds=r.stats["wall_seconds"], nfev=r.stats["nfev"], n_steps=r.stats["n_steps"],
                       T=r.emergence["T"])
        if N <= radau_max:
            rr = gf.solve(N, system="tokens", method="Radau")
            row.update(solve_seconds_radau=rr.stats["wall_seconds"], nfev_radau=rr.stats["nfev"],
                       njev_radau=rr.stats["njev"])
        rows.append(row)
        log(f"(b) N={N}: grad {t_grad * 1e3:.3f} ms, hessian {t_hess * 1e3:.1f} ms"
            + (f", solve LSODA {row['solve_seconds']:.2f} s" if "solve_seconds" in row else "")
            + (f", Radau {row['solve_seconds_radau']:.2f} s" if "solve_seconds_radau" in row else ""))
    return rows


COLD_SCRIPT = """
import json, time
t0 = time.perf_counter()
import gradflow as gf
t1 = time.perf_counter()
r = gf.solve(64, system="tokens", flow="{flow}", method="{method}")
t2 = time.perf_counter()
r2 = gf.solve(64, system="tokens", flow="{flow}", method="{method}")
t3 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first_solve": t2 - t1, "second_solve": t3 - t2,
                  "nfev": r.stats["nfev"], "njev": r.stats["njev"], "nlu": r.stats["nlu"],
                  "n_steps": r.stats["n_steps"], "T": r.emergence["T"]}}))
"""


def cold_warm():
    rows = []
    for flow in ("theta", "weights"):
        for method in ("Radau", "BDF", "LSODA"):
            with tempfile.TemporaryDirectory() as cache:
                env = dict(os.environ, NUMBA_CACHE_DIR=cache)
                code = COLD_SCRIPT.format(flow=flow, method=method)
                runs = [json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                                  text=True, check=True).stdout) for _ in range(2)]
            cold, warm = runs
            rows.append({"flow": flow, "method": method, "cold_first_solve": cold["first_solve"],
                         "warm_first_solve": warm["first_solve"], "hot_solve": warm["second_solve"],
                         "import_seconds": warm["import"], "nfev": cold["nfev"], "njev": cold["njev"],
                         "nlu": cold["nlu"], "n_steps": cold["n_steps"], "T": cold["T"]})
            log(f"(d) {flow}/{method}: cold {cold['first_solve']:.1f} s, warm {warm['first_solve']:.2f} s, "
                f"hot {warm['second_solve']:.2f} s, nfev {cold['nfev']}, njev {cold['njev']}")
    return rows


def report(data) -> str:
    a = data["gd_vs_solve"]
    lines = ["(a) solve(flow='weights', LSODA) to emergence vs reference GD (η = T/k) to loss < ½ log N",
             "| N | T(N) flow | solve s | solve error | k | GD steps | GD s | T_GD/T − 1 | ratio (measured) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in a:
        for x in r["gd"]:
            lines.append(f"| {r['N']} | {r['T_flow']:.6g} | {r['solve_seconds']:.3f} | {r['solve_rel_err']:.1e} | "
                         f"{x['k']} | {x['steps']} | {x['seconds']:.1f} | {x['rel_err']:+.2e} | {x['ratio']:.0f}× |")
    lines += ["", "GD's error in T is first order in η: e(k)·k is constant; projected GD time to match T to "
              f"{a[0]['accuracy']:g} = c/{a[0]['accuracy']:g} steps × measured seconds per step",
              "| N | e(k)·k | c | GD s per step | steps for that accuracy | ratio (projected) | ratio at η = 1 (projected) |",
              "|---:|---|---:|---:|---:|---:|---:|"]
    for r in a:
        lines.append(f"| {r['N']} | {', '.join(f'{v:.3g}' for v in r['err_times_k'])} | {r['c']:.3g} | "
                     f"{r['gd_seconds_per_step'] * 1e3:.2f} ms | {r['steps_for_accuracy']:.3g} | "
                     f"{r['ratio_for_accuracy_projected']:.3g}× | {r['ratio_eta1_projected']:.3g}× |")
    lines += ["", "(b) cost against N (θ-flow; gradient and Hessian at a random θ)",
              "| N | grad ms | Hessian ms | solve LSODA s (nfev) | solve Radau s (nfev, njev) |",
              "|---:|---:|---:|---:|---:|"]
    for r in data["cost_vs_N"]:
        s1 = f"{r['solve_seconds']:.2f} ({r['nfev']})" if "solve_seconds" in r else "—"
        s2 = f"{r['solve_seconds_radau']:.2f} ({r['nfev_radau']}, {r['njev_radau']})" if "solve_seconds_radau" in r else "—"
        lines.append(f"| {r['N']} | {r['grad_seconds'] * 1e3:.3f} | {r['hessian_seconds'] * 1e3:.1f} | {s1} | {s2} |")
    g = data["cost_vs_N"]
    Ns = np.array([r["N"] for r in g], float)
    big = Ns >= min(256, Ns.max() / 4)
    slope = np.polyfit(np.log(Ns[big]), np.log([r["grad_seconds"] for r, b in zip(g, big) if b]), 1)[0]
    lines += ["", f"gradient cost exponent for N >= {Ns[big].min():g}: {slope:.2f}",
              "", f"(c) python -m gradflow.derive (in-process generate): {data['derive_seconds']:.2f} s (median)",
              "", "(d) solve(N=64) in fresh processes: cold (empty Numba cache), warm (cache on disk), hot (second call)",
              "| flow | method | cold s | warm s | hot s | steps | nfev | njev | nlu | T(64) |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in data["cold_warm"]:
        lines.append(f"| {r['flow']} | {r['method']} | {r['cold_first_solve']:.1f} | {r['warm_first_solve']:.2f} | "
                     f"{r['hot_solve']:.2f} | {r['n_steps']} | {r['nfev']} | {r['njev']} | {r['nlu']} | {r['T']:.8g} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gd-N", type=int, nargs="+", default=[8, 16, 32, 64])
    p.add_argument("--gd-k", type=int, nargs="+", default=[500, 2000, 16000],
                   help="GD runs with step eta = T(N)/k, for each k")
    p.add_argument("--accuracy", type=float, default=1e-6,
                   help="relative accuracy in T at which GD's cost is projected")
    p.add_argument("--cost-N-max", type=int, default=4096)
    p.add_argument("--solve-N-max", type=int, default=2048, help="largest N for the LSODA solve timings of (b)")
    p.add_argument("--radau-N-max", type=int, default=512, help="largest N for the Radau solve timings of (b)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--skip-cold", action="store_true", help="skip (d), which compiles six times")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "tokens")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    gf.solve(8)                                                       # compile (or load) once
    start = time.perf_counter()
    data = {"gd_vs_solve": gd_vs_solve(args.gd_N, args.gd_k, args.repeats, args.accuracy)}
    Ns = [2 ** k for k in range(4, int(np.log2(args.cost_N_max)) + 1)]
    data["cost_vs_N"] = cost_vs_N(Ns, args.solve_N_max, args.radau_N_max, args.repeats)
    data["derive_seconds"] = median_time(derive.generate, 3)
    log(f"(c) derive {data['derive_seconds']:.2f} s")
    data["cold_warm"] = [] if args.skip_cold else cold_warm()
    data["meta"] = {"total_seconds": time.perf_counter() - start, "date": time.strftime("%Y-%m-%d"),
                    "gd_k": args.gd_k, "accuracy": args.accuracy}
    (args.out / "speed.json").write_text(json.dumps(data, indent=1))
    text = report(data)
    (args.out / "speed.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
