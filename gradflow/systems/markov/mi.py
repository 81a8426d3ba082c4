"""The modified χ² mutual information of SPEC-markov §3, the paper's stage-I selection criterion.

For a kernel π with stationary window law μ and a candidate parent set R (offsets 1 … K back from
the token x):

    Ĩ(R; π) = Σ_z μ(z_R = z)² [ Σ_x μ(x | z_R = z)² / μ(x) − 1 ]

and Ĩ(R) = E_π Ĩ(R; π) over the Dirichlet prior, estimated from a frozen sample of kernels with its
standard error. The paper claims that stage I selects argmax over |R| ≤ D of Ĩ(R).
"""

from __future__ import annotations

import itertools

import numpy as np

from ..._validate import check_int
from .task import MarkovTask, window_law


def mi_of_law(law: np.ndarray, R) -> float:
    """Ĩ(R) of one window law (K + 1 axes, the token x last; offset k is axis K − k)."""
    K = law.ndim - 1
    R = tuple(sorted(set(R)))
    if not R or min(R) < 1 or max(R) > K:
        raise ValueError(f"R must be a non-empty set of offsets in 1..{K}, got {R}")
    keep = tuple(K - k for k in R) + (K,)
    drop = tuple(a for a in range(K + 1) if a not in keep)
    joint = law.sum(axis=drop) if drop else law                  # axes: parents in R (oldest first), x
    joint = joint.reshape(-1, law.shape[-1])
    pz = joint.sum(axis=1)                                        # μ(z_R = z)
    px = joint.sum(axis=0)                                        # μ(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = np.where(pz[:, None] > 0, joint / pz[:, None], 0.0)
        inner = np.where(px > 0, cond ** 2 / px, 0.0).sum(axis=1) - 1.0
    return float(np.sum(pz ** 2 * inner))


def candidate_sets(K: int, D: int):
    """Every non-empty R ⊆ {1..K} with |R| ≤ D, in a fixed order."""
    return [R for d in range(1, D + 1) for R in itertools.combinations(range(1, K + 1), d)]


def mi_samples(task: MarkovTask, K: int, D: int, n_kernels: int = 200, seed: int = 0) -> dict:
    """{R: Ĩ(R; π) for each of ``n_kernels`` kernels drawn from the prior (frozen by ``seed``)}, for
    every R ⊆ {1..K} with |R| ≤ D. The same kernels serve every R (paired samples)."""
    K = check_int("K", K, task.n - 1)
    D = check_int("D", D, 1, K)
    n_kernels = check_int("n_kernels", n_kernels, 2)
    kernels = task.kernels(n_kernels, np.random.default_rng(seed))
    laws = [window_law(pi, task.S, task.n, K) for pi in kernels]
    return {R: np.array([mi_of_law(law, R) for law in laws]) for R in candidate_sets(K, D)}


def modified_mi(task: MarkovTask, K: int, D: int, n_kernels: int = 200, seed: int = 0) -> dict:
    """{R: (Ĩ(R), standard error)}: the means of :func:`mi_samples` and their standard errors. For a
    difference between two sets use the paired samples: its standard error is much smaller."""
    return {R: (float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))))
            for R, v in mi_samples(task, K, D, n_kernels, seed).items()}


def selected_set(mi: dict):
    """argmax of Ĩ over the candidates (ties: the smaller set, then the lexicographically first)."""
    return max(mi, key=lambda R: (mi[R][0], -len(R), tuple(-k for k in R)))
