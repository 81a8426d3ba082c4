"""The generated kernels and closed forms are reproducible and not stale."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from gradflow import derive

ROOT = Path(__file__).resolve().parent.parent


def test_committed_generated_files_are_not_stale():
    for path, text in derive.generate().items():
        assert (ROOT / path).read_text(encoding="utf-8") == text, f"{path} is stale"


def test_check_fails_on_a_modified_file(tmp_path):
    for path in derive.generate():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    cmd = [sys.executable, "-m", "gradflow.derive", "--check", "--root", str(tmp_path)]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    target = tmp_path / derive.KERNELS
    target.write_text(target.read_text().replace("t0 = ", "t0 = 1.0 + ", 1))
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 1 and str(derive.KERNELS) in run.stderr


def test_gradient_at_zero_closed_form_matches_the_kernels():
    import sympy as sp
    import gradflow as gf
    g1, g2, g3 = derive.gradient_at_zero()
    for N, L in ((5, 6), (12, 30)):
        subs = {derive.N: N, sp.Symbol("L", positive=True, integer=True): L}
        g = gf.grad(np.zeros(19), gf.Task(N, L=L))
        for sym, num in ((g1, g[16]), (g2, g[17]), (g3, g[18])):
            assert abs(float(sym.subs(subs).doit()) - num) <= 1e-14 * abs(num)
