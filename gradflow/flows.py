"""Right-hand sides and Jacobians of the two gradient flows a system can have.

``flow="theta"``   (the parameters' own flow, the theory's object):  dθ/dt = −∇_θ𝓛
``flow="weights"`` (what gradient descent on the full weights does):  dθ/dt = −G⁻¹∇_θ𝓛, where G is
                   the system's metric (Gram matrix of the parameters' directions in the weights)

Both can be restricted to a subset S of the parameters (the others held fixed). For the weight flow
the restriction is the gradient flow of the full weights constrained to the span of the free
directions, dθ_S/dt = −(G_SS)⁻¹ ∇_S𝓛: the inverse of G's sub-block, not the sub-block of G⁻¹.
"""

from __future__ import annotations

import numpy as np

from ._validate import check_choice, check_vector
from .system import System

FLOWS = ("theta", "weights")


class Flow:
    """dθ_S/dt = −M ∇_S𝓛 on the free parameters S (``M`` = I or (G_SS)⁻¹) of ``system``."""

    def __init__(self, system: System, flow: str = "theta", params=None, theta0=None):
        self.system, self.flow = system, check_choice("flow", flow, FLOWS)
        names = system.names
        if flow == "weights" and system.metric is None:
            raise ValueError(f"flow must be 'theta' for system {system.name!r}: it has no metric")
        chosen = names if params is None else params
        if isinstance(chosen, str) or len(tuple(chosen)) == 0:
            raise ValueError("params must be a non-empty sequence of parameter names")
        for n in chosen:
            if n not in names:
                raise ValueError(f"unknown {system.param_word} {n!r} in params; allowed: {', '.join(names)}")
        self.idx = np.array(sorted({names.index(n) for n in chosen}))
        self.params = tuple(names[k] for k in self.idx)
        self.free = None if len(self.idx) == len(names) else self.idx
        n = len(names)
        self.theta0 = system.initial().astype(np.float64) if theta0 is None else check_vector("theta0", theta0, n).copy()
        self.M = (np.linalg.inv(system.metric()[np.ix_(self.idx, self.idx)]) if flow == "weights"
                  else None)
        self._last = (None, None)           # (y, loss) of the latest right-hand side

    def full(self, y) -> np.ndarray:
        """The full parameter vector with the free entries set to ``y``."""
        theta = self.theta0.copy()
        theta[self.idx] = y
        return theta

    def loss(self, y) -> float:
        """𝓛 at the free values ``y`` (reused from the latest right-hand side at the same y)."""
        last_y, last_loss = self._last
        if last_y is not None and np.array_equal(last_y, y):
            return last_loss
        return self.system.loss(self.full(y))

    @property
    def last_loss(self) -> float:
        """𝓛 at the point of the latest right-hand side evaluation."""
        return self._last[1]

    def rhs(self, t, y) -> np.ndarray:
        value, g = self.system.loss_and_grad(self.full(y), free=self.free)
        self._last = (np.array(y, copy=True), value)
        g = g[self.idx]
        return -g if self.M is None else -(self.M @ g)

    @property
    def jac(self):
        """The analytic Jacobian, or None when the system has no Hessian."""
        return None if self.system.hessian is None else self._jac

    def _jac(self, t, y) -> np.ndarray:
        H = self.system.hessian(self.full(y), free=self.free)[np.ix_(self.idx, self.idx)]
        return -H if self.M is None else -(self.M @ H)
