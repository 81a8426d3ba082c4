"""The code generator's forward and reverse modes (gradflow.codegen) on functions with a known
gradient and Hessian: the chain rule through dense and single-variable primitives."""

import math

import numpy as np
import pytest
import sympy as sp

from gradflow import _forward
from gradflow.codegen import FORWARD_HELPERS, Dense, Single, forward, reverse

X = sp.symbols("x0 x1 x2", real=True)
U, W, P, V = sp.symbols("U W P V", real=True)
#: dense primitives as functions of (x0, x1) (support 2) and a single one of x2
DEFS = {U: sp.sin(X[0]) * X[1], W: sp.cos(X[1]) * X[0], P: X[0] + X[1] ** 2, V: sp.exp(X[2])}
CASES = {
    "one dense": U ** 2 * V + U * X[0] + V ** 2 * X[1] + sp.exp(U - X[2]),               # outer1
    "two dense": U ** 2 * V + U * W * X[2] + W ** 2 * X[1] + sp.exp(U - W),              # quad2
    "three dense": U * W * P + P ** 2 * V + sp.exp(W - X[2]) * U + P * X[0],             # quad4, padded
}
POINT = {X[0]: 0.7, X[1]: -1.3, X[2]: 0.4}


def _num(e):
    return float(e.subs(POINT))


def _primitives():
    dense = [Dense(s, f"d{s}", f"dd{s}", 2) for s in (U, W, P)]
    return dense + [Single(V, 2, "dV", "ddV")] + [Single(x, i, "1.0", "0.0") for i, x in enumerate(X)]


def _inputs():
    vals = {str(s): _num(e) for s, e in DEFS.items()}
    for s in (U, W, P):
        vals[f"d{s}"] = np.array([_num(sp.diff(DEFS[s], x)) for x in X])
        vals[f"dd{s}"] = np.array([[_num(sp.diff(DEFS[s], a, b)) for b in X] for a in X])
    vals["dV"] = vals["ddV"] = _num(DEFS[V])
    return vals


def _run(body, **arrays):
    names = ["x0", "x1", "x2"] + list(_inputs()) + list(arrays)
    src = f"def f({', '.join(names)}):\n    val = 0.0\n" + "\n".join(body) + "\n    return val\n"
    namespace = {"math": math, "np": np, **{k: getattr(_forward, k) for k in FORWARD_HELPERS}}
    exec(src, namespace)
    return namespace["f"](*(_num(x) for x in X), *_inputs().values(), *arrays.values())


@pytest.mark.parametrize("case", list(CASES))
def test_forward_mode_gradient_and_hessian_equal_sympys(case):
    """Value, gradient and Hessian of the composite (the primitives substituted) against SymPy's
    own derivatives, 1e-13 relative; covers outer1, quad2 and quad4."""
    e = CASES[case]
    composite = e.subs(DEFS)
    g, H = np.zeros(3), np.zeros((3, 3))
    val = _run(forward(e, "hess", _primitives(), "val", "g", "H", "t", 4), g=g, H=H)
    g_ref = np.array([_num(sp.diff(composite, a)) for a in X])
    H_ref = np.array([[_num(sp.diff(composite, a, b)) for b in X] for a in X])
    assert abs(val - _num(composite)) <= 1e-13 * abs(_num(composite))
    assert np.max(np.abs(g - g_ref)) <= 1e-13 * np.max(np.abs(g_ref))
    assert np.max(np.abs(H - H_ref)) <= 1e-13 * np.max(np.abs(H_ref))


@pytest.mark.parametrize("case", list(CASES))
def test_reverse_mode_gradient_equals_sympys(case):
    """reverse(): the partials in the dense primitives go to their adjoints, which, times the
    primitives' gradients, plus the single primitives' terms, give SymPy's gradient (1e-13)."""
    e = CASES[case]
    composite = e.subs(DEFS)
    adj = {s: np.zeros(1) for s in (U, W, P)}
    g = np.zeros(3)
    body = reverse(e, _primitives(), "val", "g", {s: f"a{s}[0]" for s in (U, W, P)}, "t", 4)
    _run(body, g=g, **{f"a{s}": a for s, a in adj.items()})
    inputs = _inputs()
    g += sum(adj[s][0] * inputs[f"d{s}"] for s in (U, W, P))
    g_ref = np.array([_num(sp.diff(composite, a)) for a in X])
    assert np.max(np.abs(g - g_ref)) <= 1e-13 * np.max(np.abs(g_ref))


def test_levels_are_checked():
    with pytest.raises(ValueError, match="level must be one of"):
        forward(U * X[0], "grad", [], "v", "g", "H", "t", 0)
