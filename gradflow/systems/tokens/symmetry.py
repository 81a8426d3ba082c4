"""Block layout of the weights and their average over the token-relabelling symmetry (SPEC §3).

Every weight matrix is cut into blocks whose rows and columns are *segments*: a run of
consecutive indices that hold one token set (items ``"I"`` or labels ``"L"``) in one slot of
the residual stream. Permuting items (S_K) and labels (S_L) acts on every segment of the same
set at once, so the average of a matrix over the whole group is, block by block, ``a·Id + b·J``
when rows and columns hold the same set (``a + b`` = mean of the diagonal, ``b`` = mean off
it) and ``b·J`` otherwise (``b`` = mean of the block).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .task import Task

SLOTS_U = ("e", "h1")                      # u_t = [e_t ; h1_t]
SLOTS_Z = ("e", "h1", "h2.e", "h2.h1")     # z = [e_T ; h1_T ; h2] and h2 = [h2.e ; h2.h1]


@dataclass(frozen=True)
class Segment:
    name: str      # e.g. "h1.I"; "out" for the read-out rows
    set: str       # "I" (items) or "L" (labels)
    start: int
    size: int

    @property
    def slice(self) -> slice:
        return slice(self.start, self.start + self.size)


def _segments(K, L, slots) -> tuple[Segment, ...]:
    segs, start = [], 0
    for slot in slots:
        for s, size in (("I", K), ("L", L)):
            name = s if slot is None else f"{slot}.{s}"
            segs.append(Segment(name, s, start, size))
            start += size
    return tuple(segs)


def block_layout(K, L) -> dict[str, tuple[tuple[Segment, ...], tuple[Segment, ...]]]:
    """Row and column segments of ``W1`` (d×d), ``W2`` (2d×2d) and ``W3`` (L×4d) for K items and
    L labels; the sizes may be SymPy symbols (then only names, sets and sizes are meaningful)."""
    tok = _segments(K, L, (None,))
    u = _segments(K, L, SLOTS_U)
    z = _segments(K, L, SLOTS_Z)
    out = (Segment("out", "L", 0, L),)
    return {"W1": (tok, tok), "W2": (u, u), "W3": (out, z)}


def layout(task: Task) -> dict[str, tuple[tuple[Segment, ...], tuple[Segment, ...]]]:
    """:func:`block_layout` of a task."""
    return block_layout(task.K, task.L)


def orbit_average_matrix(M: np.ndarray, rows, cols) -> np.ndarray:
    """Average of ``M`` over all simultaneous permutations of items and of labels."""
    out = np.empty_like(M, dtype=float)
    for r in rows:
        for c in cols:
            block = M[r.slice, c.slice]
            total = block.sum()
            if r.set == c.set and r.size > 1:
                diag = np.trace(block)
                n = r.size
                off = (total - diag) / (n * n - n)
                res = np.full((n, n), off)
                np.fill_diagonal(res, diag / n)
            else:
                res = np.full(block.shape, total / block.size)
            out[r.slice, c.slice] = res
    return out


def orbit_average(W, task: Task):
    """Orbit average of each of ``W = (W1, W2, W3)``: the projection onto invariant weights."""
    lay = layout(task)
    return tuple(orbit_average_matrix(M, *lay[k]) for k, M in zip(("W1", "W2", "W3"), W))


def invariance_defect(W, task: Task) -> float:
    """``‖W − orbit_average(W)‖ / max(1, ‖W‖)`` (Frobenius, over the three matrices)."""
    avg = orbit_average(W, task)
    num = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(W, avg)))
    den = np.sqrt(sum(np.sum(a ** 2) for a in W))
    return float(num / max(1.0, den))


def permute(W, task: Task, item_perm, label_perm):
    """Conjugate the weights by a relabelling of tokens: item ``a`` becomes ``item_perm[a]``,
    label ``b`` becomes ``label_perm[b]``. The model is equivariant under this map."""
    item_perm = np.asarray(item_perm)
    label_perm = np.asarray(label_perm)
    tok = np.concatenate([item_perm, task.K + label_perm])     # new index of each token
    d = task.d

    def idx(n_slots):
        return np.concatenate([tok + s * d for s in range(n_slots)])

    out = []
    for M, (ri, ci) in zip(W, ((idx(1), idx(1)), (idx(2), idx(2)), (label_perm, idx(4)))):
        P = np.empty_like(M)
        P[np.ix_(ri, ci)] = M
        out.append(P)
    return tuple(out)
