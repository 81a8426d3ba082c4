"""``check`` for the markov system: the solved flow against full-batch gradient descent on the
full-tensor reference (:mod:`.reference`), on the system's own frozen sample.

The live parameters are the model's weights (no reduction, no metric), so GD with step η is the
flow's Euler scheme: θ_GD(η) − θ_ODE = O(η), halving with η, and the Richardson extrapolation
2θ_GD(η/2) − θ_GD(η) leaves O(η²). The reference holds every tensor (full logit matrices, the
coefficients with 0 ∈ R): those dead coefficients must keep their initial value exactly.

Step sizes: at the authors' initialisation the selector moves at rate ≈ (2a/Σc²)·|g| ≈ 30 (a = 0.01,
Σc² = 7·10⁻⁴), so Euler is in its asymptotic regime only for η ≪ 1/30: the default η = 0.02 … 0.005.
(The authors' lr = 1 is far outside it: their first c-steps overshoot and flip signs; c_R enters
only as c_R², so the run still lands on the flow's selection.)
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, fields

import numpy as np

from ..._validate import check_int, check_positive
from ...convergence import EulerConvergence
from ...solver import solve
from . import reference as ref


#: GD on the relabelling-averaged sample stays in the invariant space up to rounding
OFF_SPAN_TOL = 1e-12


@dataclass
class MarkovCheckReport(EulerConvergence):
    """θ of GD (per η) and of the solved flow at the common times ``t``."""
    describe: str
    t: np.ndarray
    etas: list
    theta_ode: np.ndarray
    theta_gd: list = field(repr=False)
    dead_moved: float = 0.0
    seconds: list = field(default_factory=list)
    #: the full model: GD's largest distance from the invariant space (None: not measured)
    off_span: float | None = None

    @property
    def passed(self) -> bool:
        return (self.dead_moved == 0.0 and self.converges
                and (self.off_span is None or self.off_span <= OFF_SPAN_TOL))

    def summary(self) -> str:
        lines = [f"check: full-tensor rule vs solve(), markov {self.describe}, t in [0, {self.t[-1]:g}]"]
        for k, eta in enumerate(self.etas):
            rate = f"   ratio to eta/2: {self.rates[k]:.3f}" if k < len(self.rates) else ""
            lines.append(f"  eta = {eta:<8g} max|theta_GD - theta_ODE| = {self.errors[k]:.3e}   "
                         f"({self.seconds[k]:.1f} s){rate}")
        lines += self.convergence_lines()
        lines.append(f"  coefficients with 0 in R moved by {self.dead_moved:g}")
        if self.off_span is not None:
            lines.append(f"  GD's largest distance from the invariant space: {self.off_span:.2e} "
                         f"(must be <= {OFF_SPAN_TOL:g}: rounding)")
        lines.append(f"{'PASSED' if self.passed else 'FAILED'}: dead coefficients fixed, " + self.criteria_text())
        return "\n".join(lines)


def check(system, *, eta: float = 0.02, t_end: float = 2.0, n_times: int = 4, refinements: int = 3,
          progress: bool = False, optimizer="gd") -> MarkovCheckReport:
    """GD at steps ``eta / 2**k`` up to ``t_end`` against ``solve(system, t_max=...)``; with
    ``optimizer`` (:mod:`gradflow.optimizers`) its own rule on every tensor entry instead, against
    its flow."""
    from ...optimizers import make
    opt = make(optimizer)
    eta, t_end = check_positive("eta", eta), check_positive("t_end", t_end)
    n_times, refinements = check_int("n_times", n_times, 1), check_int("refinements", refinements, 2)
    if system.sizes()["population"] != "sample" or system.sizes()["schedule"] != "joint":
        raise ValueError("check needs population='sample' and schedule='joint'")
    every = max(1, int(np.ceil(t_end / (n_times * eta))))
    t = np.arange(n_times + 1) * every * eta
    if system.full:
        return _check_full(system, eta, t, every, n_times, refinements, progress, opt)
    ode = solve(system=system, t_max=float(t[-1]), rtol=1e-11, atol=1e-13, optimizer=opt)
    report = MarkovCheckReport(_label(system, opt), t, [], ode.theta_at(t), [])
    lay, tokens = system.layout, system.tokens
    S, D = system.task.S, lay.D
    return _descend(report, lambda: ref.Weights.from_theta(lay, system.initial()),
                    lambda w: ref.loss_and_grad(w, tokens, S, D, system.loss_name, system.eps)[1],
                    lambda w: ref.live_gradient(lay, w),          # the live entries of w itself
                    eta, every, n_times, refinements, progress, opt=opt)


def _label(system, opt) -> str:
    return system.describe() + ("" if opt.name == "gd" else f"; under {opt.describe()}")


def _arrays(w) -> list:
    """A weights dataclass as a list of arrays (a dict of coefficients in its key order, a number
    as a 1-array): what an optimizer's discrete rule steps."""
    out = []
    for f in fields(w):
        v = getattr(w, f.name)
        out.append(np.array([v[R] for R in v], dtype=float) if isinstance(v, dict) else np.atleast_1d(np.asarray(v, float)))
    return out


def _rebuild(w, arrays):
    """The weights dataclass like ``w`` holding ``arrays`` (inverse of :func:`_arrays`)."""
    kw = {}
    for f, a in zip(fields(w), arrays):
        v = getattr(w, f.name)
        kw[f.name] = (dict(zip(v, a.tolist())) if isinstance(v, dict) else float(a[0]) if np.ndim(v) == 0
                      else a.reshape(np.shape(v)))
    return type(w)(**kw)


def _descend(report, start, gradient, coords, eta, every, n_times, refinements, progress, watch=None, opt=None):
    """GD (or ``opt``'s rule) at steps eta / 2**k from ``start()``, recording ``coords(w)`` every
    ``every·2**k`` steps into ``report`` (and calling ``watch(w)`` there); the dead coefficients
    must not move."""
    for k in range(refinements):
        h = eta / 2 ** k
        w = start()
        rule = None if opt is None or opt.name == "gd" else opt.discrete(h)
        dead0 = {R: v for R, v in w.c.items() if 0 in R}
        thetas = []
        begin = time.perf_counter()
        for step in range(every * 2 ** k * n_times + 1):
            if step % (every * 2 ** k) == 0:
                thetas.append(coords(w))
                if watch is not None:
                    watch(w)
                if progress:
                    print(f"\r  eta = {h:g}: t = {step * h:g}", end="", file=sys.stderr, flush=True)
            if step == every * 2 ** k * n_times:
                break
            if rule is None:
                w = w.step(gradient(w), h)
            else:
                w = _rebuild(w, rule.step(_arrays(w), _arrays(gradient(w))))
        if progress:
            print(file=sys.stderr)
        report.dead_moved = max(report.dead_moved, max(abs(w.c[R] - v) for R, v in dead0.items()))
        report.etas.append(h)
        report.theta_gd.append(np.array(thetas))
        report.seconds.append(time.perf_counter() - begin)
    return report


def _check_full(system, eta, t, every, n_times, refinements, progress, opt) -> MarkovCheckReport:
    """The full model: GD on every weight of the full-tensor reference (:mod:`.full`) over the
    sample averaged over every relabelling of the symbols, from the authors' initialisation,
    against the weight flow on the invariant space. ``off_span`` is the largest distance of GD's
    weights from that space (rounding: GD never leaves it); the dead coefficients must not move."""
    from . import full as F
    lay = system.layout
    ode = solve(system=system, flow="weights", t_max=float(t[-1]), rtol=1e-11, atol=1e-13, optimizer=opt)
    report = MarkovCheckReport(_label(system, opt), t, [], ode.theta_at(t), [], off_span=0.0)
    perms = F.permutations(system.task.S)
    orbit = np.concatenate([np.array(p)[system.tokens] for p in perms])

    def watch(w):
        report.off_span = max(report.off_span, F.off_span(w))
    return _descend(report, lambda: lay.weights(system.initial()),
                    lambda w: F.loss_and_grad(w, orbit, system.task.S, system.loss_name, system.eps)[1],
                    lay.theta_of, eta, every, n_times, refinements, progress, watch, opt)
