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


def build_parser():
    p = _Parser(prog="python -m gradflow", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
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
