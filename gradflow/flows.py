"""Right-hand sides and Jacobians of the two gradient flows of SPEC §5.

``flow="theta"``   (pseudo-parameter flow, the theory's object):  dθ/dt = −∇_θ𝓛
``flow="weights"`` (what gradient descent on the full transformer does): dθ/dt = −G⁻¹∇_θ𝓛

Both can be restricted to a subset of the pseudo-parameters (the others held fixed). For the
weight flow the restriction is the gradient flow of the full weights constrained to the span of
the free directions, dθ_S/dt = −(G_SS)⁻¹ ∇_S𝓛. Gradients and Hessians come from the
Numba-compiled, disk-cached kernels of :mod:`gradflow.reduced`.
"""

from __future__ import annotations

import numpy as np

from . import reduced
from .subspace import NAMES, gram_matrix, index
from .task import Task

FLOWS = ("theta", "weights")


class Flow:
    """dθ_S/dt = −M ∇_S𝓛 on the free pseudo-parameters S (``M`` = I or (G_SS)⁻¹)."""

    def __init__(self, task: Task, flow: str = "theta", params=None, theta0=None):
        if flow not in FLOWS:
            raise ValueError(f"flow must be one of {FLOWS}, got {flow!r}")
        self.task, self.flow = task, flow
        names = NAMES if params is None else tuple(params)
        if isinstance(params, str) or len(names) == 0:
            raise ValueError("params must be a non-empty sequence of pseudo-parameter names")
        self.idx = np.array(sorted({index(n) for n in names}))
        self.params = tuple(NAMES[k] for k in self.idx)
        self.theta0 = np.zeros(19) if theta0 is None else reduced._check_theta(theta0).copy()
        if flow == "weights":
            G = gram_matrix(task)[np.ix_(self.idx, self.idx)]
            self.M = np.linalg.inv(G)
        else:
            self.M = None
        self._n_absent = float(task.L - task.N)
        self._last = (None, None)           # (y, loss) of the latest right-hand side

    def full(self, y) -> np.ndarray:
        """The 19-vector with the free entries set to ``y``."""
        theta = self.theta0.copy()
        theta[self.idx] = y
        return theta

    def loss(self, y) -> float:
        """𝓛 at the free values ``y`` (reused from the latest right-hand side at the same y)."""
        last_y, last_loss = self._last
        if last_y is not None and np.array_equal(last_y, y):
            return last_loss
        return reduced.loss(self.full(y), self.task)

    @property
    def last_loss(self) -> float:
        """𝓛 at the point of the latest right-hand side evaluation."""
        return self._last[1]

    def rhs(self, t, y) -> np.ndarray:
        value, g = reduced._loss_grad(self.full(y), self.task.N, self._n_absent)
        self._last = (np.array(y, copy=True), value)
        g = g[self.idx]
        return -g if self.M is None else -(self.M @ g)

    def jac(self, t, y) -> np.ndarray:
        H = reduced.hessian(self.full(y), self.task)[np.ix_(self.idx, self.idx)]
        return -H if self.M is None else -(self.M @ H)
