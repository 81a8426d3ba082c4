"""The result of a gradient-flow solve: trajectory, emergence times, statistics, save/load, plot."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicHermiteSpline
from scipy.optimize import brentq

from .reduced import loss as reduced_loss
from .subspace import NAMES, index
from .task import Task

#: The induction head's pseudo-parameters, whose emergence order is reported.
HEAD = ("alpha3", "beta2", "gamma3")
#: Thresholds c of the parameter times t_p(c) (SPEC §6).
THRESHOLDS = (0.1, 1.0)


@dataclass
class Result:
    """A solved flow. Arrays are at the solver's accepted steps.

    Attributes: ``t`` (n_t), ``theta`` (n_t × 19, NAMES order), ``loss`` (n_t), ``dtheta``
    (dθ/dt at each step, n_t × 19), ``names``, ``task``, ``flow`` ("theta" or "weights"),
    ``params`` (the pseudo-parameters that were free), ``emergence`` (dict, see
    :func:`emergence_times`), ``order`` (α3, β2, γ3 sorted by t_p(0.1); those that never reach
    0.1 are left out), ``stats`` (solver statistics and wall time), ``status`` ("emerged",
    "t_max", "not_emerged", "stationary", "failed" or "max_steps") and ``message``.
    """

    t: np.ndarray
    theta: np.ndarray
    task: Task
    flow: str
    params: tuple
    emergence: dict
    order: tuple
    stats: dict
    status: str
    message: str
    names: tuple = NAMES
    dense: object = field(default=None, repr=False)
    _dtheta: np.ndarray | None = field(default=None, repr=False)
    _derivative: object = field(default=None, repr=False)
    _loss: np.ndarray | None = field(default=None, repr=False)

    @property
    def loss(self) -> np.ndarray:
        """Population loss at each step (n_t); evaluated on first use (the solver itself only
        evaluates it where it needs it, to find the emergence times)."""
        if self._loss is None:
            self._loss = np.array([reduced_loss(th, self.task) for th in self.theta])
        return self._loss

    @property
    def dtheta(self) -> np.ndarray:
        """dθ/dt at each step (n_t × 19); evaluated on first use where the solver did not keep it."""
        if self._dtheta is None:
            self._dtheta = np.array([self._derivative(th) for th in self.theta]).reshape(self.theta.shape)
        return self._dtheta

    @property
    def success(self) -> bool:
        return self.status in ("emerged", "t_max")

    def theta_at(self, t) -> np.ndarray:
        """θ at time(s) ``t`` from the solver's dense output (after :meth:`load`, from the C¹
        cubic Hermite interpolant of the saved steps and their exact derivatives)."""
        t = np.asarray(t, dtype=float)
        if np.any(t < self.t[0]) or np.any(t > self.t[-1]):
            raise ValueError(f"t must lie in [{self.t[0]}, {self.t[-1]}]")
        if self.dense is None:
            if len(self.t) < 2:
                return np.broadcast_to(self.theta[0], t.shape + (19,)).copy()
            self.dense = _HermiteDense(self.t, self.theta, self.dtheta)
        return np.moveaxis(np.asarray(self.dense(t)), 0, -1)

    def __getitem__(self, name: str) -> np.ndarray:
        """Trajectory of one pseudo-parameter by name, e.g. ``result["beta2"]``."""
        return self.theta[:, index(name)]

    def summary(self) -> str:
        """A short human-readable summary."""
        e = self.emergence
        lines = [f"{self.flow} flow, task {self.task.as_dict()}, params {len(self.params)}: "
                 f"{self.status} ({self.message})",
                 f"T(N) = {e['T']:.6g}   T_tenth = {e['T_tenth']:.6g}   (loss < ½ log N, < 0.1 log N)",
                 "order (by t_p(0.1)): " + " -> ".join(self.order)]
        for name in HEAD:
            if name in self.params:
                lines.append(f"  t_{name}(0.1) = {e['t_p'][name]['0.1']:.6g}   "
                             f"t_{name}(1) = {e['t_p'][name]['1']:.6g}")
        s = self.stats
        final = self._loss[-1] if self._loss is not None else reduced_loss(self.theta[-1], self.task)
        lines.append(f"loss at t = {self.t[-1]:.6g}: {final:.6g} (log N = {np.log(self.task.N):.6g}); "
                     f"{s['method']}: {s['n_steps']} steps, nfev {s['nfev']}, njev {s['njev']}, "
                     f"nlu {s['nlu']}, {s['wall_seconds']:.3g} s")
        return "\n".join(lines)

    # -- persistence ----------------------------------------------------------------------
    def metadata(self) -> dict:
        """Everything but the arrays, JSON-ready (NaN times become ``null``)."""
        return {"task": self.task.as_dict(), "flow": self.flow, "params": list(self.params),
                "names": list(self.names), "emergence": json_ready(self.emergence),
                "order": list(self.order), "stats": self.stats, "status": self.status,
                "message": self.message}

    def save(self, path) -> Path:
        """Save to one ``.npz`` file: the arrays plus the JSON metadata (``meta_json``)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        np.savez(path, t=self.t, theta=self.theta, loss=self.loss, dtheta=self.dtheta,
                 meta_json=np.array(json.dumps(self.metadata(), indent=1, allow_nan=False)))
        return path

    @classmethod
    def load(cls, path) -> "Result":
        """Inverse of :meth:`save`."""
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta_json"]))
            arrays = {"t": f["t"], "theta": f["theta"], "_loss": f["loss"], "_dtheta": f["dtheta"]}
        return cls(task=Task(**meta["task"]), flow=meta["flow"], params=tuple(meta["params"]),
                   emergence=_none_to_nan(meta["emergence"]), order=tuple(meta["order"]), stats=meta["stats"],
                   status=meta["status"], message=meta["message"], names=tuple(meta["names"]),
                   **arrays)

    # -- figure ---------------------------------------------------------------------------
    def plot(self, path=None):
        """Two panels against log t: α3, β2, γ3 (symlog scale, t_p(0.1) marked) and the loss
        (½ log N and 0.1 log N marked, T(N) annotated). Saves to ``path`` if given; returns the
        matplotlib figure."""
        import matplotlib
        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 5.5),
                                          gridspec_kw={"height_ratios": [3, 2]})
        e = self.emergence
        first = [e["t_p"][n]["0.1"] for n in HEAD if np.isfinite(e["t_p"][n]["0.1"])]
        t_lo = min(first) / 30 if first else self.t[1] if len(self.t) > 1 else 1.0
        keep = self.t >= t_lo
        t = self.t[keep]
        colours = {"alpha3": "C0", "beta2": "C1", "gamma3": "C2"}
        greek = {"alpha3": "α3", "beta2": "β2", "gamma3": "γ3"}
        for name in HEAD:
            top.plot(t, self[name][keep], color=colours[name], label=greek[name])
            tp = e["t_p"][name]["0.1"]
            if np.isfinite(tp):
                top.plot([tp], [0.1], "o", color=colours[name], ms=5)
        for c in THRESHOLDS:
            top.axhline(c, color="0.6", lw=0.7, ls=":")
        top.set_yscale("symlog", linthresh=0.1)
        low = min(float(np.min(self.theta[keep][:, [index(n) for n in HEAD]])), 0.0)
        top.set_ylim(bottom=1.5 * low - 0.02)
        top.set_ylabel("pseudo-parameter")
        top.legend(fontsize=8, loc="upper left", title="dots: t_p(0.1)", title_fontsize=7)
        bottom.plot(t, self.loss[keep], color="k", lw=1.8)
        logN = np.log(self.task.N)
        for frac in (0.5, 0.1):
            bottom.axhline(frac * logN, color="0.5", ls="--", lw=0.8)
        if np.isfinite(e["T"]):
            for ax in (top, bottom):
                ax.axvline(e["T"], color="k", ls="--", lw=0.8)
            bottom.annotate(f"T(N) = {e['T']:.4g}", (e["T"], 0.5 * logN), textcoords="offset points",
                            xytext=(6, 6), fontsize=8)
        bottom.set_xscale("log")
        bottom.set_xlabel("t")
        bottom.set_ylabel("population loss")
        top.set_title(f"{self.flow} flow, N = {self.task.N}, K = {self.task.K}, L = {self.task.L}, "
                      f"{len(self.params)} pseudo-parameters")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig


def json_ready(x):
    """``x`` with NaN/inf turned into ``None`` and NumPy scalars into Python ones, recursively
    through dicts, lists and tuples: ready for strict JSON."""
    if isinstance(x, dict):
        return {k: json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_ready(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    return None if isinstance(x, float) and not np.isfinite(x) else x


def _none_to_nan(d):
    if isinstance(d, dict):
        return {k: _none_to_nan(v) for k, v in d.items()}
    return float("nan") if d is None else d


class _HermiteDense:
    def __init__(self, t, y, dy):
        self._spline = CubicHermiteSpline(t, y, dy, axis=0)

    def __call__(self, t):
        return np.moveaxis(self._spline(t), -1, 0)


def _first_crossing_decreasing(t, value_of_step, fn, level):
    """First time where the non-increasing ``fn`` falls below ``level`` (NaN if it never does
    by ``t[-1]``): bisection over the steps for the first one below, then Brent's method inside
    the step interval that ends there."""
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
    return float(brentq(lambda s: fn(s) - level, t[lo], t[hi], xtol=1e-14 * t[hi], rtol=1e-13))


def _first_crossing(t, values, fn, level, sign):
    """First time where ``sign·(fn(t) − level)`` becomes ≥ 0, by Brent's method on the dense
    output inside the first step interval whose end point has crossed. NaN if never."""
    above = sign * (values - level) >= 0
    if not np.any(above):
        return float("nan")
    k = int(np.argmax(above))
    if k == 0:
        return float(t[0])
    return float(brentq(lambda s: sign * (fn(s) - level), t[k - 1], t[k], xtol=1e-14 * t[k], rtol=1e-13))


def emergence_times(result_t, theta, loss_of_step, loss_at, theta_at, N: int, params) -> dict:
    """Emergence times of SPEC §6, each found by root-finding on the dense output:
    ``T`` (𝓛 < ½ log N), ``T_tenth`` (𝓛 < 0.1 log N) and ``t_p[name][c]`` (θ_p ≥ c), NaN when
    the event does not happen within the solved interval.

    ``loss_of_step(k)`` is 𝓛 at step k and ``loss_at(s)`` 𝓛 at time s. A gradient flow never
    increases 𝓛, so the step where 𝓛 first falls below a level is found by bisection over the
    steps (a few loss evaluations instead of one per step)."""
    cache = {}

    def at_step(k):
        if k not in cache:
            cache[k] = loss_of_step(k)
        return cache[k]
    out = {"T": _first_crossing_decreasing(result_t, at_step, loss_at, 0.5 * np.log(N)),
           "T_tenth": _first_crossing_decreasing(result_t, at_step, loss_at, 0.1 * np.log(N)), "t_p": {}}
    for name in NAMES:
        k = index(name)
        out["t_p"][name] = {f"{c:g}": (_first_crossing(result_t, theta[:, k], lambda s: theta_at(s)[k], c, 1)
                                       if name in params else float("nan")) for c in THRESHOLDS}
    return out


def emergence_order(emergence: dict) -> tuple:
    times = {n: emergence["t_p"][n]["0.1"] for n in HEAD}
    return tuple(sorted((n for n in HEAD if np.isfinite(times[n])), key=lambda n: times[n]))
