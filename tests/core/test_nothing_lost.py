"""Nothing lost, nothing silently wrong (issue 21): damaged stores, outputs checked before work,
interrupts that keep what was computed, sizes refused before work, arguments named in errors,
byte-identical saves, and the compile notice only when Numba compiles."""

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import gradflow as gf
from gradflow import sweeps as sw
from gradflow import system as systems

P3 = ("alpha3", "beta2", "gamma3")
CLI = [sys.executable, "-m", "gradflow"]


def _sweep(runs, store):
    with ThreadPoolExecutor(1) as pool:
        return sw.sweep(runs, store, executor=pool, progress=False)


def test_a_damaged_store_loses_no_valid_run(tmp_path, capsys):
    """Every kind of damage at once: two stored runs emptied and truncated, and foreign files (a JSON
    list, a row without its fields, a row of a future store version, one whose key is not its name,
    bytes that are not UTF-8, a folder named like a row). status and plot read the rest and name
    each damaged file; the next sweep sets them aside, recomputes the two runs and leaves the valid
    one byte for byte."""
    runs = {"N": [4, 6, 8], "params": [P3]}
    rows = _sweep(runs, tmp_path)
    folder = tmp_path / "runs"
    files = {r["inputs"]["N"]: folder / f"{r['key']}.json" for r in rows}
    keep = files[6].read_bytes()
    files[4].write_text("")
    files[8].write_text(files[8].read_text()[:40])
    foreign = {"list.json": "[1, 2]", "fields.json": '{"key": "fields"}',
               "future.json": json.dumps(dict(rows[1], key="future", store_version=99)),
               "renamed.json": json.dumps(rows[1])}
    for name, text in foreign.items():
        (folder / name).write_text(text)
    (folder / "bytes.json").write_bytes(b"\xff\xfe\x00garbage")
    (folder / "dir.json").mkdir()
    damaged = {files[4].name, files[8].name, *foreign, "bytes.json", "dir.json"}
    status = sw.status(tmp_path)
    assert "1 runs" in status and all(name in status for name in damaged)
    for what in ("empty file", "not JSON", "a JSON list", "'inputs' is missing", "store version 99",
                 "does not match its file name", "unreadable"):
        assert what in status, what
    assert Path(sw.plot(tmp_path, tmp_path / "T.png", y="t_p/beta2/0.5")).stat().st_size > 10_000
    capsys.readouterr()
    again = _sweep(runs, tmp_path)
    err = capsys.readouterr().err
    assert all(f"set aside {folder / name}" in err for name in damaged)
    assert [r["status"] for r in again] == ["emerged"] * 3
    assert files[6].read_bytes() == keep
    assert sorted(p.name for p in (tmp_path / sw.SET_ASIDE).iterdir()) == sorted(damaged)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in files.values())
    assert "  damaged: " not in sw.status(tmp_path)


def test_a_store_write_interrupted_halfway_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C between writing the temporary file and renaming it: no row, no temporary file; a row
    that cannot be written as strict JSON (NaN) likewise."""
    path = tmp_path / "k.json"
    path.write_text('{"old": 1}')

    def interrupted(src, dst):
        raise KeyboardInterrupt
    monkeypatch.setattr(sw.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sw._write_atomic(path, {"key": "k"})
    monkeypatch.undo()
    with pytest.raises(ValueError):
        sw._write_atomic(path, {"key": "k", "x": float("nan")})
    assert [p.name for p in tmp_path.iterdir()] == ["k.json"] and path.read_text() == '{"old": 1}'


@pytest.mark.parametrize("args, message", [
    (["solve", "--N", "65536", "--plot", "x.xyz"], "a figure path must end in one of"),
    (["solve", "--N", "65536", "--out", "/proc/x.npz"], "folder /proc is not writable"),
    (["solve", "--N", "65536", "--out", "/nonexistent/x.npz"], "folder /nonexistent does not exist"),
    (["solve", "--N", "65536", "--out", "x.csv"], "path must end in .npz"),
    (["solve", "--params", "alpha3,alpha3"], "params names alpha3 more than once"),
    (["solve", "--rtol", "-1e-8"], "rtol must be a finite number > 0, got -1e-08"),
    (["sweep", "--N", "-4:8:x2", "--out", "S"], "a geometric range must start above 0"),
    (["sweep", "--N", "256:4:x2", "--out", "S"], "range must have lo <= hi"),
    (["sweep", "--N", "4", "--method", "euler", "--out", "S"], "method must be one of"),
    (["sweep", "--N", "4,100000000", "--out", "S"], "N = 100000000 is beyond this machine"),
    (["sweep", "--N", "4", "--workers", "0", "--out", "S"], "workers must be an integer >= 1"),
    (["sweep", "--status", "--out", "no-such-store"], "has no runs folder"),
    (["sweep", "--plot", "T.xyz", "--out", "S"], "a figure path must end in one of"),
    (["sweep", "--N", "4", "--out", "/proc/store"], "store '/proc/store' is not a writable folder"),
    (["solve", "--system", "markov", "--S", "1000"], "is beyond this machine"),
])
def test_the_cli_refuses_before_any_work(args, message, tmp_path):
    """One line on stderr naming what is wrong, exit 2, nothing solved (no summary), nothing written."""
    run = subprocess.run(CLI + args, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert run.stdout == "" and list(tmp_path.iterdir()) == []


def _interrupt(cmd, cwd, sig, marker="t = "):
    """Start ``cmd``, wait for a progress line containing ``marker``, send ``sig``."""
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    deadline = time.time() + 120
    while time.time() < deadline:
        line = p.stderr.readline()
        seen.append(line)
        if marker in line or not line:
            break
    os.killpg(p.pid, sig)
    out, err = p.communicate(timeout=60)
    return p.returncode, out, "".join(seen) + err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_solve_saves_what_it_has(sig, tmp_path):
    """Ctrl-C (or SIGTERM) during solve --out: exit 130, one line saying what was saved, no
    traceback, and the file holds the trajectory so far with status 'interrupted'."""
    code, out, err = _interrupt(CLI + ["solve", "--system", "markov", "--out", "run.npz"], tmp_path, sig)
    assert code == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("interrupted: saved ")
    r = gf.Result.load(tmp_path / "run.npz")
    assert r.status == "interrupted" and len(r.t) > 1 and np.all(np.diff(r.t) > 0)
    assert r.log_params and np.all(np.isfinite(r.log_abs_theta[:, -2]))


def test_an_interrupted_sweep_says_how_to_resume(tmp_path):
    cmd = CLI + ["sweep", "--N", "8:24:+2", "--out", "store", "--workers", "1"]
    code, _, err = _interrupt(cmd, tmp_path, signal.SIGINT, marker="done 2/")
    assert code == 130 and "Traceback" not in err, err
    stored = len(list((tmp_path / "store" / "runs").glob("*.json")))
    assert err.strip().splitlines()[-1] == (f"interrupted: {stored} runs stored in store, {9 - stored} to run; "
                                            "run the same command again to resume")
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert again.returncode == 0 and again.stderr.splitlines()[0].startswith(f"{stored} stored, {9 - stored} to run")


def test_a_sweep_validates_every_run_before_the_first(tmp_path):
    with pytest.raises(ValueError, match="N = 100000000 is beyond this machine"):
        sw.sweep([{"N": 4, "params": P3}, {"N": 10 ** 8}], tmp_path, progress=False)
    with pytest.raises(ValueError, match="^store .* is not a writable folder"):
        sw.sweep([{"N": 4}], "/proc/store", progress=False)
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("sizes", [dict(S=1000), dict(n=12), dict(count=10 ** 8), dict(length=10 ** 7),
                                   dict(S=12, H=6, degree=6), dict(population="stationary", count=10 ** 5),
                                   dict(population="stationary", S=4, n=4)])
def test_markov_refuses_sizes_beyond_the_machine(sizes):
    """Each size can make an evaluation too large; the refusal states the estimated memory and time,
    before anything is built."""
    from gradflow.systems.markov import MarkovSystem
    s = MarkovSystem(**sizes)
    with pytest.raises(ValueError, match=r"beyond this machine: one evaluation needs about .* GiB and .* s"):
        s.check_size_limits()
    assert "population" not in s.__dict__            # nothing was built


def test_markov_cost_estimate_is_at_its_limit_exactly():
    """A setting whose estimate is exactly at a limit passes; just above, it is refused."""
    from gradflow.systems import markov
    s = markov.MarkovSystem()
    memory, seconds = s.cost()
    old = markov.MAX_BYTES, markov.MAX_EVAL_SECONDS
    try:
        markov.MAX_BYTES, markov.MAX_EVAL_SECONDS = memory, seconds
        s.check_size_limits()
        markov.MAX_BYTES = memory * (1 - 1e-12)
        with pytest.raises(ValueError, match="beyond this machine"):
            s.check_size_limits()
    finally:
        markov.MAX_BYTES, markov.MAX_EVAL_SECONDS = old


def test_api_errors_name_their_argument(tmp_path):
    with pytest.raises(TypeError, match="^theta0 must be a sequence of 19 numbers, got a dict"):
        gf.solve(8, theta0={"beta2": 0.1})
    with pytest.raises(ValueError, match="^params names beta2 more than once"):
        gf.solve(8, params=("beta2", "beta2", "alpha3"))
    with pytest.raises(ValueError, match="^N must be an integer >= 2"):
        gf.Task(1)
    with pytest.raises(ValueError, match="^runs must hold at least one run"):
        sw.sweep([], tmp_path, progress=False)
    r = gf.solve(8, params=P3)
    r.save(tmp_path / "run")
    from gradflow.result import json_ready
    back = gf.Result.load(tmp_path / "run")
    assert json_ready(back.emergence) == json_ready(r.emergence)
    # the held parameters round-trip: the loaded result knows which ones moved
    assert back.params == tuple(sorted(P3, key=back.names.index)) and back.order == r.order


def test_identical_runs_save_identical_bytes(tmp_path):
    a = gf.solve(8, params=P3).save(tmp_path / "a.npz")
    b = gf.solve(8, params=P3).save(tmp_path / "b.npz")
    assert a.read_bytes() == b.read_bytes()
    timed = gf.solve(8, params=P3).save(tmp_path / "c.npz", timings=True)
    assert "wall_seconds" in gf.Result.load(timed).stats and "wall_seconds" not in gf.Result.load(a).stats


@pytest.mark.parametrize("name", systems.available())
def test_sweep_keys_differ_in_every_size(name):
    """Two runs that differ in any one size argument of any system never share a key."""
    cls = systems.get(name)
    base = {"system": name}
    keys = {sw.run_key(base)}
    for s in cls.sizes_spec:
        if s.choices:
            other = next(c for c in s.choices if c != s.default)
        elif s.kind == "float":
            other = (s.default or 1.0) * 1.5
        else:
            other = (s.default or s.low) + 1
        keys.add(sw.run_key(dict(base, **{s.name: other})))
    assert len(keys) == len(cls.sizes_spec) + 1


def test_the_compile_notice_only_when_numba_compiles(monkeypatch, capsys):
    """A slow first call that compiles is announced; one that is slow for another reason (a cache
    load on a busy machine) is not."""
    from numba import njit

    from gradflow import _compile
    monkeypatch.setattr(_compile, "ANNOUNCE_AFTER", 0.0)

    @njit
    def fresh(x):
        return x + 1.5
    with _compile.first_call("a fresh test kernel"):
        time.sleep(0.2)
        fresh(1.0)
        time.sleep(0.2)
    assert "compiling a fresh test kernel" in capsys.readouterr().err
    with _compile.first_call("a slow call that compiles nothing"):
        fresh(2.0)
        time.sleep(0.3)
    assert capsys.readouterr().err == ""


def test_paper_size_limit_is_at_its_edge_exactly():
    """Exact key sums: up to N = 10^7; by quadrature (the default above 65536): up to 2^25."""
    from gradflow.systems.paper import PaperSystem
    PaperSystem(N=10 ** 7, sums="exact").check_size_limits()
    with pytest.raises(ValueError, match="beyond this machine.*sums='quadrature' reaches 2"):
        PaperSystem(N=10 ** 7 + 1, sums="exact").check_size_limits()
    PaperSystem(N=2 ** 25).check_size_limits()
    with pytest.raises(ValueError, match=r"^N = 33554433 is beyond this machine: the limit is N = 33554432 \(2\^25\)"):
        PaperSystem(N=2 ** 25 + 1).check_size_limits()


def test_a_loss_criterion_exactly_at_the_start_level():
    """𝓛 < level located as the infimum of the times where it holds: with level = 𝓛(θ0) exactly
    and 𝓛 strictly decreasing, that is t = 0; one ulp lower, a time of the order of that ulp over
    |d𝓛/dt| (here 5.6 ulp ≈ 8.9e-16 over |d𝓛/dt| = 14: about 6e-17), never a later step."""
    from toys import Quadratic
    q = Quadratic(coupled=0)
    start = q.loss(np.zeros(3))
    below = np.nextafter(start, -np.inf)
    r = gf.solve(system=q, t_max=1.0, criteria=[gf.LossBelow("at", start), gf.LossBelow("below", below)])
    rate = float(np.sum(q.B ** 2))            # |d𝓛/dt| at θ = 0 is |∇𝓛|² = |b|²
    assert r.emergence["at"] == 0.0
    assert 0.0 < r.emergence["below"] <= 2 * (start - below) / rate


def test_an_unwritable_output_path_is_a_value_error_naming_it(tmp_path):
    """Result.save to a folder that refuses files: before anything is written, an error that is
    both a ValueError (a bad argument) and an OSError, naming the path."""
    r = gf.solve(8, params=P3)
    with pytest.raises(ValueError, match="/proc/x.npz") as info:
        r.save("/proc/x.npz")
    assert isinstance(info.value, OSError)
    with pytest.raises(ValueError, match="does not exist"):
        r.plot(tmp_path / "missing" / "x.png")


def test_sweep_workers_leave_ctrl_c_to_the_parent():
    """A worker process ignores SIGINT (the parent alone handles Ctrl-C and ends the workers), and
    runs its kernels on one thread."""
    code = ("import signal, os; from gradflow.sweeps import _worker_init; _worker_init(); "
            "print(signal.getsignal(signal.SIGINT) == signal.SIG_IGN, os.environ['GRADFLOW_THREADS'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "1"], out.stderr


def test_bench_records_its_numbers_with_the_machine(tmp_path):
    """python -m gradflow bench: a bad part is refused before any work (one line, exit 2); a part
    writes bench.json (with the machine description) and bench.md. Its timings are not asserted:
    speed lives in benchmarks/results/, not in the test suite."""
    bad = subprocess.run(CLI + ["bench", "--only", "warp"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--only must be one of" in bad.stderr
    run = subprocess.run(CLI + ["bench", "--only", "hot", "--out", str(tmp_path)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    data = json.loads((tmp_path / "bench.json").read_text())
    assert {"cpu", "cores", "numba", "date"} <= set(data["machine"]) and data["hot"]["solve_N64_seconds"] > 0
    assert "solve(N=64)" in (tmp_path / "bench.md").read_text()


def test_a_slow_plot_says_so_and_a_quick_one_does_not(tmp_path, capsys, monkeypatch):
    """The CLI announces a plot that takes longer than SAY_AFTER on stderr, with its duration; a
    quick one prints only its "plotted" line."""
    from gradflow import _slow
    from gradflow.cli import main
    assert main(["solve", "--N", "4", "--params", "alpha3,beta2,gamma3", "--plot", str(tmp_path / "a.png")]) == 0
    assert "drawing" not in capsys.readouterr().err
    monkeypatch.setattr(_slow, "SAY_AFTER", 0.0)
    assert main(["solve", "--N", "4", "--params", "alpha3,beta2,gamma3", "--plot", str(tmp_path / "b.png")]) == 0
    err = capsys.readouterr().err
    assert f"gradflow: drawing {tmp_path / 'b.png'} ..." in err and err.rstrip().endswith(" s")
