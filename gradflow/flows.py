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

    #: gradient flow never raises 𝓛 (the solver ends a solve whose loss rises)
    monotone = True

    def atol(self, atol: float):
        """The integrator's absolute tolerance (one number: y is θ's own coordinates)."""
        return atol

    def state(self, y) -> np.ndarray:
        """The optimizer's state at ``y``: none for gradient descent."""
        return np.zeros(0)

    def state_names(self) -> tuple:
        return ()

    def velocity_at(self, t, y, dy=None) -> np.ndarray:
        """dθ/dt of the full vector at (t, y), from dy/dt ``dy`` when it is already known
        (gradient flow is autonomous: t is not used)."""
        return self.velocity(y, dy)

    @property
    def jac(self):
        """The analytic Jacobian, or None when the system has no Hessian or it does not pay at
        this size (``System.jacobian_pays``), or log coordinates are in use: then the integrator
        differences the right-hand side itself."""
        return None if not self.system.jacobian_pays() or len(self.log) else self._jac

    def _jac(self, t, y) -> np.ndarray:
        H = self.system.hessian(self.full(y), free=self.free)[np.ix_(self.idx, self.idx)]
        return -H if self.M is None else -(self.M @ H)


class OptimizerFlow(Flow):
    """The flow of an optimizer with state (:mod:`gradflow.optimizers`): y = (θ_S, state), the
    state state-major (all of its first variable over S, then the next). θ is integrated as it is
    (no log coordinates: under momentum or Adam a parameter can change sign, and Adam moves a
    vanishing one at unit speed).

    The update gradient h the optimizer sees: on the θ-flow h = ∇_S𝓛 (the parameters taken as
    the weights); on the weight flow, for a linear rule (GD, momentum) h = (G_SS)⁻¹∇_S𝓛, the
    weights' gradient in the parameters' coordinates, and for an elementwise rule (Adam, sign)
    h_k = ∂𝓛/∂θ_k / (count_k scale_k), the gradient of each of parameter k's weight entries,
    with dθ_k/dt = (the rule's step)/scale_k (:meth:`gradflow.System.elementwise`; exact when the
    supports are disjoint, derivations/optimizers.md)."""

    def __init__(self, system: System, optimizer, flow: str = "theta", params=None, theta0=None, log_abs0=None):
        super().__init__(system, flow, params, theta0, "linear", log_abs0)
        self.optimizer = optimizer
        self.n = len(self.idx)
        self.count = self.scale = None
        if optimizer.elementwise:
            layout = system.elementwise()
            if isinstance(layout, str):
                raise ValueError(f"optimizer {optimizer.name!r} is refused for this system: {layout}")
            if flow == "weights":
                count, scale = (np.asarray(a, dtype=np.float64)[self.idx] for a in layout)
                self.count, self.scale, self.M = count, scale, None
        self._h0 = None

    @property
    def h0(self) -> np.ndarray:
        """The update gradient at θ0 (evaluated once, when the start or the tolerances need it)."""
        if self._h0 is None:
            _, g0 = self.system.loss_and_grad(self.theta0, free=self.free)
            self._h0 = self._update_gradient(g0[self.idx])
        return self._h0

    def _update_gradient(self, g):
        """h from ∇_S𝓛 (a vector), or ∂h/∂θ from the Hessian's rows (a matrix, row k for θ_k)."""
        if self.count is not None:
            return (g.T / (self.count * self.scale)).T
        return g if self.M is None else self.M @ g

    @property
    def y0(self) -> np.ndarray:
        return np.concatenate([self.theta0[self.idx], self.optimizer.initial_state(self.h0)])

    @property
    def monotone(self) -> bool:
        return self.optimizer.monotone

    def atol(self, atol: float):
        """The integrator's absolute tolerance per entry of y: ``atol`` for θ, ``atol`` times the
        optimizer's state scale for its state."""
        return np.concatenate([np.full(self.n, atol), atol * self.optimizer.state_scale(self.h0)])

    def full(self, y) -> np.ndarray:
        return super().full(np.asarray(y)[: self.n])

    def log_abs(self, y) -> np.ndarray:
        return super().log_abs(np.asarray(y)[: self.n])

    def state(self, y) -> np.ndarray:
        """The optimizer's state at ``y``."""
        return np.asarray(y)[self.n:]

    def state_names(self) -> tuple:
        """``"m[beta2]"`` … for every entry of the state, in y's order."""
        return tuple(f"{s}[{p}]" for s in self.optimizer.state for p in self.params)

    def rhs(self, t, y) -> np.ndarray:
        theta = self.full(y)
        value, g = self.system.loss_and_grad(theta, free=self.free)
        self._last = (np.array(y, copy=True), value)
        step, dstate = self.optimizer.rhs(t, self._update_gradient(g[self.idx]), self.state(y))
        if self.scale is not None:
            step = step / self.scale
        return np.concatenate([step, dstate])

    def velocity_at(self, t, y, dy=None) -> np.ndarray:
        """dθ/dt of the full vector at (t, y), from dy/dt ``dy`` when it is already known."""
        out = np.zeros(len(self.theta0))
        out[self.idx] = (self.rhs(t, y) if dy is None else np.asarray(dy))[: self.n]
        return out

    def velocity(self, y, dy=None) -> np.ndarray:
        raise TypeError("an optimizer's velocity depends on t and its state: use velocity_at(t, y)")

    @property
    def jac(self):
        """The analytic Jacobian where the optimizer gives its partials and the system its Hessian
        (:meth:`gradflow.System.jacobian_pays` aside: a state's fast relaxation makes the flow stiff
        at every size), else None (the integrator differences the right-hand side)."""
        if self.optimizer.partials is None or self.system.hessian is None:
            return None
        return self._jac

    def _jac(self, t, y) -> np.ndarray:
        theta = self.full(y)
        _, g = self.system.loss_and_grad(theta, free=self.free)
        h = self._update_gradient(g[self.idx])
        dh = self._update_gradient(self.system.hessian(theta, free=self.free)[np.ix_(self.idx, self.idx)])
        s_h, s_s, f_h, f_s = self.optimizer.partials(t, h, self.state(y))
        top = np.hstack([s_h @ dh, s_s])
        if self.scale is not None:
            top = top / self.scale[:, None]
        return np.vstack([top, np.hstack([f_h @ dh, f_s])])


def make_flow(system: System, optimizer, flow: str = "theta", params=None, theta0=None, coords: str = "auto",
              log_abs0=None) -> Flow:
    """The flow of ``optimizer`` (:func:`gradflow.optimizers.make`'s result): :class:`Flow` for
    gradient descent (today's flows, log coordinates included), :class:`OptimizerFlow` else."""
    if optimizer.name == "gd":
        return Flow(system, flow, params, theta0, coords, log_abs0)
    return OptimizerFlow(system, optimizer, flow, params, theta0, log_abs0)
