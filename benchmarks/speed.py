"""Speed: gradflow against training the reference transformer, and how cost grows with N.

In one run, side by side (``time.perf_counter``, medians of repeats):

(a) ``solve(N, flow="weights")`` to emergence vs plain GD on the full reference transformer
    (exact population gradient, W = 0 start) until its loss falls below ½ log N, with the step
    η = T(N)/steps (``--gd-steps``, default 1000), which tracks the flow: the GD emergence time
    is reported with its relative difference from the flow's. Also the projected GD time at
    η = 1 (measured time per step × T(N) steps).
(b) the right-hand side (gradient), the Jacobian (Hessian) and ``solve`` against N;
(c) ``python -m gradflow.derive`` (in-process generation);
(d) cold (empty Numba cache: compilation) vs warm (cache on disk) vs hot (same process)
    ``solve(N=64)`` for each method and flow, in fresh processes.

Writes ``<out>/speed.json`` and ``<out>/speed.md``. Run: ``python benchmarks/speed.py``.
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
from gradflow import derive, reference


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def gd_vs_solve(Ns, gd_steps, repeats):
    rows = []
    for N in Ns:
        task = gf.Task(N)
        solve = lambda: gf.solve(N, flow="weights", method="LSODA")      # noqa: E731
        r = solve()
        t_solve = median_time(solve, repeats)
        T = r.emergence["T"]
        eta = T / gd_steps
        log(f"(a) N={N}: solve {t_solve:.3f} s, T={T:.6g}; GD with eta={eta:.4g} ...")
        traj = reference.train(task, eta, 10 * gd_steps, record_every=1, stop_loss=0.5 * np.log(N))
        # GD emergence time: linear interpolation of the loss between the two steps around ½ log N
        k = int(np.argmax(traj.loss < 0.5 * np.log(N)))
        l0, l1 = traj.loss[k - 1], traj.loss[k]
        T_gd = eta * (k - 1 + (l0 - 0.5 * np.log(N)) / (l0 - l1))
        per_step = traj.seconds / len(traj.steps)
        rows.append({"N": N, "T_flow": T, "solve_seconds": t_solve, "eta": eta, "gd_steps": int(traj.steps[-1]),
                     "gd_seconds": traj.seconds, "T_gd": T_gd, "T_gd_rel_diff": (T_gd - T) / T,
                     "ratio": traj.seconds / t_solve, "gd_seconds_per_step": per_step,
                     "gd_seconds_eta1_projected": per_step * T, "ratio_eta1_projected": per_step * T / t_solve})
        log(f"    GD {traj.seconds:.1f} s ({traj.steps[-1]} steps), T_GD/T - 1 = {(T_gd - T) / T:+.2e}, "
            f"ratio {traj.seconds / t_solve:.0f}x; eta=1 projected {per_step * T / t_solve:.3g}x")
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
            r = gf.solve(N, method="LSODA")
            row.update(solve_seconds=r.stats["wall_seconds"], nfev=r.stats["nfev"], n_steps=r.stats["n_steps"],
                       T=r.emergence["T"])
        if N <= radau_max:
            rr = gf.solve(N, method="Radau")
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
r = gf.solve(64, flow="{flow}", method="{method}")
t2 = time.perf_counter()
r2 = gf.solve(64, flow="{flow}", method="{method}")
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
    lines = ["(a) solve(flow='weights', LSODA) to emergence vs reference GD to loss < ½ log N",
             "| N | T(N) flow | solve s | GD η | GD steps | GD s | T_GD/T − 1 | ratio | ratio at η = 1 (projected) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in a:
        lines.append(f"| {r['N']} | {r['T_flow']:.6g} | {r['solve_seconds']:.3f} | {r['eta']:.4g} | {r['gd_steps']} | "
                     f"{r['gd_seconds']:.1f} | {r['T_gd_rel_diff']:+.1e} | {r['ratio']:.0f}× | "
                     f"{r['ratio_eta1_projected']:.3g}× |")
    lines += ["", "(b) cost against N (θ-flow; gradient and Hessian at a random θ)",
              "| N | grad ms | Hessian ms | solve LSODA s (nfev) | solve Radau s (nfev, njev) |",
              "|---:|---:|---:|---:|---:|"]
    for r in data["cost_vs_N"]:
        s1 = f"{r['solve_seconds']:.2f} ({r['nfev']})" if "solve_seconds" in r else "—"
        s2 = f"{r['solve_seconds_radau']:.2f} ({r['nfev_radau']}, {r['njev_radau']})" if "solve_seconds_radau" in r else "—"
        lines.append(f"| {r['N']} | {r['grad_seconds'] * 1e3:.3f} | {r['hessian_seconds'] * 1e3:.1f} | {s1} | {s2} |")
    g = data["cost_vs_N"]
    Ns = np.array([r["N"] for r in g], float)
    big = Ns >= 256
    slope = np.polyfit(np.log(Ns[big]), np.log([r["grad_seconds"] for r in g if r["N"] >= 256]), 1)[0]
    lines += ["", f"gradient cost exponent for N >= 256: {slope:.2f}",
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
    p.add_argument("--gd-steps", type=int, default=1000, help="GD steps to the flow's emergence time")
    p.add_argument("--cost-N-max", type=int, default=4096)
    p.add_argument("--solve-N-max", type=int, default=2048, help="largest N for the LSODA solve timings of (b)")
    p.add_argument("--radau-N-max", type=int, default=512, help="largest N for the Radau solve timings of (b)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--skip-cold", action="store_true", help="skip (d), which compiles six times")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    gf.solve(8)                                                       # compile (or load) once
    start = time.perf_counter()
    data = {"gd_vs_solve": gd_vs_solve(args.gd_N, args.gd_steps, 3)}
    Ns = [2 ** k for k in range(4, int(np.log2(args.cost_N_max)) + 1)]
    data["cost_vs_N"] = cost_vs_N(Ns, args.solve_N_max, args.radau_N_max, args.repeats)
    data["derive_seconds"] = median_time(derive.generate, 3)
    log(f"(c) derive {data['derive_seconds']:.2f} s")
    data["cold_warm"] = [] if args.skip_cold else cold_warm()
    data["meta"] = {"total_seconds": time.perf_counter() - start, "date": time.strftime("%Y-%m-%d"),
                    "gd_steps": args.gd_steps}
    (args.out / "speed.json").write_text(json.dumps(data, indent=1))
    text = report(data)
    (args.out / "speed.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
