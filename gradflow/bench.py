"""``python -m gradflow bench``: the performance benchmarks in one command, recorded with the machine
they ran on.

What a user waits for, each measured in this one run (so that ratios compare like with like):

* ``cold``: the README's main job (``solve --N 64``, and with ``--plot``) in a fresh process with an
  empty Numba cache, and again with the cache on disk (``warm``);
* ``hot``: ``solve(N=64)`` in this process, median of 5;
* ``jacobian``: the paper's 19-parameter flow at N = 4096 with the analytic Hessian as the
  Jacobian against difference quotients (the ratio behind ``PaperSystem.jacobian_pays``);
* ``markov``: the default markov solve (warm) and one evaluation at the authors' size.
* ``large``: the paper's 19-parameter flow at N = 65536 with exact and quadrature key sums, and at N = 2²⁰.

Writes ``<out>/bench.json`` (every number, the machine description) and ``bench.md``. Timings stay
out of the test suite; this is where they live.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PARTS = ("cold", "hot", "jacobian", "markov", "large")


def machine() -> dict:
    """What the numbers were measured on."""
    import numba
    import numpy
    import scipy
    from . import __version__, _threads
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                   "")
    except OSError:
        pass
    return {"gradflow": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "scipy": scipy.__version__, "numba": numba.__version__, "platform": platform.platform(),
            "cpu": cpu or platform.processor(), "cores": os.cpu_count(), "kernel_threads": _threads.count(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def _process(args: list, cache: str, cwd: str) -> float:
    """Seconds a fresh ``python -m gradflow ...`` takes with the Numba cache in ``cache``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "gradflow", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"python -m gradflow {' '.join(args)} failed: {run.stderr.strip()[-500:]}")
    return time.perf_counter() - start


def cold() -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra in (("solve", []), ("solve_plot", ["--plot", "solve.png"])):
            cache = tempfile.mkdtemp(dir=tmp)
            args = ["solve", "--N", "64", "--quiet", *extra]
            out[label] = {"cold_seconds": _process(args, cache, tmp), "warm_seconds": _process(args, cache, tmp)}
            out[label]["cold_over_warm"] = out[label]["cold_seconds"] / out[label]["warm_seconds"]
    return out


def median_seconds(call, repeats: int = 5) -> float:
    """Median wall time of ``call()`` over ``repeats`` runs, after one untimed run (compiling or
    loading what it needs)."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def hot() -> dict:
    from .solver import solve
    return {"solve_N64_seconds": median_seconds(lambda: solve(64))}


def jacobian(N: int = 4096) -> dict:
    from . import system as systems
    from .solver import solve
    cls = systems.get("paper")

    class Differences(cls):
        def jacobian_pays(self):
            return False
    out = {}
    for label, system in (("analytic", cls(N=N)), ("differences", Differences(N=N))):
        solve(system=system)                     # compile / load first
        start = time.perf_counter()
        r = solve(system=system)
        out[label] = {"seconds": time.perf_counter() - start, "nfev": r.stats["nfev"], "njev": r.stats["njev"],
                      "t_ICL": r.emergence["t_ICL"]}
    out["differences_over_analytic"] = out["differences"]["seconds"] / out["analytic"]["seconds"]
    out["t_ICL_relative_difference"] = abs(out["differences"]["t_ICL"] / out["analytic"]["t_ICL"] - 1)
    out["N"] = N
    return out


def markov() -> dict:
    from .solver import solve
    from .system import get
    solve(system="markov", count=200, length=20, t_max=1.0)       # compile / load the kernel
    start = time.perf_counter()
    r = solve(system="markov")
    default = time.perf_counter() - start
    s = get("markov")(count=9000, seed=1)
    theta = s.initial()
    return {"default_solve_seconds": default, "default_solve_status": r.status, "nfev": r.stats["nfev"],
            "evaluation_seconds_9000x100": median_seconds(lambda: s.loss_and_grad(theta)),
            "pairs": s.population.size}


def large(N: int = 65536) -> dict:
    """The paper's 19-parameter flow at N = 65536 with exact and with quadrature key sums, and at
    N = 2²⁰ (quadrature, the default there): seconds of one warm solve each."""
    from .solver import solve
    out = {"N": N}
    for sums in ("exact", "quadrature"):
        solve(N, sums=sums, t_max=1.0)                      # compile / load first
        start = time.perf_counter()
        r = solve(N, sums=sums)
        out[sums] = {"seconds": time.perf_counter() - start, "t_ICL": r.emergence["t_ICL"]}
    out["exact_over_quadrature"] = out["exact"]["seconds"] / out["quadrature"]["seconds"]
    start = time.perf_counter()
    r = solve(2 ** 20)
    out["N_2_20"] = {"seconds": time.perf_counter() - start, "status": r.status, "t_ICL": r.emergence["t_ICL"]}
    return out


def markdown(data: dict) -> str:
    m = data["machine"]
    lines = [f"`python -m gradflow bench` on {m['cpu']} ({m['cores']} cores, {m['kernel_threads']} kernel threads), "
             f"gradflow {m['gradflow']}, Python {m['python']}, NumPy {m['numpy']}, Numba {m['numba']}, "
             f"{m['date']}; load average at the start {m['load_average']}.", ""]
    if "cold" in data:
        for label, v in data["cold"].items():
            what = "`solve --N 64`" + (" `--plot`" if label == "solve_plot" else "")
            lines.append(f"* {what} in a fresh process: cold (empty Numba cache) {v['cold_seconds']:.2f} s, warm "
                         f"{v['warm_seconds']:.2f} s ({v['cold_over_warm']:.1f}×)")
    if "hot" in data:
        lines.append(f"* `solve(N=64)` hot: {data['hot']['solve_N64_seconds'] * 1e3:.1f} ms (median of 5)")
    if "jacobian" in data:
        j = data["jacobian"]
        lines.append(f"* paper, N = {j['N']}, 19 parameters: analytic Hessian as the Jacobian "
                     f"{j['analytic']['seconds']:.2f} s, difference quotients {j['differences']['seconds']:.2f} s "
                     f"({j['differences_over_analytic']:.2f}×); t_ICL agrees to {j['t_ICL_relative_difference']:.1e}")
    if "markov" in data:
        k = data["markov"]
        lines.append(f"* markov: the default solve {k['default_solve_seconds']:.2f} s warm ({k['default_solve_status']}, "
                     f"nfev {k['nfev']}); one evaluation at 9000 × 100: {k['evaluation_seconds_9000x100'] * 1e3:.1f} ms "
                     f"({k['pairs']} query–key pairs)")
    if "large" in data:
        g = data["large"]
        lines.append(f"* paper, 19 parameters, N = {g['N']}: exact key sums {g['exact']['seconds']:.1f} s, quadrature "
                     f"{g['quadrature']['seconds']:.2f} s ({g['exact_over_quadrature']:.0f}×; t_ICL agrees to "
                     f"{abs(g['quadrature']['t_ICL'] / g['exact']['t_ICL'] - 1):.1e}); N = 2²⁰: "
                     f"{g['N_2_20']['seconds']:.2f} s ({g['N_2_20']['status']})")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from ._validate import check_choice
    from .result import check_output_path
    p = argparse.ArgumentParser(prog="python -m gradflow bench", description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}")
    p.add_argument("--out", type=Path, default=Path("benchmarks") / "results",
                   help="folder for bench.json and bench.md")
    args = p.parse_args(argv)
    try:
        parts = [check_choice("--only", part.strip(), PARTS) for part in args.only.split(",") if part.strip()]
        if not parts:
            raise ValueError(f"--only must name at least one of {', '.join(PARTS)}")
        check_output_path(args.out / "bench.json", ".json")
    except (ValueError, OSError) as exc:
        print(f"{p.prog}: error: {exc}", file=sys.stderr)
        return 2
    data = {"machine": machine()}
    for part in parts:
        print(f"bench: {part} ...", file=sys.stderr, flush=True)
        data[part] = globals()[part]()
    (args.out / "bench.json").write_text(json.dumps(data, indent=1) + "\n")
    (args.out / "bench.md").write_text(markdown(data))
    print(markdown(data), end="")
    return 0
