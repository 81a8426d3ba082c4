"""The populations the reduced loss is exact for (SPEC-markov §4), as query/key pattern tables.

The model sees a key position only through its token and, per head h, the tokens at offsets
h+1 … h+H that are admissible (k ≤ position): a *pattern* (m admissible tokens, m = 0 … H). The
output position's query is the same kind of window, and the target plays the token's part. A
population is therefore a list of key groups (keys: token, per-head pattern, weight) and of
queries (per-head pattern, its key group, weights over the S targets):

* :func:`frozen_sample`: given sequences (the authors' empirical risk), one group per sequence,
  key weights 1, the target one-hot times the sequence's weight (uniform by default);
* :func:`enumerated`: every sequence of length L + 1 with its exact prior probability
  (Dirichlet-multinomial): the exact finite-L population;
* :func:`stationary`: L → ∞ for given kernels: keys and queries distributed by the stationary
  law of a window of 2H tokens; the query's weight over targets is the law's last axis. Exact for
  each kernel; the prior over kernels is a frozen sample (its standard error: :func:`per_kernel`).

Pattern ids: ``base[m] + Σ_j t_j S^j`` with ``base[m] = Σ_{m' < m} S^{m'}`` (id 0: no admissible
token, u = 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._validate import check_int
from .task import MarkovTask, window_law


def pattern_bases(S: int, H: int) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(S ** np.arange(H + 1))])


def n_patterns(S: int, H: int) -> int:
    return int(pattern_bases(S, H)[-1])


def pattern_tokens(S: int, H: int):
    """(m, tokens) of every pattern id, in id order."""
    out = []
    for m in range(H + 1):
        for code in range(S ** m):
            out.append((m, tuple((code // S ** j) % S for j in range(m))))
    return out


@dataclass(frozen=True)
class Population:
    """Query/key pattern tables (see the module docstring). Keys of group g are
    ``kstart[g]:kstart[g+1]``; query q uses the keys of group ``qgroup[q]``."""
    S: int
    H: int
    kstart: np.ndarray      # (G + 1,)
    ktok: np.ndarray        # (K,)
    kpat: np.ndarray        # (K, H)
    kw: np.ndarray          # (K,) key weights
    qgroup: np.ndarray      # (Q,)
    qpat: np.ndarray        # (Q, H)
    rho: np.ndarray         # (Q, S) weights over targets (Σ = 1 over the population)
    label: str = ""

    @property
    def size(self) -> int:
        """Query–key pairs one evaluation visits."""
        return int(np.sum(np.diff(self.kstart)[self.qgroup]))


def _patterns_at(x: np.ndarray, S: int, H: int, positions) -> np.ndarray:
    """(B, len(positions), H) pattern ids of sequences ``x`` (B, T) at 0-based ``positions``."""
    base = pattern_bases(S, H)
    pos = np.asarray(list(positions), dtype=np.int64)
    out = np.zeros((x.shape[0], len(pos), H), dtype=np.int64)
    for h in range(H):
        m = np.clip(pos - h, 0, H)
        code = np.zeros((x.shape[0], len(pos)), dtype=np.int64)
        for j in range(H):
            ok = j < m
            col = np.where(ok, pos - (h + 1 + j), 0)
            code += np.where(ok[None, :], x[:, col], 0) * S ** j
        out[:, :, h] = base[m][None, :] + code
    return out


def frozen_sample(tokens, S: int, H: int, weights=None, label: str = "frozen sample") -> Population:
    """Sequences ``tokens`` (B, L+1): inputs and target; ``weights`` default uniform 1/B."""
    H = check_int("H", H, 1)
    x = np.atleast_2d(np.asarray(tokens, dtype=np.int64))
    B, L = x.shape[0], x.shape[1] - 1
    if L < 1:
        raise ValueError(f"tokens must have at least 2 columns (inputs and target), got {x.shape[1]}")
    if x.min() < 0 or x.max() >= S:
        raise ValueError(f"tokens must lie in 0..{S - 1}")
    w = np.full(B, 1.0 / B) if weights is None else np.asarray(weights, dtype=np.float64)
    kpat = _patterns_at(x, S, H, range(L)).reshape(B * L, H)
    qpat = _patterns_at(x, S, H, [L])[:, 0]
    rho = np.zeros((B, S))
    rho[np.arange(B), x[:, L]] = w
    kstart, ktok, kpat, kw = _merge_keys(np.arange(B + 1) * L, x[:, :L].ravel(), kpat, S, H)
    return Population(S, H, kstart, ktok, kpat, kw, np.arange(B), qpat, rho, label)


def _merge_keys(kstart, ktok, kpat, S: int, H: int):
    """Keys of a group that the model cannot tell apart (same token, same pattern at every head)
    merged into one with their count as its weight: the softmax over keys is unchanged (exactly;
    only the order of summation differs), and an evaluation visits fewer pairs (4.6× fewer at the
    authors' setting, whose low-α chains repeat themselves)."""
    P = n_patterns(S, H)
    code = ktok.astype(np.int64)
    for h in range(H):
        code = code * P + kpat[:, h]
    group = np.repeat(np.arange(len(kstart) - 1), np.diff(kstart))
    span = int(code.max()) + 1 if len(code) else 1
    unique, first, counts = np.unique(group * span + code, return_index=True, return_counts=True)
    per_group = np.bincount(unique // span, minlength=len(kstart) - 1)
    return (np.concatenate([[0], np.cumsum(per_group)]), ktok[first].copy(), kpat[first].copy(),
            counts.astype(np.float64))


def enumerated(task: MarkovTask, H: int) -> Population:
    """Every sequence of length L + 1 with its exact prior probability."""
    x, p = task.enumerate(task.L + 1)
    return frozen_sample(x, task.S, H, p, label=f"exact population, L = {task.L}")


def window_back(n: int, H: int) -> int:
    """How far back a stationary window reaches: the heads' offsets (up to 2H − 1) and the chain's
    n − 1 parents."""
    return max(2 * H - 1, n - 1)


def stationary(kernels, task: MarkovTask, H: int) -> Population:
    """L → ∞ for each kernel in ``kernels`` (count, S^{n−1}, S), the kernels weighted equally."""
    S, H = task.S, check_int("H", H, 1)
    K = window_back(task.n, H)
    base = pattern_bases(S, H)
    windows = np.array(np.unravel_index(np.arange(S ** (K + 1)), (S,) * (K + 1))).T   # oldest first
    # offset k back from the window's last token is column K − k
    pats = np.zeros((len(windows), H), dtype=np.int64)
    for h in range(H):
        code = sum(windows[:, K - (h + 1 + j)] * S ** j for j in range(H))
        pats[:, h] = base[H] + code
    n_k = len(kernels)
    kstart, ktok, kpat, kw, qgroup, qpat, rho = [0], [], [], [], [], [], []
    for g, pi in enumerate(kernels):
        law = window_law(pi, S, task.n, K).reshape(-1)
        ktok.append(windows[:, K])
        kpat.append(pats)
        kw.append(law)
        kstart.append(kstart[-1] + len(law))
        # queries: the window's first K tokens (the target last); ids step by S over the target
        qpat.append(pats[::S])
        qgroup.append(np.full(len(law) // S, g))
        rho.append(law.reshape(-1, S) / n_k)
    return Population(S, H, np.array(kstart), np.concatenate(ktok), np.concatenate(kpat),
                      np.concatenate(kw), np.concatenate(qgroup), np.concatenate(qpat),
                      np.concatenate(rho), label=f"L → ∞, {n_k} kernels")


def per_kernel(pop: Population):
    """Split a stationary population into one population per kernel (for standard errors)."""
    G = len(pop.kstart) - 1
    out = []
    for g in range(G):
        q = pop.qgroup == g
        k0, k1 = pop.kstart[g], pop.kstart[g + 1]
        out.append(Population(pop.S, pop.H, np.array([0, k1 - k0]), pop.ktok[k0:k1], pop.kpat[k0:k1],
                              pop.kw[k0:k1], np.zeros(q.sum(), dtype=np.int64), pop.qpat[q],
                              pop.rho[q] * G, label=f"kernel {g}"))
    return out
