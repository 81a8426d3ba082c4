"""``check`` for the paper system: the solved weight flow against gradient descent on the full-weight
reference, with the population gradient averaged exactly over a finite group of frames.

At N = 3 (D = 8) the 8192 frames of :func:`.symmetry.finite_frames` (16384 without the M-structure,
where the positions' group is the contents') have the same fixed space as
the full rotation groups, so at invariant weights their average is the population gradient. GD runs
on the three full matrices from W = 0 with steps η, η/2, η/4 …, each gradient the mean of the
per-frame gradients computed by backprop, nothing projected. Every recorded W is projected onto the
19 basis matrices: the off-span residual must stay at rounding level (SPEC-paper §6: the flow stays
in the 19-dimensional span), and θ_GD must follow ``solve(flow="weights")`` with an error that
halves with η (GD is the flow's Euler scheme) and, after Richardson extrapolation, quarters.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..._validate import check_choice, check_int, check_positive
from ...convergence import EulerConvergence
from ...solver import solve
from . import reference as ref
from .reduced import QUERIES
from .setting import Setting
from .symmetry import coupled_frames, finite_frames

N_CHECK = 3
D_CHECK = 8
OFF_SPAN_TOL = 1e-12


#: the finite frame groups :func:`frames_batch` can average over
GROUPS = ("product", "coupled")


def frames_batch(query: str, options: dict | None = None, N: int = N_CHECK, D: int = D_CHECK,
                 group: str = "product"):
    """Every frame of a finite group applied to the setting's canonical sequences: (E, Y, the
    target token of each, the setting). D is a power of 2 ≥ 2N + 2. ``group="product"``: all
    pairs of :func:`.symmetry.finite_frames` (without the M-structure, labels at their item's
    position, the positions' group is the real Pauli group, as the contents'); ``"coupled"``:
    :func:`.symmetry.coupled_frames`, the same fixed space from 24·(D/2)² frames (M-structure only)."""
    check_choice("group", group, GROUPS)
    setting = Setting(N, query, **(options or {}))
    if group == "coupled":
        if setting.labels == "same":
            raise ValueError("group='coupled' needs the M-structure (labels='rotated'); use group='product'")
        Qs, Us = coupled_frames(D)
    else:
        C, P = finite_frames(D)
        if setting.labels == "same":
            P = C
        Qs = np.repeat(C, len(P), axis=0)
        Us = np.tile(P, (len(C), 1, 1))
    E0, Y0, target0 = setting.batch(D)
    n = len(E0)
    E = np.empty((len(Qs) * n,) + E0.shape[1:])
    Y = np.empty((len(Qs) * n, D))
    for k in range(n):
        E[k::n, :, :D] = np.einsum("gij,tj->gti", Qs, E0[k, :, :D])
        E[k::n, :, D:] = np.einsum("gij,tj->gti", Us, E0[k, :, D:])
        Y[k::n] = np.einsum("gij,j->gi", Qs, Y0[k])
    return E, Y, np.tile(target0, len(Qs)), setting


@dataclass
class PaperCheckReport(EulerConvergence):
    """θ of GD (per η) and of the solved weight flow at common times ``t``; the largest off-span
    residual of each GD run; max |θ_GD − θ_ODE| per η and after Richardson extrapolation."""
    query: str
    t: np.ndarray
    etas: list
    theta_ode: np.ndarray
    theta_gd: list = field(repr=False)
    off_span: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    #: sequences each gradient averages over (frames × the setting's canonical sequences)
    sequences: int = 8192
    #: the setting's options that differ from the paper's
    options: dict = field(default_factory=dict)
    #: the rule run on the full weights ("GD", or the optimizer in words)
    rule: str = "GD"

    @property
    def passed(self) -> bool:
        return max(self.off_span) <= OFF_SPAN_TOL and self.converges

    def summary(self) -> str:
        extra = "".join(f", {k} {v}" for k, v in self.options.items())
        lines = [f"check: full-weight {self.rule} (gradient averaged over {self.sequences} framed sequences) vs "
                 f"solve(flow='weights'{'' if self.rule == 'GD' else ', optimizer=...'}), paper N = {N_CHECK}, D = {D_CHECK}, query {self.query}{extra}, "
                 f"t in [0, {self.t[-1]:g}]"]
        for k, eta in enumerate(self.etas):
            rate = f"   ratio to eta/2: {self.rates[k]:.3f}" if k < len(self.rates) else ""
            lines.append(f"  eta = {eta:<8g} off-span {self.off_span[k]:.2e}   max|theta_GD - theta_ODE| = "
                         f"{self.errors[k]:.3e}   ({self.seconds[k]:.1f} s){rate}")
        lines += self.convergence_lines()
        lines.append(f"{'PASSED' if self.passed else 'FAILED'}: off-span <= {OFF_SPAN_TOL:g}, " + self.criteria_text())
        return "\n".join(lines)


def check(N: int = N_CHECK, query: str = "last", D=None, *, eta: float = 8.0, t_end: float = 800.0,
          n_times: int = 8, refinements: int = 3, progress: bool = False, options: dict | None = None,
          optimizer="gd") -> PaperCheckReport:
    """GD at steps ``eta / 2**k`` up to ``t_end`` (weight-flow time) against the solved weight flow;
    ``options``: the setting's mask, labels, loss, burst (:mod:`.setting`; default the paper's).
    ``optimizer`` (:mod:`gradflow.optimizers`): the rule run on the full weights instead of GD,
    each entry of the three matrices on its own (:meth:`Optimizer.discrete` at each step, its
    rates held at the flow's), against ``solve(flow="weights", optimizer=…)``."""
    from ...optimizers import make
    opt = make(optimizer)
    if N != N_CHECK or (D is not None and D != D_CHECK):
        raise ValueError(f"check runs at N = {N_CHECK}, D = {D_CHECK} (the exact finite frame group); got N = {N}")
    check_choice("query", query, QUERIES)
    eta, t_end = check_positive("eta", eta), check_positive("t_end", t_end)
    n_times, refinements = check_int("n_times", n_times, 1), check_int("refinements", refinements, 2)
    every = max(1, int(np.ceil(t_end / (n_times * eta))))
    t = np.arange(n_times + 1) * every * eta
    options = dict(options or {})
    ode = solve(N_CHECK, system="paper", query=query, D=D_CHECK, flow="weights", t_max=float(t[-1]),
                rtol=1e-11, atol=1e-13, optimizer=opt, **options)
    E, Y, target, setting = frames_batch(query, options)
    idx = setting.indices()
    report = PaperCheckReport(query, t, [], ode.theta_at(t), [], sequences=len(E), options=options,
                              rule="GD" if opt.name == "gd" else opt.describe())
    for k in range(refinements):
        h = eta / 2 ** k
        W = [np.zeros((2 * D_CHECK,) * 2), np.zeros((4 * D_CHECK,) * 2), np.zeros((D_CHECK, 8 * D_CHECK))]
        thetas, off = [], 0.0
        rule = opt.discrete(h)
        start = time.perf_counter()
        for step in range(every * 2 ** k * n_times + 1):
            if step % (every * 2 ** k) == 0:
                th, resid = ref.project(W, D_CHECK, setting.kinds)
                thetas.append(th[idx])
                off = max(off, resid)
                if progress:
                    print(f"\r  eta = {h:g}: t = {step * h:g}", end="", file=sys.stderr, flush=True)
            if step == every * 2 ** k * n_times:
                break
            _, g = ref.loss_and_grad(W, E, Y, mask=setting.mask, loss=setting.loss, target=target)
            W = rule.step(W, g)
        if progress:
            print(file=sys.stderr)
        report.etas.append(h)
        report.theta_gd.append(np.array(thetas))
        report.off_span.append(off)
        report.seconds.append(time.perf_counter() - start)
    return report
