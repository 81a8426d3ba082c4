"""Jacobians by central differences of a vector function: the Newton matrix of a closed form that
has an exact gradient but no Hessian, and the solver's look at a start whose flow has no Jacobian."""

from __future__ import annotations

import numpy as np


def central_differences(fn, x, step, cols=None) -> np.ndarray:
    """The square Jacobian of ``fn`` at ``x`` by central differences: column k is
    (fn(x + h_k e_k) − fn(x − h_k e_k)) / (2 h_k), for k in ``cols`` (default all; the others 0).
    ``step`` is h, one number or one per coordinate. Its error is O(h²) plus rounding/h."""
    x = np.asarray(x, dtype=np.float64)
    steps = np.broadcast_to(np.asarray(step, dtype=np.float64), x.shape)
    out = np.zeros((len(x), len(x)))
    for k in range(len(x)) if cols is None else cols:
        e = np.zeros(len(x))
        e[k] = steps[k]
        out[:, k] = (fn(x + e) - fn(x - e)) / (2 * steps[k])
    return out
