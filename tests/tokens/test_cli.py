"""python -m gradflow: a short summary on success, one line on stderr and exit 2 on bad input."""

import subprocess
import sys

import pytest

import gradflow as gf


def run(*args):
    return subprocess.run([sys.executable, "-m", "gradflow", *args], capture_output=True, text=True)


def main(*args):
    """The CLI in-process (the same code ``python -m gradflow`` runs): (exit code, stdout)."""
    import contextlib
    import io
    from gradflow.cli import main as cli_main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli_main(list(args))
    return code, out.getvalue()


def test_solve_prints_summary_and_saves(tmp_path):
    out, fig = tmp_path / "r.npz", tmp_path / "r.png"
    code, stdout = main("solve", "--system", "tokens", "--N", "6", "--quiet", "--out", str(out), "--plot", str(fig))
    assert code == 0
    assert "order of the head (by the time each reaches 0.1, t_p(0.1)): gamma3 -> beta2 -> alpha3" in stdout
    assert gf.Result.load(out).task == gf.Task(6) and fig.stat().st_size > 0


def test_solve_three_parameters():
    code, stdout = main("solve", "--system", "tokens", "--N", "5", "--params", "alpha3,beta2,gamma3", "--flow", "weights", "--quiet")
    assert code == 0 and "3 of 19 pseudo-parameters free" in stdout


def test_stationary_start_exits_1_with_a_message():
    code, stdout = main("solve", "--system", "tokens", "--N", "5", "--L", "5", "--quiet")
    assert code == 1 and "stationary" in stdout
    code, stdout = main("solve", "--system", "tokens", "--N", "5", "--L", "5", "--quiet", "--theta0", "gamma3=0.1", "--t-max", "5")
    assert code == 0 and "t_max" in stdout


@pytest.mark.parametrize("args, text", [
    (("solve", "--system", "tokens", "--N", "1"), "N must be an integer >= 2"),
    (("solve", "--system", "tokens", "--N", "x"), "invalid int value"),
    (("solve", "--system", "tokens", "--params", "alpha3,zeta"), "unknown pseudo-parameter 'zeta'"),
    (("solve", "--system", "tokens", "--rtol", "-1"), "rtol must be"),
    (("check", "--system", "tokens", "--N", "4", "--K", "2"), "K must be an integer >= 4"),
    (("check", "--system", "tokens", "--eta", "0"), "eta must be"),
    (("train", "--system", "tokens", "--steps", "-2"), "steps must be"),
    (("frobnicate",), "invalid choice"),
    ((), "required"),
])
def test_bad_arguments_one_line_exit_2(args, text, capsys):
    """In-process: the same parser and exit path as ``python -m gradflow`` (tested below)."""
    from gradflow.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out = capsys.readouterr()
    assert exit_.value.code == 2
    assert out.out == "" and len(out.err.strip().splitlines()) == 1 and text in out.err
    assert "Traceback" not in out.err


def test_bad_argument_through_python_m_gradflow():
    p = run("solve", "--system", "tokens", "--N", "1")
    assert p.returncode == 2 and p.stdout == "" and len(p.stderr.strip().splitlines()) == 1
    assert "N must be an integer >= 2" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("args, text", [
    (("solve", "--system", "tokens", "--out", "."), "is a directory"),
    (("solve", "--system", "tokens", "--out", "x.txt"), "must end in .npz"),
    (("solve", "--system", "tokens", "--plot", "/nonexistent-dir/x.png"), "does not exist"),
    (("solve", "--system", "tokens", "--N", "1000000000"), "beyond this machine"),
    (("solve", "--system", "tokens", "--theta0", "gamma3"), "NAME=VALUE"),
    (("solve", "--system", "tokens", "--theta0", "zeta=1"), "unknown parameter 'zeta'"),
    (("solve", "--system", "tokens", "--threads", "0"), "threads must be an integer >= 1"),
    (("solve", "--system", "tokens", "--system", "nope"), "invalid choice"),
])
def test_bad_paths_and_sizes_exit_2_before_work(args, text, capsys):
    import time
    from gradflow.cli import main
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and text in err and len(err.strip().splitlines()) == 1
    assert time.perf_counter() - start < 2.0


def test_help_lists_defaults(capsys):
    from gradflow.cli import main
    with pytest.raises(SystemExit):
        main(["solve", "--help"])
    out = capsys.readouterr().out
    for text in ("(default: LSODA;", "(default: gd)", "(default: 1e-08)", "(default: 64)", "--theta0", "--threads"):
        assert text in out


def test_derive_check_through_the_cli(cached_derive, capsys):
    from gradflow.cli import main
    assert main(["derive", "--check"]) == 0 and "up to date" in capsys.readouterr().out
