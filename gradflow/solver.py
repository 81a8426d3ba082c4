"""``solve``: integrate a gradient flow of SPEC §5 with a SciPy stiff solver and an analytic
Jacobian, detect emergence (SPEC §6) and return a :class:`gradflow.Result`."""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy.integrate import BDF, LSODA, OdeSolution, Radau

from .flows import Flow
from .result import Result, emergence_order, emergence_times
from .task import Task, check_int, check_positive

METHODS = {"Radau": Radau, "BDF": BDF, "LSODA": LSODA}
#: ‖∇𝓛(θ0)‖∞ at or below this means θ0 is a stationary point: the flow does not move.
STATIONARY_TOL = 1e-14


def solve(N: int = 64, *, K: int | None = None, L: int | None = None, flow: str = "theta",
          params=None, theta0=None, t_max: float | None = None, method: str = "Radau",
          rtol: float = 1e-8, atol: float = 1e-10, margin: float = 2.0, max_steps: int = 100_000,
          t_limit: float | None = None, progress: bool = False) -> Result:
    """Solve the gradient flow of the 19 pseudo-parameters from ``theta0`` (default 0).

    Parameters
    ----------
    N, K, L : task sizes (SPEC §1; defaults K = N, L = N + 1). ``N`` must be at least 2.
    flow : ``"theta"`` (dθ/dt = −∇𝓛, the default) or ``"weights"`` (dθ/dt = −G⁻¹∇𝓛, plain
        gradient flow of the full transformer's weights).
    params : names of the free pseudo-parameters, e.g. ``("alpha3", "beta2", "gamma3")``
        for the 3-parameter subsystem; the others stay at ``theta0``. Default: all 19.
    theta0 : start (length 19, NAMES order). Default 0.
    t_max : end time. ``None`` integrates until 𝓛 < 0.1 log N and then on to ``margin`` times
        that time (guarded by ``max_steps`` solver steps and, if given, by ``t_limit``: reaching
        it first ends the solve with status ``"not_emerged"``).
    method : ``"Radau"``, ``"BDF"`` or ``"LSODA"`` (all given the analytic Jacobian).
    rtol, atol : solver tolerances.
    progress : print the time, loss and step count to stderr while solving.

    A solver failure, a start at a stationary point (θ = 0 at L = N) and running out of steps
    are reported in ``Result.status`` and ``Result.message``, never raised.
    """
    task = Task(check_int("N", N, 2), K, L)
    if method not in METHODS:
        raise ValueError(f"method must be one of {tuple(METHODS)}, got {method!r}")
    rtol, atol, margin = check_positive("rtol", rtol), check_positive("atol", atol), float(margin)
    if not margin >= 1:
        raise ValueError(f"margin must be a number >= 1, got {margin}")
    if t_max is not None:
        t_max = check_positive("t_max", t_max)
    if t_limit is not None:
        t_limit = check_positive("t_limit", t_limit)
    max_steps = check_int("max_steps", max_steps, 1)
    fl = Flow(task, flow, params, theta0)
    y0 = fl.theta0[fl.idx]
    stats = {"method": method, "rtol": rtol, "atol": atol, "nfev": 0, "njev": 0, "nlu": 0,
             "n_steps": 0, "wall_seconds": 0.0}
    start = time.perf_counter()
    f0 = fl.rhs(0.0, y0)
    ts, ys, fs, pieces = [0.0], [y0], [f0], []
    if np.max(np.abs(f0)) <= STATIONARY_TOL:
        status = "stationary"
        message = ("theta0 is a stationary point: the gradient vanishes (theta = 0 is a saddle when "
                   "L = N); pass a perturbed theta0")
    else:
        t_bound = t_max if t_max is not None else (np.inf if t_limit is None else t_limit)
        solver = METHODS[method](fl.rhs, 0.0, y0, t_bound,
                                 rtol=rtol, atol=atol, jac=fl.jac)
        target = 0.1 * np.log(task.N)
        t_stop = t_max
        status, message = "failed", ""
        while True:
            try:
                msg = solver.step()
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                message = f"{method} raised at t = {solver.t:.6g}: {exc}"
                break
            if solver.status == "failed":
                message = f"{method} failed at t = {solver.t:.6g}: {msg}"
                break
            pieces.append(solver.dense_output())
            ts.append(solver.t)
            ys.append(solver.y.copy())
            # Radau keeps f(t_new, y_new); the other methods' derivative is evaluated at the end
            fs.append(solver.f.copy() if isinstance(solver, Radau) else None)
            # the stop test uses 𝓛 at the latest right-hand side, a point inside this step (𝓛
            # never increases along the flow); exact losses are evaluated only where needed
            recent = fl.last_loss
            if progress and len(ts) % 20 == 0:
                print(f"\r  t = {solver.t:.4g}  loss = {recent:.5f}  steps = {len(ts) - 1}",
                      end="", file=sys.stderr, flush=True)
            if t_max is None and t_stop is None and recent < target:
                t_stop = margin * solver.t
            if t_max is None and t_stop is None and solver.status == "finished":
                status, message = "not_emerged", f"loss still above 0.1 log N at t_limit = {t_limit:g}"
                break
            if solver.status == "finished" or (t_max is None and t_stop is not None and solver.t >= t_stop):
                status = "emerged" if fl.loss(solver.y) < 0.5 * np.log(task.N) else "t_max"
                message = "loss fell below 0.1 log N" if t_max is None else f"reached t_max = {t_max:g}"
                break
            if len(ts) > max_steps:
                status, message = "max_steps", f"stopped after {max_steps} steps at t = {solver.t:.6g}"
                break
        if progress:
            print(file=sys.stderr)
        stats.update(nfev=int(solver.nfev), njev=int(solver.njev), nlu=int(solver.nlu))
    stats["n_steps"] = len(ts) - 1
    stats["wall_seconds"] = time.perf_counter() - start
    t = np.array(ts)
    theta = np.array([fl.full(y) for y in ys])
    if all(f is not None for f in fs):            # Radau kept f at every step
        dtheta = np.zeros_like(theta)
        dtheta[:, fl.idx] = fs
    else:
        dtheta = None                               # evaluated when first needed

    def derivative(th):
        out = np.zeros(19)
        out[fl.idx] = fl.rhs(0.0, th[fl.idx])
        return out
    dense = _Dense(OdeSolution(t, pieces), fl) if pieces else None
    def loss_of_step(k):
        return fl.loss(ys[k])
    if dense is not None:
        emergence = emergence_times(t, theta, loss_of_step, lambda s: fl.loss(dense.free(s)), dense, task.N,
                                    fl.params)
    else:
        emergence = emergence_times(t, theta, loss_of_step, None, None, task.N, ())
    return Result(t=t, theta=theta, _dtheta=dtheta, _derivative=derivative, task=task, flow=flow,
                  params=fl.params, emergence=emergence, order=emergence_order(emergence), stats=stats, status=status,
                  message=message, dense=dense)


class _Dense:
    """Dense output of the full 19-vector from the solver's dense output of the free ones."""

    def __init__(self, sol: OdeSolution, fl: Flow):
        self.sol, self.fl = sol, fl

    def free(self, t):
        return self.sol(t)

    def __call__(self, t):
        y = self.sol(t)
        if np.ndim(t) == 0:
            return self.fl.full(y)
        out = np.repeat(self.fl.theta0[:, None], y.shape[1], axis=1)
        out[self.fl.idx] = y
        return out
