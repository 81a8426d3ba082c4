"""The modified χ² mutual information Ĩ(R) of every candidate parent set, and the set stage I selects.

``python -m gradflow mi``: Ĩ(R) of SPEC-markov §3 for a task, every candidate set, with standard
errors, and the set the paper says stage I selects."""

from __future__ import annotations

import argparse
import sys

from ...cli import _Renamed
from .mi import mi_samples, selected_set
from .task import MarkovTask


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def mi_command(argv) -> int:
    p = _Parser(prog="python -m gradflow mi", description=__doc__.splitlines()[0],
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--S", type=int, default=3, help="number of symbols")
    p.add_argument("--n", type=int, default=3, help="n-gram order (n - 1 parents)")
    p.add_argument("--alpha", type=float, default=0.1, help="Dirichlet concentration")
    p.add_argument("--K", type=int, default=3, help="candidate offsets 1..K")
    p.add_argument("--degree", type=int, default=2, help="largest candidate set |R| (the authors' D)")
    p.add_argument("--D", action=_Renamed, default="degree", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--kernels", type=int, default=400, help="kernels drawn from the prior")
    p.add_argument("--seed", type=int, default=0, help="seed of the kernels")
    args = p.parse_args(argv)
    try:
        task = MarkovTask(S=args.S, n=args.n, alpha=args.alpha, L=max(args.n, 2))
        samples = mi_samples(task, args.K, args.degree, args.kernels, args.seed)
    except ValueError as exc:
        p.error(str(exc))
    mi = {R: (float(v.mean()), float(v.std(ddof=1) / len(v) ** 0.5)) for R, v in samples.items()}
    best = selected_set(mi)
    print(f"modified chi-square MI, S = {args.S}, n = {args.n}, alpha = {args.alpha:g}, "
          f"{args.kernels} kernels (seed {args.seed})")
    for R, (m, se) in sorted(mi.items(), key=lambda kv: -kv[1][0]):
        d = samples[best] - samples[R]
        paired = f"   margin to argmax {d.mean():.4g} ± {d.std(ddof=1) / len(d) ** 0.5:.2g}" if R != best else "   argmax"
        print(f"  R = {{{', '.join(map(str, R))}}}: {m:.5f} ± {se:.5f}{paired}")
    return 0
