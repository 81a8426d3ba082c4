"""The minimal in-context labelling task (SPEC §1).

Tokens are integers: items are ``0 … K-1`` and labels are ``K … K+L-1`` (one-hot
embedding in R^d, d = K + L, items first). A sequence has ``T = 2N + 1`` tokens
``x_1, y_1, …, x_N, y_N, x_q``; the target is the index ``0 … L-1`` of the label that
followed the query item.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..._validate import check_int

#: Largest number of sequences :meth:`Task.enumerate` will build.
MAX_ENUMERATED = 2_000_000


@dataclass(frozen=True)
class Task:
    """Sizes of the task: ``N`` item–label pairs, ``K`` items, ``L`` labels.

    ``K`` defaults to ``N`` and ``L`` to ``N + 1`` (SPEC §1). Invalid sizes raise
    ``ValueError`` naming the argument and its allowed range.
    """

    N: int
    K: int | None = None
    L: int | None = None

    def __post_init__(self):
        N = check_int("N", self.N, 2)
        K = N if self.K is None else check_int("K", self.K, N)
        L = N + 1 if self.L is None else check_int("L", self.L, N)
        object.__setattr__(self, "N", N)
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "L", L)

    @property
    def d(self) -> int:
        """Embedding dimension ``K + L``."""
        return self.K + self.L

    @property
    def T(self) -> int:
        """Sequence length ``2N + 1``."""
        return 2 * self.N + 1

    def as_dict(self) -> dict:
        return {"N": self.N, "K": self.K, "L": self.L}

    # -- sequences -------------------------------------------------------------------
    def _assemble(self, items: np.ndarray, labels: np.ndarray, query: np.ndarray):
        """Token array ``(B, T)`` and targets ``(B,)`` from item ids, label indices, query index."""
        B, N = items.shape
        tokens = np.empty((B, self.T), dtype=np.int64)
        tokens[:, 0:2 * N:2] = items
        tokens[:, 1:2 * N:2] = self.K + labels
        rows = np.arange(B)
        tokens[:, -1] = items[rows, query]
        return tokens, labels[rows, query].astype(np.int64)

    def sample(self, n: int, rng: np.random.Generator):
        """Draw ``n`` sequences: returns ``tokens`` ``(n, T)`` and ``targets`` ``(n,)``."""
        n = check_int("n", n, 1)
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        items = rng.permuted(np.tile(np.arange(self.K), (n, 1)), axis=1)[:, : self.N]
        labels = rng.permuted(np.tile(np.arange(self.L), (n, 1)), axis=1)[:, : self.N]
        query = rng.integers(0, self.N, size=n)
        return self._assemble(items, labels, query)

    def canonical(self):
        """The ``N`` canonical sequences: items ``0…N-1`` and labels ``0…N-1`` in order,
        query index ``i = 0…N-1``. At invariant weights every sequence has the loss of the
        canonical sequence with the same query index (SPEC §7)."""
        idx = np.tile(np.arange(self.N), (self.N, 1))
        return self._assemble(idx, idx.copy(), np.arange(self.N))

    @property
    def n_sequences(self) -> int:
        """Number of equally likely sequences: ``K!/(K-N)! · L!/(L-N)! · N``."""
        return math.perm(self.K, self.N) * math.perm(self.L, self.N) * self.N

    def enumerate(self):
        """Every sequence once (all equally likely): ``tokens``, ``targets``.

        Only for tiny sizes: raises ``ValueError`` when there are more than
        :data:`MAX_ENUMERATED` sequences.
        """
        if self.n_sequences > MAX_ENUMERATED:
            raise ValueError(
                f"task {self.as_dict()} has {self.n_sequences} sequences; enumeration allows at most "
                f"{MAX_ENUMERATED} (use the symmetric method at invariant weights)")
        items = np.array(list(itertools.permutations(range(self.K), self.N)), dtype=np.int64)
        labels = np.array(list(itertools.permutations(range(self.L), self.N)), dtype=np.int64)
        ni, nl = len(items), len(labels)
        ii, ll, qq = np.meshgrid(np.arange(ni), np.arange(nl), np.arange(self.N), indexing="ij")
        return self._assemble(items[ii.ravel()], labels[ll.ravel()], qq.ravel())
