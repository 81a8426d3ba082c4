"""The base class of an optimizer: a continuous-time model of a training rule, integrated with θ.

Time convention (every optimizer): t = learning rate × steps, so that ``"gd"`` is today's gradient
flow and the others are compared with it on one time axis. An optimizer sees the *update
gradient* h (on the θ-flow h = ∇_θ𝓛; on the weight flow the gradient of the full weights expressed
per parameter, see :mod:`gradflow.flows`) and returns dθ/dt and the derivative of its state.

How to add an optimizer
-----------------------
1. Make a module ``gradflow/optimizers/<name>.py`` with a subclass of :class:`Optimizer`.
2. Declare ``name``; ``hyper``, its hyperparameters as ``{keyword: (default, range, text)}`` with
   range ``"positive"`` (a finite number > 0) or ``"unit"`` (0 <= value < 1); ``state``, the names of its per-parameter state
   variables (e.g. ``("m", "v")``); ``elementwise``: True when it acts entry by entry on the
   weights (then it reduces to the parameters only where the system declares the layout of its
   directions, :meth:`gradflow.System.elementwise`); ``monotone``: True when 𝓛 never rises along
   its flow (the solver then ends a solve whose loss rises); ``limit``: one sentence saying what
   it models and in which limit.
3. Implement ``discrete(eta)``: the training rule itself at step η, acting on a list of weight
   arrays (what ``check()`` runs on a full-weight reference); its hyperparameters are those of
   the flow's limit at this η (rates such as (1 − β)/lr held fixed), so at η = lr it is the
   rule as a library runs it, and as η → 0 its iterates converge to the flow at first order.
   Implement ``initial_state(h0)`` (the state at t = 0 from the first update gradient, flattened
   state-major: all of the first state variable, then the next) and ``rhs(t, h, state)`` ->
   (dθ/dt, dstate/dt), and ``state_scale(h0)``: the absolute size below which each state entry
   no longer matters (the integrator's ``atol`` is multiplied by it, so a state that lives at the
   scale of ε or of a vanishing gradient keeps its relative accuracy). Optionally
   ``partials(t, h, state)``: the four blocks ∂step/∂h, ∂step/∂state, ∂dstate/∂h,
   ∂dstate/∂state (dense arrays), from which the flow builds its Jacobian with the system's
   Hessian (implicit methods then step over the fast relaxation of the state).
4. Register it in :data:`gradflow.optimizers.OPTIMIZERS`, document its model in
   ``derivations/optimizers.md`` and test it on a problem with a closed-form answer
   (``tests/test_optimizers.py``).
"""

from __future__ import annotations

import numpy as np


class Optimizer:
    """A training rule as a flow: dθ/dt = step(t, h, state), dstate/dt = … (see the module)."""

    name: str = ""
    #: {keyword: (default, range, text)}, range "positive" (> 0) or "unit" ([0, 1))
    hyper: dict = {}
    state: tuple = ()
    elementwise: bool = False
    monotone: bool = False
    limit: str = ""

    def __init__(self, **values):
        unknown = sorted(set(values) - set(self.hyper))
        if unknown:
            allowed = ", ".join(self.hyper) or "none"
            raise ValueError(f"optimizer {self.name!r} takes no {unknown[0]!r}; its hyperparameters: {allowed}")
        self.values = {}
        for key, (default, kind, _) in self.hyper.items():
            self.values[key] = _check_range(key, values.get(key, default), kind)

    def __getattr__(self, key):
        values = self.__dict__.get("values", {})
        if key in values:
            return values[key]
        raise AttributeError(key)

    def spec(self) -> dict:
        """The optimizer as JSON: ``{"name": …, hyperparameter: value, …}`` (what Result.save and
        a sweep's store keep; :func:`gradflow.optimizers.make` reads it back)."""
        return {"name": self.name, **self.values}

    def describe(self) -> str:
        if not self.values:
            return self.name
        return f"{self.name} (" + ", ".join(f"{k} {v:g}" for k, v in self.values.items()) + ")"

    def discrete(self, eta: float):
        """The rule at step ``eta`` on lists of arrays: an object with ``step(W, g) -> W``."""
        raise NotImplementedError

    def initial_state(self, h0: np.ndarray) -> np.ndarray:
        return np.zeros(0)

    def state_scale(self, h0: np.ndarray) -> np.ndarray:
        return np.ones(len(self.state) * len(h0))

    def rhs(self, t: float, h: np.ndarray, state: np.ndarray):
        raise NotImplementedError

    #: ``partials(t, h, state)`` or None (then the integrator differences the right-hand side)
    partials = None

    def __eq__(self, other):
        return isinstance(other, Optimizer) and self.spec() == other.spec()

    def __hash__(self):
        return hash(tuple(sorted(self.spec().items())))

    def __repr__(self):
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self.values.items()) + ")"


#: what each range admits, in words
RANGES = {"positive": "a finite number > 0", "unit": "a number in [0, 1)"}


def _check_range(key, value, kind) -> float:
    """``value`` as a float in its range, else ``ValueError`` naming ``key`` and the range."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    ok = (v > 0 and np.isfinite(v)) if kind == "positive" else (0 <= v < 1)
    if isinstance(value, bool) or not ok:
        raise ValueError(f"{key} must be {RANGES[kind]}, got {value!r}")
    return v
