"""Emergence criteria: named events on a solved trajectory, each located to root-finding precision.

A criterion says *what* emerges; the core finds *when*, by one machinery for all of them: the first
accepted solver step at which the event has happened, then Brent's method on the solver's dense
output inside the step interval that ends there. Three kinds:

``LossBelow(key, level)``        𝓛 < level. A gradient flow never increases 𝓛, so the first step
                                 below is found by bisection over the steps (a few loss evaluations,
                                 not one per step).
``ParamReaches(param, level)``   θ_param ≥ level; stored under ``emergence["t_p"][param][f"{level:g}"]``.
``Crosses(key, fn)``             a user-supplied ``fn(θ) -> float`` becomes ≥ 0.

A time is NaN when the event does not happen within the solved interval. Root-finding tolerances:
``xtol = 1e-14·t``, ``rtol = 1e-13`` (relative to the step's end time), far below any solver
tolerance, so a time's error is the solver's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import brentq

#: Brent's method tolerances (see the module docstring).
XTOL_REL, RTOL = 1e-14, 1e-13


@dataclass(frozen=True)
class LossBelow:
    """𝓛 falls below ``level``; reported as ``emergence[key]``. ``label`` describes the level
    in summaries and plots (e.g. ``"½ log N"``)."""
    key: str
    level: float
    label: str = ""


@dataclass(frozen=True)
class ParamReaches:
    """θ_param ≥ ``level``; reported as ``emergence["t_p"][param][f"{level:g}"]``."""
    param: str
    level: float

    @property
    def key(self) -> str:
        return f"{self.level:g}"


@dataclass(frozen=True)
class Crosses:
    """``fn(θ)`` becomes ≥ 0 (a user-supplied event); reported as ``emergence[key]``. ``label``
    says what happened (e.g. ``"α3, β2 and γ3 all reached 0.5"``)."""
    key: str
    fn: Callable[[np.ndarray], float]
    label: str = ""


def reached(criterion, names, theta, loss) -> bool:
    """Whether ``criterion`` holds at the point ``theta`` with loss ``loss``."""
    if isinstance(criterion, LossBelow):
        return loss < criterion.level
    if isinstance(criterion, ParamReaches):
        return theta[names.index(criterion.param)] >= criterion.level
    return criterion.fn(theta) >= 0


def describe(criterion) -> str:
    """A short phrase for the event, e.g. ``"loss fell below 0.1 log N"``."""
    if isinstance(criterion, LossBelow):
        return f"loss fell below {criterion.label or f'{criterion.level:g}'}"
    if isinstance(criterion, ParamReaches):
        return f"{criterion.param} reached {criterion.level:g}"
    return criterion.label or f"{criterion.key} crossed zero"


def first_crossing_decreasing(t, value_of_step, fn, level) -> float:
    """First time where the non-increasing ``fn`` falls below ``level`` (NaN if it never does by
    ``t[-1]``): bisection over the steps for the first one below, then Brent's method inside the
    step interval that ends there. ``value_of_step(k)`` is ``fn(t[k])``."""
    n = len(t)
    if value_of_step(n - 1) >= level:
        return float("nan")
    if value_of_step(0) < level:
        return float(t[0])
    lo, hi = 0, n - 1                     # value(lo) >= level > value(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if value_of_step(mid) < level:
            hi = mid
        else:
            lo = mid
    return float(brentq(lambda s: fn(s) - level, t[lo], t[hi], xtol=XTOL_REL * t[hi], rtol=RTOL))


def first_crossing(t, values, fn) -> float:
    """First time where ``fn(t) ≥ 0``, given its values at the steps: Brent's method inside the
    first step interval whose end point has crossed. NaN if none has."""
    above = np.asarray(values) >= 0
    if not np.any(above):
        return float("nan")
    k = int(np.argmax(above))
    if k == 0:
        return float(t[0])
    return float(brentq(fn, t[k - 1], t[k], xtol=XTOL_REL * t[k], rtol=RTOL))


def emergence_times(criteria, names, free, t, theta, loss_of_step, loss_at, theta_at) -> dict:
    """Times of every criterion on a solved trajectory.

    ``names``: the system's parameter names (columns of ``theta``); ``free``: the names that were
    integrated (a fixed parameter's ``ParamReaches`` time is NaN); ``loss_of_step(k)``: 𝓛 at step
    k; ``loss_at(s)`` and ``theta_at(s)``: 𝓛 and θ at any time from the dense output (``None``
    when nothing was integrated). Returns ``{key: time, ..., "t_p": {param: {level: time}}}``."""
    cache = {}

    def at_step(k):
        if k not in cache:
            cache[k] = loss_of_step(k)
        return cache[k]
    out = {"t_p": {}}
    for c in criteria:
        if isinstance(c, LossBelow):
            out[c.key] = (first_crossing_decreasing(t, at_step, loss_at, c.level)
                          if theta_at is not None else float("nan"))
        elif isinstance(c, ParamReaches):
            k = names.index(c.param)
            time = (first_crossing(t, theta[:, k] - c.level, lambda s: theta_at(s)[k] - c.level)
                    if c.param in free and theta_at is not None else float("nan"))
            out["t_p"].setdefault(c.param, {})[c.key] = time
        elif isinstance(c, Crosses):
            values = [c.fn(th) for th in theta]
            out[c.key] = (first_crossing(t, values, lambda s: c.fn(theta_at(s)))
                          if theta_at is not None else float("nan"))
        else:
            raise TypeError(f"unknown criterion {c!r}")
    return out


def emergence_order(emergence: dict, head, level: float) -> tuple:
    """The head sorted by time: a parameter by ``t_p(level)``, a criterion key (e.g. a stage) by
    its own time; those that never happen are left out."""
    times = {n: (emergence[n] if n in emergence and n != "t_p"
                 else emergence["t_p"].get(n, {}).get(f"{level:g}", float("nan"))) for n in head}
    return tuple(sorted((n for n in head if np.isfinite(times[n])), key=lambda n: times[n]))
