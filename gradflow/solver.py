"""``solve``: integrate a system's gradient flow with a SciPy integrator, locate its emergence
criteria and return a :class:`gradflow.Result`."""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy.integrate import BDF, DOP853, LSODA, RK45, OdeSolution, Radau

from . import _threads
from . import optimizers
from . import system as systems
from ._differences import central_differences
from ._validate import check_choice, check_int, check_positive
from .criteria import describe, emergence_order, emergence_times, reached
from .flows import Flow, make_flow
from .result import Result

#: SciPy integrators by name. The implicit ones get the system's analytic Jacobian (its Hessian)
#: when it has one, else SciPy's finite differences.
METHODS = {"LSODA": LSODA, "RK45": RK45, "DOP853": DOP853, "Radau": Radau, "BDF": BDF}
IMPLICIT = ("LSODA", "Radau", "BDF")
#: The default, by measurement (benchmarks/results/tokens/first_hour.md (b)): LSODA switches between
#: a non-stiff and a stiff method by itself. On tokens (not stiff) it never evaluates a Jacobian and
#: reaches a given accuracy of T with the fewest right-hand sides (Radau: 5×, and the Hessian's
#: compile); the paper's flow is stiff late on (N = 64: RK45 needs 24206 right-hand sides, LSODA 2736).
DEFAULT_METHOD = "LSODA"
#: The default for an optimizer with state whose flow has an analytic Jacobian (the optimizer's
#: partials × the system's Hessian), by measurement (paper, weight flow, Adam's defaults): the
#: moments' fast relaxation makes the flow stiff and oscillatory, which Radau (L-stable) steps over,
#: where LSODA's BDF (not A-stable above order 2) resolves it: N = 16, 64, 256 took 3531, 2258, 1290
#: Radau steps against 40402, 22097, 24478 LSODA steps, t_ICL the same to 6e-12.
OPTIMIZER_METHOD = "Radau"
#: a solve whose t moves by less than 1e-9 relative over this many steps has stalled
STALL_STEPS = 1000
#: seconds between progress lines
PROGRESS_EVERY = 1.0
#: a loss at a right-hand side above the lowest one so far by more than this (relative, absolute)
#: ends the solve as "failed": the flow never increases 𝓛, so a rise this large means the gradient
#: and the loss disagree (a stage point overshoots by the local error, orders of magnitude less)
RISE_REL, RISE_ABS = 1e-4, 1e-10
#: ‖∇𝓛(θ0)‖∞ above this: θ0 is not a stationary point. At or below it, θ0 is one only when the
#: Newton step to the linearised flow's zero, −J⁺ f(θ0), is within STATIONARY_STEP·max(1, ‖y0‖∞)
#: (a few hundred float64 spacings: θ0 is the stationary point to rounding). A small gradient
#: alone is not enough: θ0 = 10⁻⁸ by the cross-entropy head's saddle at 0 has ‖∇𝓛‖ = 2e-15 at
#: N = 1024 and escapes in finite time.
STATIONARY_TOL = 1e-14
STATIONARY_STEP = 1e-13


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM under the CLI) during :func:`solve`: ``result`` holds every step
    accepted so far (status ``"interrupted"``, emergence times of what was integrated), ready to
    save. It is a ``KeyboardInterrupt``, so a script that does not catch it stops as usual."""

    def __init__(self, result: Result):
        super().__init__(result.message)
        self.result = result


def solve(N: int | None = None, *, system=systems.DEFAULT_SYSTEM, flow: str = "theta", params=None, theta0=None,
          optimizer="gd", method: str | None = None, rtol: float = 1e-8, atol: float = 1e-10, coords: str = "auto",
          t_max: float | None = None, margin: float = 2.0, max_steps: int = 100_000,
          t_limit: float | None = None, criteria=(), progress: bool = False, threads: int | None = None,
          **sizes) -> Result:
    """Solve a system's gradient flow from ``theta0`` and find when it emerges.

    What is solved
        ``system``: a registered name (:func:`gradflow.system.available`) or a configured
        :class:`gradflow.System`; its size arguments as keywords (``N`` may be given first, e.g.
        ``solve(64, L=128)``). ``flow``: ``"theta"`` (dθ/dt = −∇𝓛) or ``"weights"``
        (dθ/dt = −G⁻¹∇𝓛, plain gradient flow of the full weights). ``params``: the free
        parameters (default all; the others stay at ``theta0``). ``theta0``: the start (default
        the system's initial point: 0 for paper and tokens). ``optimizer``: the training rule
        whose flow is solved (:mod:`gradflow.optimizers`): ``"gd"`` (the gradient flow, the
        default), ``"momentum"``, ``"adam"``, ``"sign"``, an instance such as
        ``gradflow.optimizers.Adam(lr=1e-3, eps=1e-8)`` or its dict ``{"name": "adam", "lr": 1e-3}``;
        every optimizer runs on the time axis t = learning rate × steps.
    How
        ``method``: a key of :data:`METHODS` (default :data:`DEFAULT_METHOD`, LSODA; for an
        optimizer with state and an analytic Jacobian :data:`OPTIMIZER_METHOD`, Radau);
        ``rtol``, ``atol``: its tolerances. ``coords``:
        ``"auto"`` integrates the system's vanishing parameters (``System.log_params``, e.g.
        markov's selector coefficients) as ln|θ_i| on the θ-flow, so their relative error stays
        controlled below ``atol`` (:mod:`gradflow.flows`); ``"linear"`` integrates θ as it is.
    When to stop
        ``t_max``: end time. ``None`` integrates until the system's stop criterion holds (e.g.
        𝓛 < 0.1 log N) and on to ``margin`` times that time, guarded by ``max_steps`` solver steps
        and, if given, by ``t_limit`` (reaching it first ends with status ``"not_emerged"``).
    What is reported
        The system's default emergence criteria plus ``criteria`` (:mod:`gradflow.criteria`),
        each located on the dense output; the order of the system's head. ``progress`` prints
        time, loss and steps to stderr while solving.
    Resources
        ``threads``: how many threads the kernels may use (default: ``GRADFLOW_THREADS`` or the
        cores available, at most 2; small sizes always run on one).

    A system with a schedule (:meth:`gradflow.System.segments`, e.g. markov's ``staged``) is solved
    segment by segment when neither ``params`` nor ``t_max`` is given; ``theta0`` defaults to the
    system's :meth:`~gradflow.System.initial` point.

    A solver failure, a start at a stationary point and running out of steps are reported in
    ``Result.status`` and ``Result.message``, never raised; bad arguments raise ``ValueError``
    naming the argument before any work starts. A start is stationary when its gradient is below
    :data:`STATIONARY_TOL` and the Newton step to the stationary point is at float64's resolution
    (:data:`STATIONARY_STEP`); a start a small but real distance from a saddle is integrated
    (give ``atol`` well below that distance, or its escape is resolved only to about atol/|θ0|).
    """
    if N is not None:
        sizes["N"] = N
    sys_ = systems.make(system, sizes)
    opt = _optimizer(optimizer, sys_, params, t_max)
    with _threads.using(threads):
        if sys_.segments() and params is None and t_max is None:
            return _solve_segments(sys_, flow, theta0, method, rtol, atol, coords, max_steps, criteria, progress)
        return _solve(sys_, flow, params, theta0, method, rtol, atol, coords, t_max, margin, max_steps, t_limit,
                      criteria, progress, opt=opt)


def _optimizer(optimizer, sys_, params, t_max):
    """The optimizer, checked; a scheduled system (segments) runs gradient descent only."""
    opt = optimizers.make(optimizer)
    if opt.name != "gd" and sys_.segments() and params is None and t_max is None:
        raise ValueError(f"optimizer {opt.name!r} needs one flow of its state, but {sys_.name} with this schedule is "
                         "solved segment by segment (the staged schedule is gradient descent's; use the joint one)")
    return opt


def _solve_segments(sys_, flow, theta0, method, rtol, atol, coords, max_steps, criteria, progress) -> Result:
    """A system's schedule (:meth:`System.segments`): each segment's parameters for its flow
    time, from where the previous one ended; one Result on the joined time axis. Each event's
    time is its first over the segments; θ is continuous at a boundary, dθ/dt is not (the
    boundary point is kept once, with the derivative of the segment that ends there)."""
    parts, offset, start, log_start = [], 0.0, theta0, None
    for k, (params, duration) in enumerate(sys_.segments()):
        if progress:
            _report(f"segment {k + 1}: {', '.join(params)} for t = {duration:g}")
            _report("", end=True)
        try:
            r = _solve(sys_, flow, params, start, method, rtol, atol, coords, float(duration), 2.0, max_steps,
                       None, criteria, progress, log_start)
        except Interrupted as stop:
            r = stop.result
        parts.append((offset, r))
        start, log_start, offset = r.theta[-1], r.log_abs_theta[-1], offset + r.t[-1]
        if r.status not in ("emerged", "t_max"):
            break
    t = np.concatenate([off + r.t[(k > 0):] for k, (off, r) in enumerate(parts)])
    theta = np.concatenate([r.theta[(k > 0):] for k, (_, r) in enumerate(parts)])
    dtheta = np.concatenate([r.dtheta[(k > 0):] for k, (_, r) in enumerate(parts)])
    log_params = tuple(n for n in sys_.names if any(n in r.log_params for _, r in parts))
    log_abs = (np.concatenate([r.log_abs_theta[(k > 0):] for k, (_, r) in enumerate(parts)])
               if log_params else None)
    emergence = _first_events([(off, r.emergence) for off, r in parts])
    last = parts[-1][1]
    status, message = last.status, last.message
    if status in ("emerged", "t_max"):
        status = "emerged" if np.isfinite(emergence[sys_.primary_key]) else "t_max"
        message = f"{len(parts)} segments to t = {t[-1]:g}"
    elif status == "interrupted":
        message = f"interrupted in segment {len(parts)} at t = {t[-1]:.6g}"
    stats = dict(parts[0][1].stats)
    for key in ("nfev", "njev", "nlu", "n_steps", "wall_seconds"):
        stats[key] = sum(r.stats[key] for _, r in parts)
    stats["segments"] = [[list(r.params), float(r.t[-1])] for _, r in parts]
    params = tuple(n for n in sys_.names if any(n in r.params for _, r in parts))
    result = Result(t=t, theta=theta, system=sys_, flow=flow, params=params, emergence=emergence,
                    order=emergence_order(emergence, sys_.head, sys_.order_level), stats=stats,
                    status=status, message=message, log_params=log_params, _dtheta=dtheta, _log_abs=log_abs)
    if status == "interrupted":
        raise Interrupted(result)
    return result


def _first_events(timed: list) -> dict:
    """Merge segments' emergence dicts: each event at its first finite time (plus the offset)."""
    out = {"t_p": {}}
    for off, em in timed:
        for key, value in em.items():
            if key == "t_p":
                for name, levels in value.items():
                    slot = out["t_p"].setdefault(name, {})
                    for lev, tp in levels.items():
                        if not np.isfinite(slot.get(lev, np.nan)):
                            slot[lev] = off + tp
            elif not np.isfinite(out.get(key, np.nan)):
                out[key] = off + value
    return out


def _check_solver_args(method, rtol, atol, t_max, margin, max_steps, t_limit):
    """The integrator's arguments, checked (``ValueError`` naming the argument): (rtol, atol,
    t_max, margin, max_steps, t_limit) as numbers."""
    if method is not None:
        check_choice("method", method, tuple(METHODS))
    rtol, atol = check_positive("rtol", rtol), check_positive("atol", atol)
    margin = check_positive("margin", margin)
    if not margin >= 1:
        raise ValueError(f"margin must be a number >= 1, got {margin}")
    if t_max is not None:
        t_max = check_positive("t_max", t_max)
    if t_limit is not None:
        t_limit = check_positive("t_limit", t_limit)
    return rtol, atol, t_max, margin, check_int("max_steps", max_steps, 1), t_limit


def validate(N: int | None = None, *, system=systems.DEFAULT_SYSTEM, flow: str = "theta", params=None,
             theta0=None, optimizer="gd", method: str | None = None, rtol: float = 1e-8, atol: float = 1e-10,
             coords: str = "auto", t_max: float | None = None, margin: float = 2.0, max_steps: int = 100_000,
             t_limit: float | None = None, **sizes):
    """Check the arguments of a :func:`solve` as it would, sizes beyond the machine included,
    without solving: the configured system, or ``ValueError`` / ``TypeError`` naming the
    argument. A sweep calls it on every run before the first one starts."""
    if N is not None:
        sizes["N"] = N
    sys_ = systems.make(system, sizes)
    opt = _optimizer(optimizer, sys_, params, t_max)
    _check_solver_args(method, rtol, atol, t_max, margin, max_steps, t_limit)
    fl = make_flow(sys_, opt, flow, params, theta0, coords)
    sys_.check_size_limits(fl.params)
    return sys_


def _stationary(fl, y0, f0) -> bool:
    """Whether the start ``y0`` (right-hand side ``f0``) is a stationary point to float64's
    resolution (:data:`STATIONARY_TOL`, :data:`STATIONARY_STEP`). The Jacobian is the flow's
    analytic one where it has it, else central differences of the right-hand side (2·len(y0)
    evaluations, only when the gradient is already below STATIONARY_TOL); the pseudo-inverse
    drops directions below 1e-10 of its largest singular value (a flat direction moves nothing)."""
    size = np.max(np.abs(f0))
    if size > STATIONARY_TOL:
        return False
    if size == 0.0:
        return True
    if fl.jac is not None:
        J = np.asarray(fl.jac(0.0, y0), dtype=np.float64)
    else:
        J = central_differences(lambda y: fl.rhs(0.0, y), y0, 1e-6 * np.maximum(1.0, np.abs(y0)))
        fl.rhs(0.0, y0)                                   # the flow's latest loss is the start's again
    step = np.linalg.lstsq(J, f0, rcond=1e-10)[0]
    return bool(np.max(np.abs(step)) <= STATIONARY_STEP * max(1.0, np.max(np.abs(y0))))


def _solve(sys_, flow, params, theta0, method, rtol, atol, coords, t_max, margin, max_steps, t_limit, criteria,
           progress, log_abs0=None, opt=None) -> Result:
    rtol, atol, t_max, margin, max_steps, t_limit = _check_solver_args(method, rtol, atol, t_max, margin,
                                                                        max_steps, t_limit)
    crits = tuple(sys_.criteria()) + tuple(criteria)
    stop = next(c for c in crits if getattr(c, "key", None) == sys_.stop_key)
    opt = optimizers.make() if opt is None else opt
    fl = make_flow(sys_, opt, flow, params, theta0, coords, log_abs0)
    sys_.check_size_limits(fl.params)
    if method is None:
        method = OPTIMIZER_METHOD if opt.state and fl.jac is not None else DEFAULT_METHOD
    note = sys_.cost_note() if progress else ""
    if note:
        _report(note)
        _report("", end=True)
    y0 = fl.y0
    stats = {"method": method, "rtol": rtol, "atol": atol, "nfev": 0, "njev": 0, "nlu": 0,
             "n_steps": 0, "wall_seconds": 0.0}
    start = time.perf_counter()
    f0 = fl.rhs(0.0, y0)
    ts, ys, fs, pieces = [0.0], [y0], [f0], []
    if _stationary(fl, y0, f0):
        status = "stationary"
        message = "theta0 is a stationary point: the gradient vanishes"
        hint = getattr(sys_, "stationary_hint", "")
        message += f" ({hint})" if hint else ""
    else:
        t_bound = t_max if t_max is not None else (np.inf if t_limit is None else t_limit)
        extra = {"jac": fl.jac} if method in IMPLICIT and fl.jac is not None else {}
        solver = METHODS[method](fl.rhs, 0.0, y0, t_bound, rtol=rtol, atol=fl.atol(atol), **extra)
        t_stop = t_max
        status, message = "failed", ""
        last_report = start
        lowest = fl.last_loss
        try:
            while True:
                try:
                    msg = solver.step()
                except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                    message = f"{method} raised at t = {solver.t:.6g}: {exc}"
                    break
                if solver.status == "failed":
                    message = f"{method} failed at t = {solver.t:.6g}: {msg}"
                    break
                if not np.isfinite(solver.t):
                    status, message = "not_emerged", (f"the steps grew without bound before {describe(stop)} "
                                                      f"(loss {fl.last_loss:.6g}, still falling: the flow runs off to "
                                                      "infinity)")
                    break
                if solver.t <= ts[-1]:
                    message = (f"{method}'s step no longer moves t at t = {solver.t:.6g} (float64 resolves "
                               f"{np.spacing(solver.t):.3g} there)")
                    break
                pieces.append(solver.dense_output())
                ts.append(solver.t)
                ys.append(solver.y.copy())
                # Radau keeps f(t_new, y_new); the other methods' derivative is evaluated when needed
                fs.append(solver.f.copy() if isinstance(solver, Radau) else None)
                # a loss criterion is tested with 𝓛 at the latest right-hand side, a point inside this
                # step (𝓛 never increases along the flow); exact losses are evaluated only where needed
                recent = fl.last_loss
                lowest = min(lowest, recent)
                if fl.monotone and recent > lowest + RISE_REL * abs(lowest) + RISE_ABS:
                    status, message = "failed", (f"the loss rose from {lowest:.10g} to {recent:.10g} by t = {solver.t:.6g}: "
                                                 "a gradient flow never increases it, so the gradient does not match "
                                                 "the loss (or the integrator has lost accuracy)")
                    break
                if progress and time.perf_counter() - last_report >= PROGRESS_EVERY:
                    last_report = time.perf_counter()
                    _report(f"t = {solver.t:.4g}  loss = {recent:.5f}  steps = {len(ts) - 1}  "
                            f"{last_report - start:.0f} s")
                open_ended = t_max is None
                if open_ended and t_stop is None and reached(stop, sys_.names, fl.full(solver.y), recent):
                    t_stop = margin * solver.t
                if open_ended and t_stop is None and solver.status == "finished":
                    status, message = "not_emerged", f"t_limit = {t_limit:g} came first (awaited: {describe(stop)})"
                    break
                if solver.status == "finished" or (open_ended and t_stop is not None and solver.t >= t_stop):
                    status, message = "done", (f"integrated to {margin:g} × the time at which: {describe(stop)}" if open_ended
                                                   else f"integrated to t_max = {t_max:g}")
                    break
                if len(ts) > STALL_STEPS and solver.t - ts[-STALL_STEPS] <= 1e-9 * abs(solver.t):
                    status, message = "failed", (f"step size collapsed at t = {solver.t:.6g} (t moved by less "
                                                 f"than 1e-9 relative in {STALL_STEPS} steps)")
                    break
                if len(ts) > max_steps:
                    status, message = "max_steps", f"stopped after {max_steps} steps at t = {solver.t:.6g}"
                    if open_ended and t_stop is None:
                        message += _settled_hint(fl, ts, ys, recent, stop)
                    break
        except KeyboardInterrupt:                # Ctrl-C or SIGTERM: keep every accepted step
            status, message = "interrupted", f"interrupted at t = {ts[-1]:.6g} after {len(ts) - 1} steps"
            n = min(len(ts), len(ys), len(fs), len(pieces) + 1)
            del ts[n:], ys[n:], fs[n:], pieces[n - 1:]
        if progress and last_report > start:
            _report("", end=True)
        stats.update(nfev=int(solver.nfev), njev=int(solver.njev), nlu=int(solver.nlu))
    stats["n_steps"] = len(ts) - 1
    t = np.array(ts)
    theta = np.array([fl.full(y) for y in ys])
    log_abs = np.array([fl.log_abs(y) for y in ys]) if fl.tracks_log else None
    state = np.array([fl.state(y) for y in ys]) if opt.state else None
    if all(f is not None for f in fs):            # Radau kept f at every step
        dtheta = np.array([fl.velocity_at(tk, y, f) for tk, y, f in zip(ts, ys, fs)])
    else:
        dtheta = None                               # evaluated when first needed

    def derivative(k):
        return fl.velocity_at(ts[k], ys[k])
    dense = _Dense(OdeSolution(t, pieces), fl) if pieces else None
    emergence = emergence_times(
        crits, sys_.names, fl.params if dense is not None else (), t, theta, lambda k: fl.loss(ys[k]),
        (lambda s: fl.loss(dense.free(s))) if dense is not None else None, dense)
    if status == "done":
        status = "emerged" if np.isfinite(emergence[sys_.primary_key]) else "t_max"
    stats["wall_seconds"] = time.perf_counter() - start
    result = Result(t=t, theta=theta, system=sys_, flow=flow, params=fl.params, emergence=emergence,
                    order=emergence_order(emergence, sys_.head, sys_.order_level), stats=stats,
                    status=status, message=message, log_params=fl.log_params, dense=dense, _dtheta=dtheta,
                    _derivative=derivative, _log_abs=log_abs,
                    optimizer=None if opt.name == "gd" else opt.spec(), state=state, state_names=fl.state_names())
    if status == "interrupted":
        raise Interrupted(result)
    return result


def _settled_hint(fl, ts, ys, recent: float, stop) -> str:
    """For a run stopped by max_steps before its stop criterion: how much the loss still moved
    since half the time reached (one extra loss evaluation), and what to do."""
    half = int(np.searchsorted(ts, 0.5 * ts[-1]))
    before = fl.loss(ys[half])
    change = abs(before - recent) / max(abs(before), 1e-300)
    text = f"; since t = {ts[half]:.4g} the loss moved by {change:.1e} relative, to {recent:.6g}"
    if change < 1e-6:
        text += f": it may have settled without the stop criterion ({describe(stop)}) being met"
    return text + "; raise max_steps or set t_max to go on"


def _report(text: str, end: bool = False) -> None:
    """A progress line on stderr: rewritten in place on a terminal, one line each otherwise."""
    tty = sys.stderr.isatty()
    if end:
        if tty:
            print(file=sys.stderr, flush=True)
        return
    print(("\r  " if tty else "  ") + text, end="" if tty else "\n", file=sys.stderr, flush=True)


class _Dense:
    """Dense output of the full parameter vector from the solver's dense output of y (the free
    parameters and, for an optimizer with state, its state)."""

    def __init__(self, sol: OdeSolution, fl: Flow):
        self.sol, self.fl = sol, fl

    def free(self, t):
        return self.sol(t)

    def __call__(self, t):
        y = self.sol(t)
        if np.ndim(t) == 0:
            return self.fl.full(y)
        return np.array([self.fl.full(col) for col in y.T]).T
