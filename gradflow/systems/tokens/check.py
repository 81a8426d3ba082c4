"""``check``: the solved weight flow against gradient descent on the full reference transformer.

Plain GD on the three full matrices (exact population gradient, no symmetry imposed on the
update) from W = 0 with steps η, η/2, η/4 …; every recorded W is projected back onto the
19-dimensional subspace. SPEC §7 says the projection must be exact (relative off-subspace
norm ≤ 1e-9) and θ_GD must follow ``solve(flow="weights")`` with an error shrinking linearly
in η (GD is the flow's Euler scheme).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from . import reference
from .reduced import loss as reduced_loss
from ...convergence import EulerConvergence
from ...solver import solve
from .subspace import project
from ..._validate import check_int, check_positive
from .task import Task

#: SPEC §7: largest relative off-subspace norm of a GD iterate.
OFF_SUBSPACE_TOL = 1e-9
@dataclass
class CheckReport(EulerConvergence):
    """Comparison of reference GD with the solved weight flow at common times ``t``.

    ``etas``: the step sizes; ``off_subspace[k]``: largest relative off-subspace norm of the GD
    iterates with ``etas[k]``; ``errors``, ``rates`` and their extrapolated forms: see
    :mod:`gradflow.convergence`; ``loss_gd[k]`` and ``loss_ode``: loss curves at ``t``;
    ``passed``: the off-subspace bound (SPEC §7) and both rate windows hold."""

    task: Task
    t: np.ndarray
    etas: list
    theta_ode: np.ndarray
    loss_ode: np.ndarray
    theta_gd: list = field(repr=False)
    loss_gd: list = field(repr=False)
    off_subspace: list = field(default_factory=list)
    seconds_gd: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return max(self.off_subspace) <= OFF_SUBSPACE_TOL and self.converges

    def summary(self) -> str:
        lines = [f"check: reference GD vs solve(flow='weights'), task {self.task.as_dict()}, "
                 f"t in [0, {self.t[-1]:g}], {len(self.t)} common times"]
        for k, eta in enumerate(self.etas):
            rate = f"   err ratio to eta/2: {self.rates[k]:.3f}" if k < len(self.rates) else ""
            lines.append(f"  eta = {eta:<8g} off-subspace {self.off_subspace[k]:.2e}   "
                         f"max|theta_GD - theta_ODE| = {self.errors[k]:.3e}   "
                         f"final loss GD {self.loss_gd[k][-1]:.6f} vs ODE {self.loss_ode[-1]:.6f}   "
                         f"({self.seconds_gd[k]:.1f} s){rate}")
        lines += self.convergence_lines()
        lines.append(f"{'PASSED' if self.passed else 'FAILED'}: off-subspace <= {OFF_SUBSPACE_TOL:g}, "
                     + self.criteria_text())
        return "\n".join(lines)


def check(N: int = 8, K: int | None = None, L: int | None = None, *, eta: float = 1.0,
          t_end: float | None = None, n_times: int = 40, refinements: int = 3,
          method: str | None = None, progress: bool = False) -> CheckReport:
    """Train the reference transformer with plain GD at steps ``eta / 2**k``
    (k < ``refinements``) up to ``t_end`` and compare with the solved weight flow.

    ``method`` is the reference's population-gradient method (``"enumerate"``: every sequence,
    nothing assumed about the weights; tiny sizes only). ``t_end`` defaults to the weight flow's emergence time T(N) rounded up to a multiple of
    ``n_times·eta``, so the comparison covers the plateau and the emergence.
    """
    task = Task(check_int("N", N, 2), K, L)
    eta = check_positive("eta", eta)
    n_times = check_int("n_times", n_times, 1)
    refinements = check_int("refinements", refinements, 2)
    if t_end is None:
        T = solve(system="tokens", N=task.N, K=task.K, L=task.L, flow="weights").emergence["T"]
        if not np.isfinite(T):
            raise ValueError("the weight flow does not emerge for this task; pass t_end")
        t_end = T
    t_end = check_positive("t_end", t_end)
    every = max(1, int(np.ceil(t_end / (n_times * eta))))      # coarse steps between records
    steps = every * n_times
    t = np.arange(n_times + 1) * every * eta
    ode = solve(system="tokens", N=task.N, K=task.K, L=task.L, flow="weights", t_max=t[-1], rtol=1e-11,
                atol=1e-13)
    theta_ode = ode.theta_at(t)
    report = CheckReport(task, t, [], theta_ode, np.array([reduced_loss(th, task) for th in theta_ode]),
                         [], [])
    for k in range(refinements):
        h = eta / 2 ** k
        if progress:
            print(f"reference GD with eta = {h:g}: {steps * 2 ** k} steps", file=sys.stderr)
        traj = reference.train(task, h, steps * 2 ** k, record_every=every * 2 ** k, method=method,
                               progress=progress)
        proj = [project(W, task) for W in traj.W]
        theta_gd = np.array([p[0] for p in proj])
        report.etas.append(h)
        report.theta_gd.append(theta_gd)
        report.loss_gd.append(traj.loss)
        report.off_subspace.append(max(p[1] for p in proj))
        report.seconds_gd.append(traj.seconds)
    return report
