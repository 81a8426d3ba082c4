"""Right-hand sides and Jacobians of the two gradient flows a system can have.

``flow="theta"``   (the parameters' own flow, the theory's object):  dθ/dt = −∇_θ𝓛
``flow="weights"`` (what gradient descent on the full weights does):  dθ/dt = −G⁻¹∇_θ𝓛, where G is
                   the system's metric (Gram matrix of the parameters' directions in the weights)

Both can be restricted to a subset S of the parameters (the others held fixed). For the weight flow
the restriction is the gradient flow of the full weights constrained to the span of the free
directions, dθ_S/dt = −(G_SS)⁻¹ ∇_S𝓛: the inverse of G's sub-block, not the sub-block of G⁻¹.

Log coordinates. A parameter whose gradient vanishes with it, ∂𝓛/∂θ_i = θ_i r_i(θ) (a system
declares these in :attr:`gradflow.System.log_params`), never changes sign along the θ-flow and can
shrink by hundreds of orders of magnitude: far below any ``atol``, where an integrator of θ_i no
longer constrains it at all. With ``coords="auto"`` the flow integrates u_i = ln|θ_i| instead,
du_i/dt = −r_i(θ) (on the weight flow −M_ii r_i, where the metric does not mix θ_i with others), which the system computes without dividing by θ_i
(:meth:`gradflow.System.loss_and_rates`); the tolerances then bound the error of ln|θ_i|, i.e.
the *relative* error of θ_i, however small it gets (θ_i itself underflows to 0 below e^−745, its
logarithm does not). A parameter that starts at exactly 0 stays there and is left linear.
"""

from __future__ import annotations

import numpy as np

from ._validate import check_choice, check_vector
from .system import System

FLOWS = ("theta", "weights")
#: largest ln|θ| a log coordinate is mapped to θ with: an implicit method's Newton iterate may try
#: any u, and e^u must stay finite with its square (θ_i² enters a normaliser); the flow itself keeps
#: log coordinates for vanishing quantities, far below this
LOG_MAX = 300.0
#: ``auto``: the system's log_params in log coordinates on the θ-flow; ``linear``: every parameter
#: integrated as it is (the behaviour before log coordinates existed, kept for comparison)
COORDS = ("auto", "linear")


class Flow:
    """dθ_S/dt = −M ∇_S𝓛 on the free parameters S (``M`` = I or (G_SS)⁻¹) of ``system``, in the
    integrator's coordinates y: θ_S itself, except u_i = ln|θ_i| for the log coordinates."""

    def __init__(self, system: System, flow: str = "theta", params=None, theta0=None, coords: str = "auto",
                 log_abs0=None):
        self.system, self.flow = system, check_choice("flow", flow, FLOWS)
        check_choice("coords", coords, COORDS)
        names = system.names
        if flow == "weights" and system.metric is None:
            raise ValueError(f"flow must be 'theta' for system {system.name!r}: it has no metric")
        chosen = names if params is None else params
        if isinstance(chosen, str) or len(tuple(chosen)) == 0:
            raise ValueError("params must be a non-empty sequence of parameter names")
        twice = sorted({n for n in chosen if list(chosen).count(n) > 1})
        if twice:
            raise ValueError(f"params names {', '.join(map(str, twice))} more than once")
        for n in chosen:
            if n not in names:
                raise ValueError(f"unknown {system.param_word} {n!r} in params; allowed: {', '.join(names)}")
        self.idx = np.array(sorted({names.index(n) for n in chosen}))
        self.params = tuple(names[k] for k in self.idx)
        self.free = None if len(self.idx) == len(names) else self.idx
        n = len(names)
        self.theta0 = system.initial().astype(np.float64) if theta0 is None else check_vector("theta0", theta0, n).copy()
        with np.errstate(divide="ignore"):
            self.log_abs0 = np.log(np.abs(self.theta0))
        if log_abs0 is not None:         # ln|θ0| carried exactly where θ0 itself underflowed
            given = np.asarray(log_abs0, dtype=np.float64)
            if given.shape != (n,):
                raise ValueError(f"log_abs0 must have shape ({n},), got {given.shape}")
            self.log_abs0 = np.where(self.theta0 == 0.0, given, self.log_abs0)
        self.sign = np.copysign(1.0, self.theta0)        # −0.0: an underflowed negative θ0 keeps its sign
        self.M = (np.linalg.inv(system.metric()[np.ix_(self.idx, self.idx)]) if flow == "weights"
                  else None)
        use_log = coords == "auto" and system.loss_and_rates is not None
        logs = {names.index(p) for p in system.log_params} if use_log else set()
        if self.M is not None:       # the weight flow: only where M does not mix a log coordinate
            pos = {k: j for j, k in enumerate(self.idx)}
            logs = {k for k in logs if k not in pos or
                    np.count_nonzero(self.M[pos[k]]) <= 1 and np.count_nonzero(self.M[:, pos[k]]) <= 1}
        #: positions in y (the free vector) that hold ln|θ_i|
        self.log = np.array([j for j, k in enumerate(self.idx) if k in logs and np.isfinite(self.log_abs0[k])],
                            dtype=np.int64)
        self.log_params = tuple(self.params[j] for j in self.log)
        #: log_params left linear (θ0 exactly 0): their rate entries times θ are their gradient
        self._rate_linear = np.array([j for j, k in enumerate(self.idx) if k in logs and j not in self.log],
                                     dtype=np.int64)
        #: ln|θ| of the system's log_params is worth keeping (exact, also where θ underflows)
        self.tracks_log = bool(logs)
        self._last = (None, None)           # (y, loss) of the latest right-hand side

    @property
    def y0(self) -> np.ndarray:
        """The start in the integrator's coordinates."""
        y = self.theta0[self.idx].copy()
        y[self.log] = self.log_abs0[self.idx[self.log]]
        return y

    def _from_log(self, y) -> np.ndarray:
        """θ_i = sign_i · e^{u_i} of the log coordinates in ``y`` (u capped at LOG_MAX)."""
        return self.sign[self.idx[self.log]] * np.exp(np.minimum(np.asarray(y)[self.log], LOG_MAX))

    def full(self, y) -> np.ndarray:
        """The full parameter vector with the free entries set from ``y``."""
        theta = self.theta0.copy()
        v = np.array(y, dtype=np.float64, copy=True)
        v[self.log] = self._from_log(y)
        theta[self.idx] = v
        return theta

    def log_abs(self, y) -> np.ndarray:
        """ln|θ| of every parameter at ``y``, exact (not through θ) for the log coordinates."""
        out = self.log_abs0.copy()
        with np.errstate(divide="ignore"):
            out[self.idx] = np.log(np.abs(np.asarray(y, dtype=np.float64)))
        out[self.idx[self.log]] = np.asarray(y)[self.log]
        return out

    def coords_of(self, theta) -> np.ndarray:
        """``y`` for a full θ (ln|θ_i| of a log coordinate from θ itself: −inf where it underflowed)."""
        y = np.array(theta, dtype=np.float64)[self.idx]
        with np.errstate(divide="ignore"):
            y[self.log] = np.log(np.abs(y[self.log]))
        return y

    def loss(self, y) -> float:
        """𝓛 at ``y`` (reused from the latest right-hand side at the same y)."""
        last_y, last_loss = self._last
        if last_y is not None and np.array_equal(last_y, y):
            return last_loss
        return self.system.loss(self.full(y))

    @property
    def last_loss(self) -> float:
        """𝓛 at the point of the latest right-hand side evaluation."""
        return self._last[1]

    def rhs(self, t, y) -> np.ndarray:
        """dy/dt: −(M)∇𝓛 for the linear coordinates, −r_i for the log ones."""
        theta = self.full(y)
        if len(self.log):
            value, g = self.system.loss_and_rates(theta, free=self.free)
        else:
            value, g = self.system.loss_and_grad(theta, free=self.free)
        self._last = (np.array(y, copy=True), value)
        g = g[self.idx]
        if len(self.log) and len(self._rate_linear):
            g[self._rate_linear] *= theta[self.idx[self._rate_linear]]
        return -g if self.M is None else -(self.M @ g)

    def velocity(self, y, dy=None) -> np.ndarray:
        """dθ/dt of the full vector at ``y`` (from dy/dt ``dy`` when it is already known)."""
        dy = self.rhs(0.0, y) if dy is None else np.array(dy, dtype=np.float64, copy=True)
        dy[self.log] *= self._from_log(y)
        out = np.zeros(len(self.theta0))
        out[self.idx] = dy
        return out

    @property
    def jac(self):
        """The analytic Jacobian, or None when the system has no Hessian or it does not pay at
        this size (``System.jacobian_pays``), or log coordinates are in use: then the integrator
        differences the right-hand side itself."""
        return None if not self.system.jacobian_pays() or len(self.log) else self._jac

    def _jac(self, t, y) -> np.ndarray:
        H = self.system.hessian(self.full(y), free=self.free)[np.ix_(self.idx, self.idx)]
        return -H if self.M is None else -(self.M @ H)
