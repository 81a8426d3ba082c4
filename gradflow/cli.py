"""Command line of gradflow: solve, check, train, derive and sweep, for every system.

``python -m gradflow {solve,check,train,derive,sweep} [--system NAME] …``, plus the commands
systems add (``System.commands``, e.g. ``mi`` from markov).

Every option of a system's sizes comes from its ``sizes_spec``; ``--help`` lists each option's
meaning and default. Bad arguments print one line on stderr and exit with status 2, before any
long work starts.
"""

from __future__ import annotations

import argparse
import sys

from . import _slow
from . import system as systems
from .flows import FLOWS

COMMANDS = ("solve", "check", "train", "derive", "sweep")
#: exit status after Ctrl-C or SIGTERM (128 + SIGINT, the shell's convention)
INTERRUPTED = 130


def _terminate(signum, frame):
    """SIGTERM ends a command as Ctrl-C does: what was computed is kept."""
    raise KeyboardInterrupt


def _join_negative_values(argv: list, parser) -> list:
    """``--rtol -1e-8`` / ``--N -4:8:x2`` as ``--rtol=-1e-8``: argparse takes a value that starts
    with "-" (and is not a plain negative number) for an option, and its message then hides the
    real one (the value's range)."""
    options = {o for a in parser._actions for o in a.option_strings}
    for sub in parser._subparsers._group_actions if parser._subparsers else ():
        for p in sub.choices.values():
            options |= {o for a in p._actions for o in a.option_strings if a.nargs != 0}
    out, k = [], 0
    while k < len(argv):
        a = argv[k]
        if (a in options and k + 1 < len(argv) and argv[k + 1].startswith("-") and argv[k + 1] not in options
                and len(argv[k + 1]) > 1 and not argv[k + 1].startswith("--")):
            out.append(f"{a}={argv[k + 1]}")
            k += 2
            continue
        out.append(a)
        k += 1
    return out


class _Parser(argparse.ArgumentParser):
    def error(self, message):                      # one line, exit 2, no usage dump
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless its help already says what the default is."""

    def _get_help_string(self, action):
        if "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class _Renamed(argparse.Action):
    """An option a system has renamed: refused with a message that names the new one."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is now --{self.default} for this system (so that no option means two "
                     f"things across systems)")


def _add_system_args(p, cls, overrides=None):
    p.add_argument("--system", choices=systems.available(), default=cls.name,
                   help="which system to solve (each has its own size options: python -m gradflow "
                        "<command> --system NAME --help)")
    for old, new in getattr(cls, "renamed", {}).items():
        p.add_argument(f"--{old}", action=_Renamed, default=new, nargs="?", help=argparse.SUPPRESS)
    for s in cls.sizes_spec:
        default = (overrides or {}).get(s.name, s.default)
        if s.choices:
            p.add_argument(f"--{s.name}", choices=s.choices, default=default, help=s.help)
        else:
            p.add_argument(f"--{s.name}", type=float if s.kind == "float" else int, default=default,
                           help=s.help)


def _examples(cls) -> tuple:
    """(a --params example, a --theta0 example) in the system's own parameter names."""
    names = cls().names
    head = [n for n in cls.head if n in names] or list(names[:3])
    return ",".join(head[:3]), f"{head[-1]}=0.1"


#: solver options shared by solve and sweep: (flag, dest, type for solve, help); a sweep takes a
#: comma-separated list of values for each
_SOLVER_OPTIONS = (
    ("--method", "method", str, "SciPy integrator: LSODA, RK45, DOP853, Radau or BDF (default: LSODA; Radau for an "
                                "optimizer with state, momentum or adam)"),
    ("--rtol", "rtol", float, "relative tolerance of the integrator"),
    ("--atol", "atol", float, "absolute tolerance of the integrator"),
    ("--coords", "coords", str, "auto: vanishing parameters (System.log_params) integrated as ln|θ|; linear: θ as it is"),
    ("--t-max", "t_max", float, "end time (default: until emergence, then margin times that)"),
    ("--margin", "margin", float, "integrate on to margin × the emergence time"),
    ("--t-limit", "t_limit", float, "give up (status not_emerged) if emergence has not come by then"),
    ("--max-steps", "max_steps", int, "most solver steps"),
)


def _add_solver_args(p, cls, defaults, sweep: bool):
    """What is solved and how, for solve (one value each) and sweep (lists of values)."""
    params_example, theta0_example = _examples(cls)
    if sweep:
        p.add_argument("--flow", default=None, help="flows, e.g. theta,weights (default: theta)")
        p.add_argument("--params", action="append", default=None, type=_params,
                       help=f"a set of free parameters, comma-separated, e.g. {params_example}; repeat the option "
                            "for several sets (default: all)")
        p.add_argument("--theta0", type=_assignments, default=None,
                       help=f"start, as NAME=VALUE pairs, e.g. {theta0_example} (default: the system's start)")
    else:
        p.add_argument("--flow", choices=FLOWS, default=defaults["flow"],
                       help="theta: dθ/dt = -∇L; weights: dθ/dt = -G⁻¹∇L (GD on the full weights)")
        p.add_argument("--params", type=_params, default=None,
                       help=f"comma-separated free parameters, e.g. {params_example} (default: all)")
        p.add_argument("--theta0", type=_assignments, default=None,
                       help=f"start, as NAME=VALUE pairs, e.g. {theta0_example} (the rest at the system's start: "
                            "0 for paper and tokens, the authors' initialisation for markov)")
    from .optimizers import OPTIMIZERS
    if sweep:
        p.add_argument("--optimizer", default=None, help=f"optimizers, e.g. gd,adam (of {', '.join(OPTIMIZERS)}; "
                                                         "default: gd)")
    else:
        p.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="gd",
                       help="the training rule whose flow is solved (t = learning rate × steps)")
    p.add_argument("--hyper", type=_assignments, default=None,
                   help="the optimizer's hyperparameters as NAME=VALUE pairs, e.g. lr=1e-3,eps=1e-8 (momentum: lr, "
                        "momentum; adam: lr, beta1, beta2, eps; sign: eps)")
    for flag, dest, kind, text in _SOLVER_OPTIONS:
        if sweep:
            p.add_argument(flag, dest=dest, default=None, help=f"{text}: values a,b,c (default: solve's)")
        else:
            p.add_argument(flag, dest=dest, type=kind, default=defaults[dest], help=text)


def _theta0(sys_, given):
    """The system's start with the NAME=VALUE pairs ``given`` set (None: the system's start)."""
    if not given:
        return None
    theta0 = sys_.initial()
    for name, value in given.items():
        if name not in sys_.names:
            raise ValueError(f"unknown parameter {name!r} in --theta0; allowed: {', '.join(sys_.names)}")
        theta0[sys_.names.index(name)] = value
    return theta0


def _make_system(args, cls):
    return cls(**{s.name: getattr(args, s.name) for s in cls.sizes_spec})


def _assignments(text):
    """``"gamma3=0.1,beta2=0.2"`` -> {"gamma3": 0.1, "beta2": 0.2}."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            eq = ""
        if not eq:
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE pairs separated by commas, got {part!r}")
    if not out:
        raise argparse.ArgumentTypeError("expected NAME=VALUE pairs separated by commas")
    return out


def _optimizers(names, hyper: dict) -> list:
    """A sweep's optimizers: each name with the ``--hyper`` values it takes (a value no listed
    optimizer takes is an error)."""
    from .optimizers import OPTIMIZERS, make
    out, used = [], set()
    for name in names:
        make(name)                                               # an unknown name: ValueError listing them
        mine = {k: v for k, v in hyper.items() if k in OPTIMIZERS[name].hyper}
        used |= set(mine)
        out.append({"name": name, **mine} if mine else name)
    unused = sorted(set(hyper) - used)
    if unused:
        raise ValueError(f"--hyper {unused[0]} is taken by none of the optimizers {', '.join(map(str, names))}")
    return out


def _params(text):
    if ";" in text:
        raise argparse.ArgumentTypeError("separate parameter sets by repeating --params (one comma-separated set "
                                         "each), not by ';'")
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated parameter names")
    return names


def _cmd_solve(args, cls):
    from .result import check_output_path
    from .solver import Interrupted, solve
    sys_ = _make_system(args, cls)
    out = check_output_path(args.out, ".npz") if args.out else None
    plot = check_output_path(args.plot, figure=True) if args.plot else None
    csv = check_output_path(args.csv, ".csv") if args.csv else None
    theta0 = _theta0(sys_, args.theta0)
    try:
        result = solve(system=sys_, flow=args.flow, params=args.params, theta0=theta0, progress=not args.quiet,
                       optimizer={"name": args.optimizer, **(args.hyper or {})},
                       threads=args.threads, **{dest: getattr(args, dest) for _, dest, _, _ in _SOLVER_OPTIONS})
    except Interrupted as stop:
        r = stop.result
        kept = (f"saved {r.save(out)} (status interrupted, {len(r.t)} steps to t = {r.t[-1]:.6g})" if out
                else f"{len(r.t)} steps to t = {r.t[-1]:.6g} not saved (give --out FILE to keep them)")
        print(f"interrupted: {kept}", file=sys.stderr)
        return INTERRUPTED
    print(result.summary())
    if out:
        print(f"saved {result.save(out)}")
    if csv:
        print(f"wrote {result.to_csv(csv)} (t, loss and every {sys_.param_word} at the solver's steps)")
    if plot and len(result.t) > 1:
        with _slow.notice(f"drawing {plot}"):
            result.plot(plot)
        print(f"plotted {plot}")
    elif plot:
        print(f"not plotted: nothing was integrated ({result.status})")
    return 0 if result.success else 1


def _cmd_check(args, cls):
    sys_ = _make_system(args, cls)
    given = {k: getattr(args, k) for k in ("eta", "t_end", "n_times", "refinements")
             if getattr(args, k) is not None}
    report = sys_.check(progress=not args.quiet, **given)
    print(report.summary())
    return 0 if report.passed else 1


def _cmd_train(args, cls):
    sys_ = _make_system(args, cls)
    traj = sys_.train(args.eta, args.steps, args.every)
    print(f"reference GD on {sys_.describe()}, eta={args.eta}, {traj.seconds:.2f} s")
    print("   step        t       loss")
    for s, t, l in zip(traj.steps, traj.t, traj.loss):
        print(f"{s:7d} {t:8.1f} {l:10.6f}")
    return 0


def _cmd_sweep(args, cls):
    from . import sweeps as sw
    from .result import check_output_path
    if args.status or args.plot:
        if args.plot:
            check_output_path(args.plot, figure=True)
        if args.status:
            print(sw.status(args.out, y=args.y, x=args.x))
        if args.plot:
            with _slow.notice(f"drawing {args.plot}"):
                drawn = sw.plot(args.out, args.plot, y=args.y, x=args.x)
            print(f"plotted {drawn}")
        return 0
    grid = {"system": cls.name}
    for s in cls.sizes_spec:
        text = getattr(args, s.name)
        if text is not None:
            grid[s.name] = sw.parse_values(text)
    for name in ["flow"] + [dest for _, dest, _, _ in _SOLVER_OPTIONS]:
        if getattr(args, name) is not None:
            grid[name] = sw.parse_values(getattr(args, name))
    if args.optimizer or args.hyper:
        grid["optimizer"] = _optimizers(sw.parse_values(args.optimizer or "gd"), args.hyper or {})
    if args.params:
        grid["params"] = [tuple(p) for p in args.params]
    if args.theta0:
        grid["theta0"] = [list(_theta0(cls(**{k: v[0] for k, v in grid.items() if k in
                                              {z.name for z in cls.sizes_spec}}), args.theta0))]
    runs = sw.expand(grid)
    executor = None
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise ValueError("--scheduler needs the optional extra: pip install 'gradflow[dask]'") from None
        executor = Client(args.scheduler)
    try:
        rows = sw.sweep(runs, args.out, executor, workers=args.workers, retry_failed=args.retry_failed)
    except sw.SweepInterrupted as stop:
        print(f"interrupted: {stop.stored} runs stored in {stop.store}, {stop.remaining} to run; "
              "run the same command again to resume", file=sys.stderr)
        return INTERRUPTED
    print(sw.status(args.out, y=args.y, x=args.x))
    return 0 if all(r["status"] not in ("error", "failed") for r in rows) else 1


def _cmd_derive(args, cls):
    from .derive import main as derive_main
    return derive_main(["--check"] if args.check else [])


def build_parser(system: str = systems.DEFAULT_SYSTEM):
    """The parser with the size options of ``system``; the solver's defaults come from
    :func:`gradflow.solve` itself."""
    import inspect
    from .solver import solve
    defaults = {k: v.default for k, v in inspect.signature(solve).parameters.items()}
    cls = systems.get(system)
    extra = system_commands()
    p = _Parser(prog="python -m gradflow", description=__doc__.splitlines()[0],
                epilog="also: bench (the performance benchmarks, recorded with the machine; python -m gradflow "
                       "bench --help)" + ("; system commands: " + ", ".join(
                           f"{c} ({n}; python -m gradflow {c} --help)" for c, (n, _) in extra.items()) if extra else ""))
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("solve", help="solve the gradient flow and report emergence", formatter_class=_Help)
    _add_system_args(s, cls)
    _add_solver_args(s, cls, defaults, sweep=False)
    s.add_argument("--threads", type=int, default=None,
                   help="threads for the kernels (default: GRADFLOW_THREADS or the cores, at most 2)")
    s.add_argument("--plot", metavar="FILE", help="save the figure (PNG, PDF, SVG)")
    s.add_argument("--out", metavar="FILE", help="save the result (.npz)")
    s.add_argument("--csv", metavar="FILE", help="write t, loss and every parameter at the solver's steps (.csv)")
    s.add_argument("--quiet", action="store_true", help="no progress output")
    s.set_defaults(func=_cmd_solve)
    c = sub.add_parser("check", help="compare the weight flow with GD on the full-weight reference",
                       formatter_class=_Help)
    _add_system_args(c, cls, getattr(cls, "check_sizes", None))
    c.add_argument("--eta", type=float, default=None, help="largest GD step (default: the system's)")
    c.add_argument("--t-end", type=float, default=None, help="end time (default: the system's)")
    c.add_argument("--n-times", type=int, default=None, help="number of compared times (default: the system's)")
    c.add_argument("--refinements", type=int, default=None, help="steps eta, eta/2, ... (default: the system's)")
    c.add_argument("--quiet", action="store_true", help="no progress output")
    c.set_defaults(func=_cmd_check)
    w = sub.add_parser("sweep", help="many solves, resumable, stored as JSON (gradflow.sweep)",
                       formatter_class=_Help)
    w.add_argument("--system", choices=systems.available(), default=cls.name,
                   help="which system to solve (each has its own size options: python -m gradflow sweep "
                        "--system NAME --help)")
    for old, new in getattr(cls, "renamed", {}).items():
        w.add_argument(f"--{old}", action=_Renamed, default=new, nargs="?", help=argparse.SUPPRESS)
    for size in cls.sizes_spec:
        w.add_argument(f"--{size.name}", default=None,
                       help=f"{size.help}: values a,b,c or a range lo:hi:xK / lo:hi:+K")
    _add_solver_args(w, cls, defaults, sweep=True)
    w.add_argument("--out", required=True, metavar="DIR", help="the store: one JSON file per finished run")
    where = w.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, help="local worker processes (default: cores, max 2)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS", help="a dask.distributed scheduler")
    w.add_argument("--retry-failed", action="store_true", help="run again the runs stored as failed")
    w.add_argument("--status", action="store_true", help="summarise the store and exit")
    w.add_argument("--plot", metavar="FILE", help="plot T against N from the store and exit")
    w.add_argument("--y", default=None, help="the quantity of --status and --plot: an emergence key or a path "
                   "like t_p/beta2/0.5 (default: the system's main event)")
    w.add_argument("--x", default="N", help="the swept input that --status and --plot put on the x axis")
    w.set_defaults(func=_cmd_sweep)
    d = sub.add_parser("derive", help="regenerate the kernels and closed forms (python -m gradflow.derive)",
                       formatter_class=_Help)
    d.add_argument("--check", action="store_true", help="exit 1 if the committed files are stale")
    d.set_defaults(func=_cmd_derive)
    t = sub.add_parser("train", help="train the full-weight reference with exact GD", formatter_class=_Help)
    _add_system_args(t, cls, getattr(cls, "train_sizes", None))
    t.add_argument("--eta", type=float, default=1.0, help="step size")
    t.add_argument("--steps", type=int, default=2000, help="number of GD steps")
    t.add_argument("--every", type=int, default=200, help="record every this many steps")
    t.set_defaults(func=_cmd_train)
    return p


def _system_name(argv) -> str:
    """The value of ``--system`` in ``argv`` (the default when absent or unknown: the parser
    then reports an unknown name with the allowed choices)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--system", default=systems.DEFAULT_SYSTEM)
    name = pre.parse_known_args(argv)[0].system
    return name if name in systems.available() else systems.DEFAULT_SYSTEM


def system_commands() -> dict:
    """Commands a system adds (``System.commands``: name -> "module:function"), by name."""
    out = {}
    for name in systems.available():
        for cmd, target in getattr(systems.get(name), "commands", {}).items():
            out[cmd] = (name, target)
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "bench":
        from .bench import main as bench_main
        return bench_main(argv[1:])
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        extra = system_commands()
        if argv[0] in extra:
            import importlib
            module, _, func = extra[argv[0]][1].partition(":")
            return getattr(importlib.import_module(module), func)(argv[1:])
    parser = build_parser(_system_name(argv))
    args = parser.parse_args(_join_negative_values(argv, parser))
    cls = systems.get(getattr(args, "system", systems.DEFAULT_SYSTEM))
    if args.command in ("check", "train") and getattr(cls, args.command, None) is None:
        parser.error(f"system {cls.name!r} has no {args.command} command")
    import signal
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.func(args, cls)
    except (ValueError, TypeError, OSError) as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
