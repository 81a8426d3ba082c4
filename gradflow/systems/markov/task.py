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


def context_chain(pi: np.ndarray) -> np.ndarray:
    """The transition matrix (S^{n−1} × S^{n−1}) of the context chain of one kernel ``pi``
    (S^{n−1} × S): the state (x_{i−n+1..i−1}) moves to (x_{i−n+2..i})."""
    C, S = pi.shape
    P = np.zeros((C, C))
    for c in range(C):
        for x in range(S):
            P[c, (c * S) % C + x] += pi[c, x]
    return P


def stationary_law(P: np.ndarray) -> np.ndarray:
    """Stationary law of an irreducible row-stochastic matrix ``P`` by GTH elimination
    (Grassmann, Taksar and Heyman 1985): states are censored out one by one, and each pivot
    Σ_{j<k} P[k, j] is a sum of non-negative numbers, never 1 − P[k, k], so no subtraction
    cancels. The result has a small *componentwise relative* error (a few ulps times the number
    of states, O(C³) work), also for nearly reducible chains whose laws span hundreds of orders
    of magnitude, where a least-squares or eigenvector solve loses every component below about
    1e-16 of the largest. Raises ``ValueError`` for a chain that is reducible to working
    precision (a pivot of exactly 0)."""
    A = np.array(P, dtype=np.float64)
    C = A.shape[0]
    if A.ndim != 2 or A.shape[1] != C or C < 1:
        raise ValueError(f"P must be a square matrix, got shape {A.shape}")
    if np.any(A < 0) or not np.all(np.isfinite(A)):
        raise ValueError("P must have finite non-negative entries")
    for k in range(C - 1, 0, -1):
        pivot = A[k, :k].sum()
        if not pivot > 0:
            raise ValueError(f"P is reducible: state {k} leads to no lower state once the states "
                             f"above it are censored out, so its stationary law is not unique")
        A[:k, k] /= pivot
        A[:k, :k] += np.outer(A[:k, k], A[k, :k])
    mu = np.zeros(C)
    mu[0] = 1.0
    for k in range(1, C):
        mu[k] = mu[:k] @ A[:k, k]
    return mu / mu.sum()


def stationary_contexts(pi: np.ndarray) -> np.ndarray:
    """Stationary law of the context chain (S^{n−1} states, :func:`context_chain`) of one kernel
    ``pi`` (S^{n−1} × S), by :func:`stationary_law` (componentwise accurate: Dirichlet rows
    with small α have entries down to 1e-40 and below, which make the chain nearly
    reducible)."""
    return stationary_law(context_chain(pi))


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
