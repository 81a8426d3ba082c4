"""The paper setting as a family: mask, label position, loss and burstiness (issue 25).

A :class:`Setting` says what the data and the model are; everything else follows from it:

* ``mask="strict"`` (the paper): layer 1 attends to earlier tokens only (the first token has no key,
  h1 = 0), layer 2's query to the tokens before it. ``"self"``: each token may also attend to
  itself (the first token then has h1 = e_1) and the query to itself.
* ``labels="rotated"`` (the paper): label i sits at M p_i, its item at p_i. ``"same"``: label i
  sits at p_i, its item's own position; the cue M that pairs a label with its item is gone, so
  the position law is invariant under all of O(D), not only under the rotations commuting with M.
* ``loss="mse"`` (the paper): ½‖ŷ − y_q‖². ``"ce"``: the read-out scored against the sequence's 2N
  content vectors, logits ⟨ŷ, c⟩ over its items and labels, −log softmax at y_q (𝓛(0) = ln 2N).
* ``burst=B``: the query's item, with its label, occurs B times among the N pairs; the other N − B
  items are distinct. Query ``last``: one occurrence is the last pair, the other B − 1 at pair
  positions drawn uniformly without replacement from the first N − 1. Query ``uniform``: all B
  drawn uniformly from the N pairs (the query asks for that item). The population is the exact
  average over the placements (:meth:`Setting.placements`); B = 1 is the paper's setting.

The invariant space (:func:`gradflow.systems.paper.symmetry.fixed_space` with the setting's
group) is spanned by the basis matrices of :data:`reference.BLOCKS` that the group fixes: all 19
with the M-structure, and without it the 14 whose blocks are I (α3, β6, β8, β10, β12 vanish).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from math import comb

import numpy as np

from ..._validate import check_choice, check_int

MASKS = ("strict", "self")
LABELS = ("rotated", "same")
LOSSES = ("mse", "ce")
#: the largest number of sequences (placements × queries) one evaluation may average over
MAX_SEQUENCES = 20_000


@dataclass(frozen=True)
class Setting:
    """One member of the family (defaults: the paper's own setting)."""
    N: int
    query: str = "last"
    mask: str = "strict"
    labels: str = "rotated"
    loss: str = "mse"
    burst: int = 1

    def __post_init__(self):
        check_choice("mask", self.mask, MASKS)
        check_choice("labels", self.labels, LABELS)
        check_choice("loss", self.loss, LOSSES)
        check_int("burst", self.burst, 1)
        if self.burst > self.N:
            raise ValueError(f"burst must be at most N = {self.N} (the query's item occurs burst times among the "
                             f"N pairs), got {self.burst}")
        if self.loss == "ce" and self.burst > 1:
            raise ValueError("burst must be 1 with loss='ce': with a repeated item the sequence's content vectors "
                             "repeat, and which of the equal logits is the target is not defined")
        if not self.paper and self.n_sequences() > MAX_SEQUENCES and not self.head_in_closed_form:
            raise ValueError(f"burst = {self.burst} at N = {self.N} averages over {self.n_sequences():,} placements; "
                             f"the limit is {MAX_SEQUENCES:,} (the population is summed exactly, not sampled)")

    @property
    def head_in_closed_form(self) -> bool:
        """Whether the head of this member has a closed form that sums the placements itself
        (the burst members, :mod:`.heads`): then any number of placements is allowed here, and the
        generic flow's limit is enforced by ``PaperSystem.check_size_limits``."""
        from .heads import closed_form
        return closed_form(self) == "burst"

    @property
    def paper(self) -> bool:
        """Whether this is the paper's own setting (then the generated kernels apply)."""
        return self.mask == "strict" and self.labels == "rotated" and self.loss == "mse" and self.burst == 1

    def options(self) -> dict:
        """The options that differ from the paper's (for sizes() and descriptions)."""
        out = {}
        for k, default in (("mask", "strict"), ("labels", "rotated"), ("loss", "mse"), ("burst", 1)):
            if getattr(self, k) != default:
                out[k] = getattr(self, k)
        return out

    # -- the invariant space -----------------------------------------------------------
    @property
    def kinds(self) -> tuple:
        """Which block kinds the group fixes: ("I", "M") with the M-structure, ("I",) without."""
        return ("I", "M") if self.labels == "rotated" else ("I",)

    def indices(self) -> np.ndarray:
        """Indices (into the 19 of :data:`reference.BLOCKS`) of this setting's pseudo-parameters."""
        from .reference import BLOCKS
        return np.array([k for k, b in enumerate(BLOCKS) if b[3] in self.kinds])

    @property
    def previous_token(self) -> str:
        """The layer-1 pseudo-parameter that lets a label attend to its item: α3 (⟨M p_i, M p_i⟩
        through M) with rotated labels, α2 (the shared position) with labels at their item's."""
        return "alpha3" if self.labels == "rotated" else "alpha2"

    # -- the population --------------------------------------------------------------------
    def n_sequences(self) -> int:
        if self.query == "last":
            return comb(self.N - 1, self.burst - 1)
        return self.N if self.burst == 1 else comb(self.N, self.burst)

    def placements(self):
        """[(pairs holding the query's item (0-based, ascending), the query's pair)]: each equally
        likely. Query last: the last pair and B − 1 of the first N − 1. Uniform, B = 1: each pair
        once; B > 1: every B-subset (the query's item is the one that repeats)."""
        N, B = self.N, self.burst
        if self.query == "last":
            return [(tuple(P) + (N - 1,), N - 1) for P in itertools.combinations(range(N - 1), B - 1)]
        if B == 1:
            return [((q,), q) for q in range(N)]
        return [(P, P[-1]) for P in itertools.combinations(range(N), B)]

    def batch(self, D: int):
        """The canonical sequences of the population (:meth:`sequences` of every placement)."""
        return self.sequences(D, self.placements())

    def sequences(self, D: int, rows):
        """The canonical sequences of the placements ``rows`` ((pairs holding the query's item,
        the query's pair), 0-based): (E (n, 2N + 1, 2D), targets Y (n, D), the index of the target
        label among the 2N content tokens (n,)). Pair k has item e_{c(k)} and label e_{N + c(k)}
        with c(k) = k, except that the pairs of a placement all carry the query's item c = its
        pair index q. Positions: rotated labels: item at e_{2k}, label at e_{2k+1}, query at
        e_{2N}; same: item and label at e_k, query at e_N (0-based)."""
        N = self.N
        T = 2 * N + 1
        E = np.zeros((len(rows), T, 2 * D))
        Y = np.zeros((len(rows), D))
        target = np.zeros(len(rows), dtype=np.int64)
        for b, (P, q) in enumerate(rows):
            content = np.arange(N)
            content[list(P)] = q
            for k in range(N):
                E[b, 2 * k, content[k]] = 1.0
                E[b, 2 * k + 1, N + content[k]] = 1.0
                if self.labels == "rotated":
                    E[b, 2 * k, D + 2 * k] = E[b, 2 * k + 1, D + 2 * k + 1] = 1.0
                else:
                    E[b, 2 * k, D + k] = E[b, 2 * k + 1, D + k] = 1.0
            E[b, -1, q] = 1.0
            E[b, -1, D + (2 * N if self.labels == "rotated" else N)] = 1.0
            Y[b, N + q] = 1.0
            target[b] = 2 * q + 1
        return E, Y, target
