"""Command line: ``python -m gradflow {solve,check,train,derive} …``.

Bad arguments print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


class _Parser(argparse.ArgumentParser):
    def error(self, message):                      # one line, exit 2, no usage dump
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def _add_task_args(p, N_default):
    p.add_argument("--N", type=int, default=N_default, help="number of item-label pairs")
    p.add_argument("--K", type=int, default=None, help="number of items (default N)")
    p.add_argument("--L", type=int, default=None, help="number of labels (default N+1)")


def _cmd_train(args):
    from . import reference
    from .task import Task
    task = Task(args.N, args.K, args.L)
    traj = reference.train(task, args.eta, args.steps, record_every=args.every, progress=True)
    print(f"reference GD on {task.as_dict()}, eta={args.eta}, {traj.seconds:.2f} s")
    print("   step        t       loss")
    for s, t, l in zip(traj.steps, traj.t, traj.loss):
        print(f"{s:7d} {t:8.1f} {l:10.6f}")
    return 0


def _params(text):
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated pseudo-parameter names")
    return names


def _cmd_solve(args):
    from .solver import solve
    result = solve(args.N, K=args.K, L=args.L, flow=args.flow, params=args.params, t_max=args.t_max,
                   method=args.method, rtol=args.rtol, atol=args.atol, progress=not args.quiet)
    print(result.summary())
    if args.out:
        print(f"saved {result.save(args.out)}")
    if args.plot:
        result.plot(args.plot)
        print(f"plotted {args.plot}")
    return 0 if result.success else 1


def _cmd_check(args):
    from .check import check
    report = check(args.N, args.K, args.L, eta=args.eta, t_end=args.t_end, n_times=args.n_times,
                   refinements=args.refinements, progress=not args.quiet)
    print(report.summary())
    return 0 if report.passed else 1


def _cmd_derive(args):
    from .derive import main as derive_main
    return derive_main(["--check"] if args.check else [])


def build_parser():
    p = _Parser(prog="python -m gradflow", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("solve", help="solve the gradient flow and report emergence")
    _add_task_args(s, 64)
    s.add_argument("--flow", choices=("theta", "weights"), default="theta")
    s.add_argument("--params", type=_params, default=None,
                   help="comma-separated free pseudo-parameters, e.g. alpha3,beta2,gamma3 (default all 19)")
    s.add_argument("--t-max", type=float, default=None, help="end time (default: until emergence)")
    s.add_argument("--method", choices=("Radau", "BDF", "LSODA"), default="Radau")
    s.add_argument("--rtol", type=float, default=1e-8)
    s.add_argument("--atol", type=float, default=1e-10)
    s.add_argument("--plot", metavar="FILE", help="save the figure (PNG, PDF, SVG)")
    s.add_argument("--out", metavar="FILE", help="save the result (.npz)")
    s.add_argument("--quiet", action="store_true", help="no progress output")
    s.set_defaults(func=_cmd_solve)
    c = sub.add_parser("check", help="compare the weight flow with GD on the reference transformer")
    _add_task_args(c, 8)
    c.add_argument("--eta", type=float, default=1.0, help="largest GD step")
    c.add_argument("--t-end", type=float, default=None, help="end time (default: emergence time T)")
    c.add_argument("--n-times", type=int, default=40, help="number of compared times")
    c.add_argument("--refinements", type=int, default=3, help="steps eta, eta/2, ...")
    c.add_argument("--quiet", action="store_true", help="no progress output")
    c.set_defaults(func=_cmd_check)
    d = sub.add_parser("derive", help="regenerate the kernels and closed forms (python -m gradflow.derive)")
    d.add_argument("--check", action="store_true", help="exit 1 if the committed files are stale")
    d.set_defaults(func=_cmd_derive)
    t = sub.add_parser("train", help="train the reference transformer with exact GD")
    _add_task_args(t, 4)
    t.add_argument("--eta", type=float, default=1.0, help="step size")
    t.add_argument("--steps", type=int, default=2000)
    t.add_argument("--every", type=int, default=200, help="record every this many steps")
    t.set_defaults(func=_cmd_train)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        parser.error(str(exc))


if __name__ == "__main__":
    sys.exit(main())
