"""The n-gram Markov task of SPEC-markov §1 (Chen, Sheen, Wang, Yang 2024): sampling, the exact
prior probability of a sequence, and stationary laws of windows.

S symbols ``0 … S−1``; every token's parents are the n − 1 tokens before it. Each sequence has its
own transition kernel π (one row per context of n − 1 symbols, each row drawn from
Dirichlet(α·1_S)); the first n − 1 tokens are uniform, then x_i ~ π(· | x_{i−n+1..i−1}).

Contexts are indexed in base S with the oldest token most significant: context (x_{i−n+1}, …,
x_{i−1}) ↦ Σ_k x_{i−n+1+k} S^{n−2−k}.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from ..._validate import check_int, check_positive

#: Largest number of sequences :meth:`MarkovTask.enumerate` will build.
MAX_ENUMERATED = 2_000_000


@dataclass(frozen=True)
class MarkovTask:
    """``S`` symbols, n-gram order ``n`` (n − 1 parents), Dirichlet concentration ``alpha``,
    sequences of length ``L`` (inputs x_1..x_L; the target is x_{L+1})."""

    S: int = 3
    n: int = 3
    alpha: float = 0.1
    L: int = 100

    def __post_init__(self):
        object.__setattr__(self, "S", check_int("S", self.S, 2))
        object.__setattr__(self, "n", check_int("n", self.n, 2))
        object.__setattr__(self, "alpha", check_positive("alpha", self.alpha))
        object.__setattr__(self, "L", check_int("L", self.L, self.n))

    @property
    def n_contexts(self) -> int:
        return self.S ** (self.n - 1)

    def context_index(self, ctx) -> np.ndarray:
        """Index of context(s) ``ctx`` (..., n − 1), oldest token first."""
        ctx = np.asarray(ctx)
        weights = self.S ** np.arange(self.n - 2, -1, -1)
        return ctx @ weights

    def kernels(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` transition kernels (count, S^{n−1}, S), rows from Dirichlet(α·1_S)."""
        count = check_int("count", count, 1)
        return rng.dirichlet(np.full(self.S, self.alpha), size=(count, self.n_contexts))

    def sample(self, count: int, rng: np.random.Generator, length: int | None = None):
        """``count`` sequences of ``length`` (default L + 1: inputs and target) tokens, each with its
        own kernel: (tokens (count, length), kernels)."""
        length = self.L + 1 if length is None else check_int("length", length, self.n)
        pi = self.kernels(count, rng)
        x = np.empty((count, length), dtype=np.int64)
        x[:, : self.n - 1] = rng.integers(0, self.S, size=(count, self.n - 1))
        rows = np.arange(count)
        for i in range(self.n - 1, length):
            p = pi[rows, self.context_index(x[:, i - self.n + 1:i])]
            u = rng.random(count)[:, None]
            x[:, i] = np.minimum((u > np.cumsum(p, axis=1)).sum(axis=1), self.S - 1)
        return x, pi

    def log_prob(self, tokens) -> np.ndarray:
        """Exact log prior probability of each sequence (rows of ``tokens``), the kernel integrated
        out: uniform first n − 1 tokens, then a Dirichlet-multinomial per context,
        Π_c Γ(Sα)/Γ(Sα + n_c) Π_x Γ(α + n_{c,x})/Γ(α)."""
        x = np.atleast_2d(np.asarray(tokens))
        B, T = x.shape
        counts = np.zeros((B, self.n_contexts, self.S))
        for i in range(self.n - 1, T):
            np.add.at(counts, (np.arange(B), self.context_index(x[:, i - self.n + 1:i]), x[:, i]), 1.0)
        a, S = self.alpha, self.S
        per_context = (gammaln(S * a) - gammaln(S * a + counts.sum(axis=2))
                       + np.sum(gammaln(a + counts) - gammaln(a), axis=2))
        return -(self.n - 1) * np.log(S) + per_context.sum(axis=1)

    def enumerate(self, length: int):
        """Every sequence of ``length`` tokens with its exact prior probability: (tokens, p)."""
        length = check_int("length", length, self.n)
        if self.S ** length > MAX_ENUMERATED:
            raise ValueError(f"length must keep S^length <= {MAX_ENUMERATED} for enumeration; "
                             f"S^length = {self.S ** length}")
        x = np.array(list(itertools.product(range(self.S), repeat=length)), dtype=np.int64)
        return x, np.exp(self.log_prob(x))


def stationary_contexts(pi: np.ndarray) -> np.ndarray:
    """Stationary law of the context chain (S^{n−1} states) of one kernel ``pi`` (S^{n−1} × S):
    the state (x_{i−n+1..i−1}) moves to (x_{i−n+2..i}). The left eigenvector of eigenvalue 1,
    solved as a least-squares system with the normalisation (exact up to rounding for an
    irreducible chain; Dirichlet rows are positive almost surely)."""
    C, S = pi.shape
    P = np.zeros((C, C))
    for c in range(C):
        for x in range(S):
            P[c, (c * S) % C + x] += pi[c, x]
    A = np.vstack([P.T - np.eye(C), np.ones((1, C))])
    b = np.zeros(C + 1)
    b[-1] = 1.0
    mu = np.linalg.lstsq(A, b, rcond=None)[0]
    return np.clip(mu, 0.0, None) / np.clip(mu, 0.0, None).sum()


def window_law(pi: np.ndarray, S: int, n: int, K: int) -> np.ndarray:
    """Stationary law of a window (x_{i−K}, …, x_{i−1}, x_i), K ≥ n − 1, as an array with K + 1
    axes of size S (oldest token first)."""
    K = check_int("K", K, n - 1)
    mu = stationary_contexts(pi).reshape((S,) * (n - 1))
    law = mu
    for _ in range(K + 1 - (n - 1)):
        ctx = law.reshape(-1, S ** (n - 1)) if n > 1 else law.reshape(-1, 1)
        idx = np.arange(S ** (n - 1))
        nxt = ctx[:, :, None] * pi[idx][None, :, :]          # (rest, context, next)
        law = nxt.reshape(law.shape + (S,))
    return law
