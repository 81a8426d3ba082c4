"""Every system's generated kernels and closed forms are reproducible and not stale."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from gradflow.systems.tokens import derive

ROOT = Path(__file__).resolve().parents[2]


def test_committed_generated_files_are_not_stale(generated):
    for path, text in generated.items():
        assert (ROOT / path).read_text(encoding="utf-8") == text, f"{path} is stale"


def test_check_fails_on_a_modified_file(tmp_path, cached_derive, capsys):
    for path in cached_derive.generate():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    assert cached_derive.main(["--check", "--root", str(tmp_path)]) == 0
    target = tmp_path / derive.KERNELS
    target.write_text(target.read_text().replace("t0 = ", "t0 = 1.0 + ", 1))
    assert cached_derive.main(["--check", "--root", str(tmp_path)]) == 1
    assert str(derive.KERNELS) in capsys.readouterr().err


def test_python_m_gradflow_derive_runs_as_a_module():
    """The module runs as a script (its --check path is tested in-process above, with the session's
    one derivation)."""
    run = subprocess.run([sys.executable, "-m", "gradflow.derive", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "--check" in run.stdout and "--system" in run.stdout


def test_gradient_at_zero_closed_form_matches_the_kernels():
    import sympy as sp
    import gradflow as gf
    g1, g2, g3 = derive.gradient_at_zero()
    for N, L in ((5, 6), (12, 30)):
        subs = {derive.N: N, sp.Symbol("L", positive=True, integer=True): L}
        g = gf.grad(np.zeros(19), gf.Task(N, L=L))
        for sym, num in ((g1, g[16]), (g2, g[17]), (g3, g[18])):
            assert abs(float(sym.subs(subs).doit()) - num) <= 1e-14 * abs(num)


def test_three_parameter_closed_form_equals_the_reduced_loss():
    """The 3-parameter loss printed in derivations/closed_forms.md, evaluated by SymPy, equals
    gradflow.loss with only α3, β2, γ3 non-zero (1e-12 relative)."""
    import sympy as sp
    import gradflow as gf
    loss, ay, D = derive.three_parameter_loss()
    i, m = sp.symbols("i m", positive=True, integer=True)
    a3, b2 = derive.alpha[2], derive.beta[1]
    for N, L, vals in ((3, 4, (0.7, 2.0, 1.5)), (5, 9, (-0.4, 3.0, 4.0))):
        sig = 1 / (1 + sp.exp(-vals[0]))
        ay_num = ay.subs(sp.Function("sigma")(a3), sig).subs({a3: vals[0], b2: vals[1], derive.N: N})

        def a(ii, jj):
            return ay_num.subs({i: ii, derive.j: jj}).doit()
        # the printed loss: mean over i of log(Σ_j exp(γ3·a^y(i, j)) + L − N) − γ3·a^y(i, i)
        total = sum(sp.log(sum(sp.exp(vals[2] * a(ii, jj)) for jj in range(1, N + 1)) + L - N)
                    - vals[2] * a(ii, ii) for ii in range(1, N + 1)) / N
        theta = np.zeros(19)
        theta[[2, 5, 18]] = vals
        value = float(total)
        assert abs(value - gf.loss(theta, gf.Task(N, L=L))) < 1e-12 * value
