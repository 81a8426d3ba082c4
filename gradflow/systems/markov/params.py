"""The live parameters of the simplified model (SPEC-markov §2), declared once: their names, the
subsets R of the selector, the authors' initialisation, and packing into θ.

Components: 0 is the token itself, c = 1 … H is layer-1 head c − 1. The selector has one
coefficient c_R per subset R of components with |R| ≤ D; the output position's component 0 is the
zero row, so every R ∋ 0 scores 0 and its c_R never moves: the live coefficients are those with
0 ∉ R, the empty set included (it scores 1 everywhere and enters only the normaliser).

θ = (band, c, a):
* band: ``w_h{h}k{k}``, the layer-1 logit of head h on offset k = h+1 … h+H (H × H, row-major);
* c: ``c_`` + the components of R (``c_`` alone for the empty set), by size, then lexicographic;
* a: the classifier weight.
At H = 3, D = 2 that is 9 + 7 + 1 = 17.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..._validate import check_int

#: the authors' initialisation: logit 3 on offset h+1 of head h, 0.1 on the band's other offsets,
#: c_R = 0.01, a = 0.01
W_PLUS, W_MINUS, C_INIT, A_INIT = 3.0, 0.1, 0.01, 0.01


@dataclass(frozen=True)
class Layout:
    """Where each live parameter sits in θ for ``H`` heads and selector degree ``D``."""

    H: int = 3
    D: int = 2

    def __post_init__(self):
        object.__setattr__(self, "H", check_int("H", self.H, 1, 6))
        object.__setattr__(self, "D", check_int("D", self.D, 1, self.H))

    @cached_property
    def subsets(self) -> tuple:
        """Live subsets R (components 1..H), the empty set first, by size then lexicographic."""
        return tuple(R for d in range(self.D + 1) for R in itertools.combinations(range(1, self.H + 1), d))

    @cached_property
    def names(self) -> tuple:
        band = [f"w_h{h}k{h + 1 + j}" for h in range(self.H) for j in range(self.H)]
        return tuple(band + [subset_name(R) for R in self.subsets] + ["a"])

    @property
    def n_band(self) -> int:
        return self.H * self.H

    @property
    def n_c(self) -> int:
        return len(self.subsets)

    @property
    def c_slice(self) -> slice:
        return slice(self.n_band, self.n_band + self.n_c)

    @property
    def band_names(self) -> tuple:
        return self.names[: self.n_band]

    @property
    def c_names(self) -> tuple:
        return self.names[self.c_slice]

    def unpack(self, theta):
        """(band (H, H), c (n_c,), a) views of θ."""
        theta = np.asarray(theta, dtype=np.float64)
        return theta[: self.n_band].reshape(self.H, self.H), theta[self.c_slice], float(theta[-1])

    def pack(self, band, c, a) -> np.ndarray:
        return np.concatenate([np.asarray(band, float).ravel(), np.asarray(c, float), [float(a)]])

    def initial(self, w_plus: float = W_PLUS, w_minus: float = W_MINUS, c0: float = C_INIT,
                a0: float = A_INIT) -> np.ndarray:
        """The authors' initialisation (module constants)."""
        band = np.full((self.H, self.H), w_minus)
        band[:, 0] = w_plus
        return self.pack(band, np.full(self.n_c, c0), a0)

    @cached_property
    def subset_table(self) -> np.ndarray:
        """(n_c, D) head indices (component − 1) of each subset, padded with −1 (for kernels)."""
        out = -np.ones((self.n_c, self.D), dtype=np.int64)
        for i, R in enumerate(self.subsets):
            out[i, : len(R)] = [c - 1 for c in R]
        return out

    def shares(self, theta) -> np.ndarray:
        """c_R² / Σ c²: the selector's weight on each live subset."""
        c = self.unpack(theta)[1]
        return c ** 2 / np.sum(c ** 2)


def subset_name(R) -> str:
    return "c_" + "".join(str(c) for c in R)
