"""The 19-dimensional invariant, gauge-fixed subspace of the weights (SPEC §3).

Each basis direction is an ``Id`` or ``J`` block of one weight matrix, centred to fix the
gauge (rows of ``W1``; rows of ``W2`` within each column slot; columns of ``W3``). A centred
direction is again a sum of ``a·Id + b·J`` blocks, so everything here is *structured*: a
direction is a dict ``{(row segment, column segment): (a, b)}`` and inner products, the Gram
matrix and projections use block traces and sums, never 19 dense loops. The same code runs
on SymPy symbols, which is how :mod:`gradflow.derive` prints the closed form of ``G(K, L)``.
"""

from __future__ import annotations

import numpy as np

from .symmetry import Segment, block_layout, layout
from .task import Task

#: The 19 pseudo-parameters in SPEC §3 order (alpha3, beta2, gamma3 form the induction head).
NAMES = ("alpha1", "alpha2", "alpha3", "alpha4",
         "beta1", "beta2", "beta3", "beta4", "beta5", "beta6", "beta7", "beta8",
         "beta9", "beta10", "beta11", "beta12",
         "gamma1", "gamma2", "gamma3")

#: (matrix, row segment, column segment, "Id" or "J") of each direction before centring.
BLOCKS = (
    ("W1", "I", "I", "Id"), ("W1", "I", "I", "J"), ("W1", "L", "I", "J"), ("W1", "L", "L", "Id"),
    ("W2", "e.I", "e.I", "Id"), ("W2", "e.I", "h1.I", "Id"), ("W2", "e.I", "e.I", "J"),
    ("W2", "e.I", "h1.I", "J"), ("W2", "h1.I", "e.I", "Id"), ("W2", "h1.I", "h1.I", "Id"),
    ("W2", "h1.I", "e.I", "J"), ("W2", "h1.I", "h1.I", "J"), ("W2", "h1.L", "e.L", "Id"),
    ("W2", "h1.L", "h1.L", "Id"), ("W2", "h1.L", "e.I", "J"), ("W2", "h1.L", "h1.I", "J"),
    ("W3", "out", "h1.L", "Id"), ("W3", "out", "h2.h1.L", "Id"), ("W3", "out", "h2.e.L", "Id"),
)
MATRICES = ("W1", "W2", "W3")


def index(name: str) -> int:
    """Position of a pseudo-parameter in :data:`NAMES`; ``ValueError`` for unknown names."""
    try:
        return NAMES.index(name)
    except ValueError:
        raise ValueError(f"unknown pseudo-parameter {name!r}; allowed: {', '.join(NAMES)}") from None


def _slot(seg_name: str) -> str:
    return seg_name.rsplit(".", 1)[0] if "." in seg_name else ""


def _sizes(rows, cols):
    return {s.name: s for s in rows + cols}


def centred_direction(k: int, K, L, lay=None):
    """Direction ``k`` after centring, as ``{(row, col): (a, b)}`` (sizes may be symbols)."""
    mat, r, c, kind = BLOCKS[k]
    rows, cols = (lay or block_layout(K, L))[mat]
    seg = _sizes(rows, cols)
    a, b = (1, 0) if kind == "Id" else (0, 1)
    blocks = {(r, c): (a, b)}
    rowsum = a + b * seg[c].size                       # sum of one row (or column) of the block
    if mat == "W3":                                    # centre columns over the L output rows
        blocks[(r, c)] = (a, b - rowsum / seg[r].size)
        return blocks
    # W1: centre rows over all columns; W2: within the column slot of c
    same_slot = [s for s in cols if _slot(s.name) == _slot(c)]
    width = sum(s.size for s in same_slot)
    for s in same_slot:
        a0, b0 = blocks.get((r, s.name), (0, 0))
        blocks[(r, s.name)] = (a0, b0 - rowsum / width)
    return blocks


def _block_inner(x, y, r, c):
    """⟨a1·Id + b1·J, a2·Id + b2·J⟩ over one block with row segment r, column segment c."""
    (a1, b1), (a2, b2) = x, y
    if r.set == c.set:
        n = r.size
        return a1 * a2 * n + (a1 * b2 + b1 * a2) * n + b1 * b2 * n * n
    return b1 * b2 * r.size * c.size


def gram(K, L):
    """Gram matrix ``G[k, l] = ⟨B_k, B_l⟩_F`` (19×19), numeric or SymPy for symbolic K, L."""
    lay = block_layout(K, L)
    dirs = [centred_direction(k, K, L, lay) for k in range(19)]
    G = [[0] * 19 for _ in range(19)]
    for k in range(19):
        for l in range(k, 19):
            if BLOCKS[k][0] != BLOCKS[l][0]:
                continue
            rows, cols = lay[BLOCKS[k][0]]
            seg = _sizes(rows, cols)
            val = 0
            for key, x in dirs[k].items():
                if key in dirs[l]:
                    val += _block_inner(x, dirs[l][key], seg[key[0]], seg[key[1]])
            G[k][l] = G[l][k] = val
    return G


def gram_matrix(task: Task) -> np.ndarray:
    """Numeric Gram matrix of the centred basis for ``task`` (depends on K and L only)."""
    return np.array(gram(task.K, task.L), dtype=float)


def _dense_layout(task: Task) -> dict[str, dict[str, Segment]]:
    lay = layout(task)
    return {m: _sizes(*lay[m]) for m in MATRICES}


def weights(theta, task: Task):
    """Dense weights ``(W1, W2, W3) = Σ_k θ_k B_k`` for a length-19 ``theta``."""
    theta = np.asarray(theta, dtype=float)
    if theta.shape != (19,):
        raise ValueError(f"theta must have shape (19,), got {theta.shape}")
    from .reference import zeros
    W = dict(zip(MATRICES, zeros(task)))
    seg = _dense_layout(task)
    for k in range(19):
        if theta[k] == 0:
            continue
        mat = BLOCKS[k][0]
        for (r, c), (a, b) in centred_direction(k, task.K, task.L).items():
            block = W[mat][seg[mat][r].slice, seg[mat][c].slice]
            block += theta[k] * b
            if a:
                block[np.diag_indices(seg[mat][r].size)] += theta[k] * a
    return tuple(W[m] for m in MATRICES)


def project(W, task: Task):
    """Least-squares ``theta`` of ``W`` in the basis and the relative off-subspace norm
    ``‖W − weights(θ)‖_F / ‖W‖_F`` (0 for ``W = 0``)."""
    from .reference import check_weights
    W = check_weights(W, task)
    seg = _dense_layout(task)
    mats = dict(zip(MATRICES, W))
    rhs = np.zeros(19)
    for k in range(19):
        mat = BLOCKS[k][0]
        for (r, c), (a, b) in centred_direction(k, task.K, task.L).items():
            block = mats[mat][seg[mat][r].slice, seg[mat][c].slice]
            rhs[k] += b * block.sum() + (a * np.trace(block) if a else 0.0)
    theta = np.linalg.solve(gram_matrix(task), rhs)
    norm = np.sqrt(sum(np.sum(M ** 2) for M in W))
    resid = np.sqrt(sum(np.sum((M - R) ** 2) for M, R in zip(W, weights(theta, task))))
    return theta, (float(resid / norm) if norm > 0 else 0.0)
