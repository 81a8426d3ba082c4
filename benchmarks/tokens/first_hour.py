"""What a newcomer meets first, measured: cold start, hot solve per method, threads, load, and the
cost of a right-hand side before and after emergence (tokens system).

(a) ``python -m gradflow solve --system tokens|paper --N 64 --plot …`` in a fresh process with an
    empty Numba cache (compiling) and again with the cache on disk, with the compile time of each
    tokens kernel group;
(b) hot ``solve(N=64)`` per method (median of 5), right-hand sides, and the error of T against
    rtol 1e-12;
(c) the gradient at 1 and 2 threads (the threshold THREADS_MIN_N is taken from this table);
(d) two concurrent solves (separate processes) against one alone;
(e) one gradient at θ(T/2) and at θ(2T): the blocked shifts keep the cost after emergence;
(f) the README's main job hot: the default ``solve(N=64)`` (paper), median of 5.

Writes ``<out>/first_hour.json`` and ``.md``. Run: ``python benchmarks/tokens/first_hour.py``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BREAKDOWN = r"""
import json, time
t0 = time.perf_counter()
import numpy as np, gradflow as gf
from gradflow.systems.tokens import reduced
t1 = time.perf_counter()
th = np.zeros(19); th[16:] = 0.1
out = {"import": t1 - t0}
s = time.perf_counter(); reduced._pieces_jac(th, 64); out["pieces (generated kernels)"] = time.perf_counter() - s
Jc, g, Jg, p, Jp = reduced._pieces_jac(th, 64)
outs = reduced._allocate(64, float)
s = time.perf_counter(); reduced._blocks(p, g, th[16:].copy(), 1.0, True, 0, 8, *outs); out["block kernel"] = time.perf_counter() - s
s = time.perf_counter(); reduced._chain(Jc, Jg, Jp, *outs); out["chain rule"] = time.perf_counter() - s
s = time.perf_counter(); gf.solve(64, system="tokens", method="LSODA"); out["solve(N=64), LSODA"] = time.perf_counter() - s
s = time.perf_counter(); gf.hessian(th, gf.Task(64)); out["Hessian (Radau/BDF only)"] = time.perf_counter() - s
print(json.dumps(out))
"""


def cold_start(python):
    env = dict(os.environ)
    runs = {}
    for system in ("tokens", "paper"):
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as work:
            env["NUMBA_CACHE_DIR"] = cache
            cmd = [python, "-m", "gradflow", "solve", "--system", system, "--N", "64", "--plot",
                   str(Path(work) / "x.png"), "--quiet"]
            for label in ("cold", "warm"):
                s = time.perf_counter()
                subprocess.run(cmd, env=env, check=True, capture_output=True)
                runs[label if system == "tokens" else f"paper_{label}"] = time.perf_counter() - s
    with tempfile.TemporaryDirectory() as cache:
        env["NUMBA_CACHE_DIR"] = cache
        out = subprocess.run([python, "-c", BREAKDOWN], env=env, check=True, capture_output=True, text=True)
        runs["breakdown"] = json.loads(out.stdout.strip().splitlines()[-1])
    return runs


def hot_methods():
    import gradflow as gf
    ref = gf.solve(64, system="tokens", rtol=1e-12, atol=1e-14)
    rows = []
    for m in ("LSODA", "RK45", "DOP853", "BDF", "Radau"):
        gf.solve(8, system="tokens", method=m)
        times = []
        for _ in range(5):
            s = time.perf_counter()
            r = gf.solve(64, system="tokens", method=m)
            times.append(time.perf_counter() - s)
        rows.append({"method": m, "seconds": float(np.median(times)), "nfev": r.stats["nfev"],
                     "njev": r.stats["njev"], "T_error": abs(r.emergence["T"] / ref.emergence["T"] - 1)})
    return rows


def paper_hot():
    """The README's main job hot: the default ``solve(N=64)`` (paper, 19 parameters, LSODA),
    median of 5, and the error of t_ICL against rtol 1e-12."""
    import gradflow as gf
    ref = gf.solve(64, rtol=1e-12, atol=1e-14)
    gf.solve(64)
    times = []
    for _ in range(5):
        s = time.perf_counter()
        r = gf.solve(64)
        times.append(time.perf_counter() - s)
    return {"seconds": float(np.median(times)), "nfev": r.stats["nfev"], "njev": r.stats["njev"],
            "t_ICL_error": abs(r.emergence["t_ICL"] / ref.emergence["t_ICL"] - 1)}


def gradient_seconds(N, theta, reps=None):
    import gradflow as gf
    task = gf.Task(N)
    gf.loss_and_grad(theta, task)
    reps = reps or max(5, int(3e6 / N ** 2))
    s = time.perf_counter()
    for _ in range(reps):
        gf.loss_and_grad(theta, task)
    return (time.perf_counter() - s) / reps


def threads_table():
    from gradflow import _threads
    from gradflow.systems.tokens import reduced
    saved, reduced.THREADS_MIN_N = reduced.THREADS_MIN_N, 0     # measure below the threshold too
    rows = []
    try:
        for N in (64, 128, 256, 384, 512, 1024, 2048):
            theta = np.zeros(19)
            theta[[2, 5, 18]] = [1.0, N / 2, N / 2]
            t = {}
            for k in (1, 2):
                with _threads.using(k):
                    t[k] = gradient_seconds(N, theta)
            rows.append({"N": N, "one_thread_ms": 1e3 * t[1], "two_threads_ms": 1e3 * t[2], "speedup": t[1] / t[2]})
    finally:
        reduced.THREADS_MIN_N = saved
    return rows


def _timed_solve(N, barrier, queue):
    import gradflow as gf
    gf.solve(N, system="tokens")                                 # load kernels, warm up
    barrier.wait()
    s = time.perf_counter()
    gf.solve(N, system="tokens")
    queue.put(time.perf_counter() - s)


def concurrency(N=256):
    ctx = mp.get_context("spawn")
    out = {}
    for n in (1, 2):
        barrier, queue = ctx.Barrier(n), ctx.Queue()
        procs = [ctx.Process(target=_timed_solve, args=(N, barrier, queue)) for _ in range(n)]
        for p in procs:
            p.start()
        times = [queue.get() for _ in procs]
        for p in procs:
            p.join()
        out[n] = max(times)
    return {"N": N, "one_alone_s": out[1], "two_concurrent_s": out[2], "ratio": out[2] / out[1]}


def after_emergence(N=256):
    import gradflow as gf
    r = gf.solve(N, system="tokens")
    T = r.emergence["T"]
    before = gradient_seconds(N, r.theta_at(0.5 * T))
    after = gradient_seconds(N, r.theta_at(min(2 * T, r.t[-1])))
    return {"N": N, "before_ms": 1e3 * before, "after_ms": 1e3 * after, "ratio": after / before}


def markdown(d) -> str:
    c = d["cold_start"]
    lines = ["(a) `python -m gradflow solve --system tokens --N 64 --plot …` in a fresh process: "
             f"cold (empty Numba cache) {c['cold']:.1f} s, warm (cache on disk) {c['warm']:.2f} s; the README's main "
             f"job (`--system paper`, the default): cold {c['paper_cold']:.1f} s, warm {c['paper_warm']:.2f} s. "
             "Compile time of the tokens kernels by group (empty cache):", "",
             "| step | s |", "|---|---:|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in c["breakdown"].items()]
    lines += ["", "(b) hot `solve(N=64)` (median of 5), error of T against rtol 1e-12:", "",
              "| method | ms | nfev | njev | T error |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['method']} | {1e3 * r['seconds']:.1f} | {r['nfev']} | {r['njev']} | {r['T_error']:.1e} |"
              for r in d["methods"]]
    lines += ["", "(c) one gradient, 1 vs 2 threads:", "", "| N | 1 thread ms | 2 threads ms | speed-up |",
              "|---:|---:|---:|---:|"]
    lines += [f"| {r['N']} | {r['one_thread_ms']:.3f} | {r['two_threads_ms']:.3f} | {r['speedup']:.2f} |"
              for r in d["threads"]]
    k = d["concurrency"]
    e = d["after_emergence"]
    lines += ["", f"(d) hot `solve(N={k['N']})`: alone {k['one_alone_s']:.2f} s, two at once (separate "
              f"processes) {k['two_concurrent_s']:.2f} s: {k['ratio']:.2f}× the single wall time.", "",
              f"(e) one gradient at N = {e['N']}: {e['before_ms']:.2f} ms at θ(T/2), {e['after_ms']:.2f} ms at "
              f"θ(2T) ({e['ratio']:.2f}×).", ""]
    if "paper_hot" in d:
        ph = d["paper_hot"]
        lines += [f"(f) the default `solve(N=64)` (paper, 19 parameters, LSODA with the generated gradient; its Jacobians by differences below N = 4096) hot: "
                  f"{1e3 * ph['seconds']:.1f} ms (median of 5), nfev {ph['nfev']}, njev {ph['njev']}; t_ICL error against "
                  f"rtol 1e-12: {ph['t_ICL_error']:.1e}.", ""]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "tokens")
    args = p.parse_args(argv)
    start = time.perf_counter()
    d = {"cold_start": cold_start(sys.executable)}
    print("cold start", d["cold_start"], file=sys.stderr)
    d["methods"] = hot_methods()
    d["threads"] = threads_table()
    d["concurrency"] = concurrency()
    d["after_emergence"] = after_emergence()
    d["paper_hot"] = paper_hot()
    d["meta"] = {"seconds": time.perf_counter() - start, "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "first_hour.json").write_text(json.dumps(d, indent=1))
    (args.out / "first_hour.md").write_text(markdown(d))
    print(markdown(d))


if __name__ == "__main__":
    main()
