"""gradflow.sweep: grids, the JSON store, resuming, failures, a real dask LocalCluster (one worker
process), and a sweep
killed by a real signal and resumed."""

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gradflow import sweeps as sw

P3 = ("alpha3", "beta2", "gamma3")


def test_grid_expansion_and_validation():
    runs = sw.expand({"N": [4, 8], "query": ["last", "uniform"], "params": [P3]})
    assert len(runs) == 4 and runs[0] == {"N": 4, "query": "last", "params": list(P3), "system": "paper"}
    assert sw.parse_values("4:64:x2") == [4, 8, 16, 32, 64] and sw.parse_values("1:7:+3") == [1, 4, 7]
    assert sw.parse_values("last,uniform") == ["last", "uniform"]
    with pytest.raises(ValueError, match="unknown run argument"):
        sw.expand([{"N": 4, "frobnicate": 1}])
    with pytest.raises(ValueError, match="^query must be one of"):
        sw.expand({"N": [4], "query": ["first"]})
    with pytest.raises(ValueError, match="range step"):
        sw.parse_values("4:64:x1")
    assert sw.run_key({"N": 4, "system": "paper"}) != sw.run_key({"N": 8, "system": "paper"})


def test_store_resume_and_failures(tmp_path, monkeypatch):
    """A run that raises in its worker is stored as an error row and the sweep goes on; an argument
    that solve would refuse stops the whole sweep before any run (nothing written)."""
    with pytest.raises(ValueError, match="^rtol must be"):
        sw.sweep([{"N": 4, "params": P3}, {"N": 4, "params": P3, "rtol": -1.0}], tmp_path / "bad", progress=False)
    assert not list((tmp_path / "bad" / "runs").glob("*.json")) if (tmp_path / "bad").exists() else True
    import gradflow.solver
    real = gradflow.solver.solve

    def flaky(**kw):
        if kw.get("margin") == 3.0:
            raise RuntimeError("planted failure")
        return real(**kw)
    monkeypatch.setattr(gradflow.solver, "solve", flaky)
    runs = [{"N": 4, "params": P3}, {"N": 8, "params": P3}, {"N": 4, "params": P3, "margin": 3.0}]
    with ThreadPoolExecutor(2) as pool:
        rows = sw.sweep(runs, tmp_path, executor=pool, progress=False)
    assert [r["status"] for r in rows] == ["emerged", "emerged", "error"]
    assert "planted failure" in rows[2]["message"]
    files = sorted((tmp_path / "runs").glob("*.json"))
    assert len(files) == 3 and not list((tmp_path / "runs").glob(".*tmp"))
    stamp = {f: f.stat().st_mtime_ns for f in files}
    again = sw.sweep(runs, tmp_path, progress=False)                 # everything stored: nothing runs
    assert again == rows and {f: f.stat().st_mtime_ns for f in files} == stamp
    assert json.loads(files[0].read_text())["inputs"]["system"] == "paper"   # plain JSON
    assert "3 runs" in sw.status(tmp_path) and "error" in sw.status(tmp_path)


def test_dask_local_cluster_gives_the_same_rows(tmp_path):
    distributed = pytest.importorskip("distributed")
    runs = {"N": [4, 8], "params": [P3]}
    with ThreadPoolExecutor(1) as pool:                              # in-process: no spawn
        local = sw.sweep(runs, tmp_path / "local", executor=pool, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = sw.sweep(runs, tmp_path / "dask", executor=client, progress=False)
    for a, b in zip(local, remote):
        assert a["key"] == b["key"] and a["emergence"] == b["emergence"] and a["order"] == b["order"]
    assert {r["pid"] for r in remote}.isdisjoint({os.getpid()})     # solved in the cluster's workers


def test_killed_sweep_loses_nothing_and_resumes(tmp_path):
    """A real SIGINT to a real sweep process mid-way: every run it finished stays as written, no
    temporary file is left, and the resumed sweep computes only the rest."""
    out = tmp_path / "store"
    cmd = [sys.executable, "-m", "gradflow", "sweep", "--N", "8:24:+2", "--out", str(out), "--workers", "1"]
    # a job started in the background of a non-interactive shell (CI, nohup …) inherits SIGINT as
    # ignored: give the sweep the default disposition, as an interactive Ctrl-C would find it
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "runs").glob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGINT)
    p.wait(timeout=60)
    before = {f.name: f.read_text() for f in (out / "runs").glob("*.json")}
    assert 2 <= len(before) < 9, f"the sweep was not interrupted mid-way ({len(before)} of 9 runs stored)"
    assert not list((out / "runs").glob(".*tmp"))
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    after = {f.name: f.read_text() for f in (out / "runs").glob("*.json")}
    assert len(after) == 9                                              # N = 8, 10, …, 24
    assert all(after[name] == text for name, text in before.items())    # not computed twice
    new_pids = {json.loads(t)["pid"] for n, t in after.items() if n not in before}
    old_pids = {json.loads(t)["pid"] for t in before.values()}
    assert new_pids and new_pids.isdisjoint(old_pids)


def test_plot_from_the_store(tmp_path):
    with ThreadPoolExecutor(1) as pool:
        sw.sweep({"N": [4, 8, 16], "params": [P3]}, tmp_path, executor=pool, progress=False)
    path = sw.plot(tmp_path, tmp_path / "T.png", y="t_p/beta2/0.5")
    assert Path(path).stat().st_size > 10_000


def test_a_plot_that_would_draw_nothing_is_an_error(tmp_path):
    """An unknown --y, or a store of runs without the swept input: ValueError and no file; a
    result with a single step (a stationary start) likewise."""
    import gradflow as gf
    with ThreadPoolExecutor(1) as pool:
        sw.sweep({"N": [4, 8], "params": [P3]}, tmp_path, executor=pool, progress=False)
    with pytest.raises(ValueError, match="nothing to plot"):
        sw.plot(tmp_path, tmp_path / "a.png", y="t_p/nothing/0.5")
    with pytest.raises(ValueError, match="nothing to plot"):
        sw.plot(tmp_path, tmp_path / "b.png", x="K")
    assert not list(tmp_path.glob("*.png"))
    table = sw.table(tmp_path, y="t_p/beta2/0.5")
    assert table.splitlines()[0] == "t_p/beta2/0.5 against N:" and len(table.splitlines()) == 4
    r = gf.solve(6, system="tokens", L=6)                  # θ = 0 is stationary at L = N
    assert r.status == "stationary"
    with pytest.raises(ValueError, match="nothing to plot"):
        r.plot(tmp_path / "c.png")
