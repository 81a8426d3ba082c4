"""One study three ways: serial (1 worker), 2 local worker processes, and a 2-worker dask
LocalCluster, each into a fresh store; wall times and the check that all three stores agree.

The study: the paper system, query last, 3 and 19 parameters, N = 4 … 512 (16 solves).
Writes ``benchmarks/results/sweep_speed.json`` and ``.md``. Run: ``python benchmarks/sweep_speed.py``.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from gradflow import sweeps as sw

RUNS = {"system": "paper", "N": [4, 8, 16, 32, 64, 128, 256, 512], "params": [("alpha3", "beta2", "gamma3"), None]}


def timed(fn):
    start = time.perf_counter()
    rows = fn()
    return time.perf_counter() - start, rows


def main():
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        out["serial"], a = timed(lambda: sw.sweep(RUNS, tmp / "serial", workers=1, progress=False))
        out["local_2_workers"], b = timed(lambda: sw.sweep(RUNS, tmp / "local", workers=2, progress=False))
        from distributed import Client, LocalCluster
        start = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            out["dask_cluster_start"] = time.perf_counter() - start
            out["dask_2_workers"], c = timed(lambda: sw.sweep(RUNS, tmp / "dask", executor=client, progress=False))
    same = all(x["emergence"] == y["emergence"] == z["emergence"] for x, y, z in zip(a, b, c))
    solve_seconds = sum(r["wall_seconds"] for r in a)
    data = {"runs": len(a), "seconds": out, "sum_of_solve_seconds_serial": solve_seconds, "stores_agree": same,
            "speedup_local": out["serial"] / out["local_2_workers"], "speedup_dask": out["serial"] / out["dask_2_workers"],
            "date": time.strftime("%Y-%m-%d")}
    results = Path(__file__).resolve().parent / "results"
    (results / "sweep_speed.json").write_text(json.dumps(data, indent=1))
    md = (f"`python benchmarks/sweep_speed.py`: {len(a)} solves (paper, query last, 3 and 19 parameters, N = 4 … 512) "
          f"on this 2-core machine. Serial (1 worker): {out['serial']:.1f} s; 2 local worker processes: "
          f"{out['local_2_workers']:.1f} s ({data['speedup_local']:.2f}×); 2-worker dask LocalCluster: "
          f"{out['dask_2_workers']:.1f} s ({data['speedup_dask']:.2f}×; the cluster took {out['dask_cluster_start']:.1f} s "
          f"to start). The three stores agree exactly: {same}.\n")
    (results / "sweep_speed.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
