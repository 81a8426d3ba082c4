"""The code generator's forward mode (gradflow.codegen.forward) on a function with a known
gradient and Hessian: the chain rule through dense and single-variable primitives."""

import math

import numpy as np
import sympy as sp
from gradflow import _forward
from gradflow.codegen import Dense, Single, forward


def _compiled(level):
    x0, x1, x2, U, V = sp.symbols("x0 x1 x2 U V", real=True)
    e = U ** 2 * V + U * x0 + V ** 2 * x1 + sp.exp(U - x2)
    prims = [Dense(U, "du", "ddu", 2), Single(V, 2, "dv", "ddv"),
             Single(x0, 0, "1.0", "0.0"), Single(x1, 1, "1.0", "0.0"), Single(x2, 2, "1.0", "0.0")]
    body = forward(e, level, prims, "val", "g", "H", "t", 4)
    src = ("def f(x0, x1, x2, U, V, du, ddu, dv, ddv, g, H):\n    val = 0.0\n" + "\n".join(body)
           + "\n    return val\n")
    namespace = {"math": math, "np": np, **{k: getattr(_forward, k) for k in ("axpy", "axpy2", "cross", "outer1", "outer2")}}
    exec(src, namespace)
    # the composite: U = sin(x0)·x1 (depends on x0, x1: dense, size 2), V = exp(x2) (x2 only)
    X = sp.symbols("x0 x1 x2", real=True)
    Ux, Vx = sp.sin(X[0]) * X[1], sp.exp(X[2])
    composite = e.subs({U: Ux, V: Vx, x0: X[0], x1: X[1], x2: X[2]})
    return namespace["f"], X, Ux, Vx, composite


def test_forward_mode_gradient_and_hessian_equal_sympys():
    """At a random point: value, gradient and Hessian of the composite against SymPy's own
    derivatives of the substituted expression (1e-13 relative)."""
    f, X, Ux, Vx, composite = _compiled("hess")
    point = {X[0]: 0.7, X[1]: -1.3, X[2]: 0.4}
    num = lambda e: float(e.subs(point))                       # noqa: E731
    du = np.array([num(sp.diff(Ux, X[0])), num(sp.diff(Ux, X[1])), 0.0])
    ddu = np.array([[num(sp.diff(Ux, a, b)) for b in X] for a in X])
    g, H = np.zeros(3), np.zeros((3, 3))
    val = f(0.7, -1.3, 0.4, num(Ux), num(Vx), du, ddu, num(sp.diff(Vx, X[2])), num(sp.diff(Vx, X[2], 2)), g, H)
    g_ref = np.array([num(sp.diff(composite, a)) for a in X])
    H_ref = np.array([[num(sp.diff(composite, a, b)) for b in X] for a in X])
    assert abs(val - num(composite)) <= 1e-13 * abs(num(composite))
    assert np.max(np.abs(g - g_ref)) <= 1e-13 * np.max(np.abs(g_ref))
    assert np.max(np.abs(H - H_ref)) <= 1e-13 * np.max(np.abs(H_ref))


def test_forward_mode_levels_and_structural_zeros():
    """Level "val" writes the value only; an unknown level is refused."""
    x, U = sp.symbols("x U", real=True)
    assert forward(U * x, "val", [Dense(U, "du", "ddu", 1), Single(x, 0, "1.0", "0.0")], "v", "g", "H", "t", 0)[-1] \
        .startswith("v += ")
    import pytest
    with pytest.raises(ValueError, match="level must be one of"):
        forward(U * x, "grad", [], "v", "g", "H", "t", 0)
