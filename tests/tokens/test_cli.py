"""python -m gradflow: a short summary on success, one line on stderr and exit 2 on bad input."""

import subprocess
import sys

import pytest

import gradflow as gf


def run(*args):
    return subprocess.run([sys.executable, "-m", "gradflow", *args], capture_output=True, text=True)


def test_solve_prints_summary_and_saves(tmp_path):
    out, fig = tmp_path / "r.npz", tmp_path / "r.png"
    p = run("solve", "--N", "6", "--quiet", "--out", str(out), "--plot", str(fig))
    assert p.returncode == 0, p.stderr
    assert "order (by t_p(0.1)): gamma3 -> beta2 -> alpha3" in p.stdout
    assert gf.Result.load(out).task == gf.Task(6) and fig.stat().st_size > 0


def test_solve_three_parameters():
    p = run("solve", "--N", "5", "--params", "alpha3,beta2,gamma3", "--flow", "weights", "--quiet")
    assert p.returncode == 0 and "params 3" in p.stdout


def test_stationary_start_exits_1_with_a_message():
    p = run("solve", "--N", "5", "--L", "5", "--quiet")
    assert p.returncode == 1 and "stationary" in p.stdout


@pytest.mark.parametrize("args, text", [
    (("solve", "--N", "1"), "N must be an integer >= 2"),
    (("solve", "--N", "x"), "invalid int value"),
    (("solve", "--params", "alpha3,zeta"), "unknown pseudo-parameter 'zeta'"),
    (("solve", "--rtol", "-1"), "rtol must be"),
    (("check", "--N", "4", "--K", "2"), "K must be an integer >= 4"),
    (("check", "--eta", "0"), "eta must be"),
    (("train", "--steps", "-2"), "steps must be"),
    (("frobnicate",), "invalid choice"),
    ((), "required"),
])
def test_bad_arguments_one_line_exit_2(args, text):
    p = run(*args)
    assert p.returncode == 2
    assert p.stdout == "" and len(p.stderr.strip().splitlines()) == 1 and text in p.stderr
    assert "Traceback" not in p.stderr


def test_derive_check_through_the_cli():
    p = run("derive", "--check")
    assert p.returncode == 0 and "up to date" in p.stdout
