"""The head's loss of the family's ``burst=B`` members in closed form, any B, O(N·B) per node of a
quadrature (rotated labels, squared error; either mask, either query; :mod:`.setting`).

**The placements.** The query's item sits at the pairs S (1-based): query ``last``: N and B − 1 of
the first N − 1; ``uniform``: B of the N pairs; every such S equally likely. With only α3, β2, γ3
non-zero, a key's layer-2 score is β2 times x_q's weight in its layer-1 output, which depends on
its pair j, on whether j ∈ S, and on c(j) = |S ∩ {1 … j − 1}|, the occurrences before it:

* y_j: β2 (1[j ∈ S] a_j + c(j) b_j), a_j = e^{α3}/(e^{α3} + 2j − 2), b_j = 1/(e^{α3} + 2j − 2)
  (y_j gives weight a_j to its own item and b_j to each of its 2j − 2 other keys);
* x_j: β2 c(j)/(2j − 2) (uniform over its 2j − 2 keys; x_1 has none and scores 0).

With ``mask="self"`` each token is also its own key: a_j, b_j have e^{α3} + 2j − 1 (y_j's own score
is ⟨M p_j, M M p_j⟩ = 0), x_j scores β2 (c(j) + 1[j ∈ S])/(2j − 1), and the query is a key too, with
x_q's content and the score β2 (B + 1)/(2N + 1) (its layer-1 mean over all 2N + 1 contents, x_q
among them B + 1 times).

The read-out sums the softmax weights A_k = e_k/Z by content: T = Σ_{j∈S} e(y_j) for y_q,
I = Σ_{j∈S} e(x_j) for x_q, and each key outside S is a distinct content, so with
Q = Σ_{j∉S} (e(x_j)² + e(y_j)²)

    𝓛 = ½ E_S[(γ3 T/Z − 1)² + γ3² (I² + Q)/Z²] = ½ E_S[(U² + γ3² (I² + Q))/Z²],
    U = γ3 T − Z = (γ3 − 1) T − I − R,   R = Z − T − I (the keys outside S),

a sum of squares whose every term vanishes with the loss, so 𝓛 keeps its relative accuracy
however small it gets (expanding (γ3 T/Z − 1)² instead loses it below ≈ 1e-13).

**The average over S without enumerating it.** With 1/Z = ∫₀^∞ e^{−sZ} ds and 1/Z² = ∫₀^∞ s e^{−sZ} ds,
e^{−sZ} = Π_keys e^{−s e_k} factorises over the pairs, and S is a sequential draw without
replacement (pair j joins S with probability (free slots left)/(pairs left)), so for each s
E_S[g e^{−sZ}] (g = 1, U, U², I, I², Q) is a forward recursion over j = 1 … N on the state
c ∈ {0 … B} carrying those six moments: O(N·B) per s.

The integral over s is the trapezoidal rule in u, with s = e^{u − e^{−u}}/Z_hi, step h = 0.2, and u
from −4 to ln 45 + ln(Z_hi/Z_lo). The substitution is double-exponential at s → 0, where the plain
ln s rule's tail decays only like s (195 nodes instead of 41). Z_lo ≤ Z ≤ Z_hi bound every
placement's Z from the keys' extreme scores; about 41 nodes when Z_hi/Z_lo is near 1.

Error bound: the rule gives 1/z and 1/z² to ≤ 2e-15 relative for every z in [Z_lo/Z_hi, 1]
(measured over spans up to e^30 in tests/paper/test_burst.py). The cut tails are below e^{−58}
(lower) and 45² e^{−45} ≈ 6e-17 (upper). Since 𝓛 is an average of non-negative terms times 1/Z²,
it carries that relative error. The tests compare it with a 40-digit enumeration of every
placement, with the O(N) suffix sums of B = 2, with the paper's kernels at B = 1 and with the
full-weight generic flow.

All exponents are shifted by the largest score max(β2, 0) (the softmax does not depend on it). The
gradient is carried through the recursion in forward mode (d/dα3, d/dβ2, d/dγ3 of every moment;
the nodes are held fixed, their placement moves only the quadrature error).
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: the quadrature's step in u = ln s and its lower end; its upper end is ln(UPPER) + ln(Z_hi/Z_lo)
H, U_LOW, UPPER = 0.2, -4.0, 45.0


@nb.njit(cache=True)
def _square(Y, X, g, t, dt):
    """Y[g : g + 2] = the moments of (S + t, (S + t)²) from X's of (S, S²) (and X[0], the mass),
    with their derivatives (column d ≥ 1; ``dt[d]`` = ∂t)."""
    Y[g, 0] = X[g, 0] + t * X[0, 0]
    Y[g + 1, 0] = X[g + 1, 0] + 2.0 * t * X[g, 0] + t * t * X[0, 0]
    for d in range(1, 4):
        Y[g, d] = X[g, d] + dt[d] * X[0, 0] + t * X[0, d]
        Y[g + 1, d] = (X[g + 1, d] + 2.0 * dt[d] * X[g, 0] + 2.0 * t * X[g, d]
                       + 2.0 * t * dt[d] * X[0, 0] + t * t * X[0, d])


@nb.njit(cache=True)
def _moments(alpha3, beta2, gamma3, N, B, last, selfmask, s):
    """E_S[g e^{−sZ}] at each node s for g = 1, U, U², I, I², Q, with their derivatives in α3, β2
    and γ3 (forward mode): out[g, d, k], d = 0 the value, 1 … 3 ∂/∂(α3, β2, γ3). Z from exponents
    shifted by max(β2, 0), a constant of the differentiation (the softmax does not depend on it).
    ``selfmask``: every token also attends to itself, the query too (its own key: x_q's content,
    score β2 (B + 1)/(2N + 1))."""
    top = max(beta2, 0.0)
    ea = np.exp(alpha3)
    K = s.shape[0]
    # W[c, k, g, d]: the partial moment g (and its derivatives d) over the pairs so far, with c
    # occurrences among them
    W = np.zeros((B + 1, K, 6, 4))
    V = np.zeros((B + 1, K, 6, 4))
    X = np.zeros((6, 4))
    Y = np.zeros((6, 4))
    dex, dey, du, dq = np.zeros(4), np.zeros(4), np.zeros(4), np.zeros(4)
    W[0, :, 0, 0] = 1.0
    if selfmask:                                         # the query's own key: fixed score, x_q's content
        sq = (B + 1.0) / (2.0 * N + 1.0)
        eq = np.exp(beta2 * sq - top)
        dex[2] = sq * eq
        du[1], du[2], du[3] = 0.0, -dex[2], 0.0
        for k in range(K):
            f = np.exp(-s[k] * eq)
            X[:, :] = W[0, k]
            Y[:, :] = X
            _square(Y, X, 1, -eq, du)
            _square(Y, X, 3, eq, dex)
            for g in range(6):
                W[0, k, g, 0] = f * Y[g, 0]
                W[0, k, g, 1] = f * Y[g, 1]
                W[0, k, g, 2] = -s[k] * f * dex[2] * Y[g, 0] + f * Y[g, 2]
                W[0, k, g, 3] = f * Y[g, 3]
    own = 1.0 if selfmask else 0.0                       # a token's own key in layer 1
    for j in range(1, N + 1):
        V[:, :, :, :] = 0.0
        den = ea + (2.0 * j - 2.0 + own)
        a, b = ea / den, 1.0 / den
        da, db = a - a * a, -a * b                       # ∂/∂α3 of a_j and b_j
        forced = last and j == N
        left = (N - j) if last else (N - j + 1)          # pairs j … that may still join S
        # the reachable c: at most j − 1 (and B − 1 before the query's own last pair), at least what
        # the pairs left can still complete (other states carry no mass)
        if forced:                                       # the query's pair: after exactly B − 1 others
            c_low, c_high = B - 1, B - 1
        else:
            to_place = B - 1 if last else B
            c_low, c_high = max(0, to_place - left), min(to_place, j - 1)
        for c in range(c_low, c_high + 1):
            free = (B - 1 - c) if last else (B - c)      # occurrences still to place (query last: besides N)
            if forced:
                p1 = 1.0
            elif free <= 0:
                p1 = 0.0
            else:
                p1 = free / left
            for member in range(2):
                p = p1 if member else 1.0 - p1
                if p <= 0.0:
                    continue
                if selfmask:                             # x_j's 2j − 1 keys include itself
                    sx = (c + member) / (2.0 * j - 1.0)
                else:
                    sx = c / (2.0 * j - 2.0) if j > 1 else 0.0
                ex = np.exp(beta2 * sx - top)
                dex[2] = sx * ex                         # ex depends on β2 only
                sy = member * a + c * b
                ey = np.exp(beta2 * sy - top)
                dey[1], dey[2] = ey * beta2 * (member * da + c * db), ey * sy
                e = ex + ey
                if member:                               # y_q's and x_q's weights: U gets (γ3 − 1)e(y) − e(x)
                    u = (gamma3 - 1.0) * ey - ex
                    du[1], du[2], du[3] = (gamma3 - 1.0) * dey[1], (gamma3 - 1.0) * dey[2] - dex[2], ey
                else:                                    # two distinct contents: U gets −e(x) − e(y), Q e(x)² + e(y)²
                    u = -e
                    du[1], du[2], du[3] = -dey[1], -dex[2] - dey[2], 0.0
                    q = ex * ex + ey * ey
                    dq[1], dq[2] = 2.0 * ey * dey[1], 2.0 * ex * dex[2] + 2.0 * ey * dey[2]
                dst = c + member
                for k in range(K):
                    f = p * np.exp(-s[k] * e)
                    X[:, :] = W[c, k]
                    Y[:, :] = X
                    _square(Y, X, 1, u, du)
                    if member:
                        _square(Y, X, 3, ex, dex)
                    else:
                        Y[5, 0] = X[5, 0] + q * X[0, 0]
                        for d in range(1, 4):
                            Y[5, d] = X[5, d] + dq[d] * X[0, 0] + q * X[0, d]
                    for g in range(6):
                        V[dst, k, g, 0] += f * Y[g, 0]
                        V[dst, k, g, 1] += -s[k] * f * dey[1] * Y[g, 0] + f * Y[g, 1]
                        V[dst, k, g, 2] += -s[k] * f * (dex[2] + dey[2]) * Y[g, 0] + f * Y[g, 2]
                        V[dst, k, g, 3] += f * Y[g, 3]
        W, V = V, W
    return W[B].transpose(1, 2, 0)              # [g, d, k]


def _bounds(alpha3: float, beta2: float, N: int, B: int, mask: str = "strict"):
    """(Z_lo, Z_hi): every placement's shifted Z lies between them (each key's extreme score over c
    and membership)."""
    own = 1.0 if mask == "self" else 0.0
    j = np.arange(1, N + 1, dtype=float)
    den = np.exp(alpha3) + 2 * j - 2 + own
    a, b = np.exp(alpha3) / den, 1.0 / den
    c = np.arange(0, B + 1, dtype=float)[:, None]
    reach = c <= (j - 1)[None, :]
    if own:
        sx = np.concatenate([c / (2 * j - 1), (c + 1) / (2 * j - 1)])
    else:
        sx = np.where(j > 1, c / np.maximum(2 * j - 2, 1), 0.0)
        sx = np.concatenate([sx, sx])
    sy = np.concatenate([c * b, a + c * b])
    reach = np.concatenate([reach, reach])
    top = max(beta2, 0.0)
    ex = np.exp(np.where(reach, beta2 * sx - top, 0.0))      # unreachable (c > j − 1) entries are ignored
    ey = np.exp(np.where(reach, beta2 * sy - top, 0.0))
    lo = np.where(reach, ex, np.inf).min(0) + np.where(reach, ey, np.inf).min(0)
    hi = np.where(reach, ex, 0.0).max(0) + np.where(reach, ey, 0.0).max(0)
    query = np.exp(beta2 * (B + 1) / (2 * N + 1) - top) if own else 0.0       # the query's own key
    return float(lo.sum() + query), float(hi.sum() + query)


def _nodes(alpha3: float, beta2: float, N: int, B: int, mask: str = "strict"):
    """The quadrature's nodes s and weights for ∫ ds and ∫ s ds at this head (see the module)."""
    return _quadrature(*_bounds(alpha3, beta2, N, B, mask))


def _quadrature(lo: float, hi: float):
    """Nodes s and weights for ∫₀^∞ · ds and ∫₀^∞ · s ds against e^{−sZ}, Z in [lo, hi]."""
    u = U_LOW + H * np.arange(int(np.ceil((np.log(UPPER) + np.log(hi / lo) - U_LOW) / H)) + 1)
    s = np.exp(u - np.exp(-u)) / hi
    w = H * s * (1.0 + np.exp(-u))
    return s, w, w * s


def loss_and_grad(theta3, N: int, B: int, query: str = "last", mask: str = "strict"):
    """(𝓛, ∂𝓛/∂(α3, β2, γ3)) of the burst = B member, 𝓛 = ½ ∫ s E_S[(U² + γ3²(I² + Q)) e^{−sZ}] ds."""
    a3, b2, g3 = (float(t) for t in theta3)
    s, _, w2 = _nodes(a3, b2, N, B, mask)
    W = _moments(a3, b2, g3, N, B, query == "last", mask == "self", s) @ w2          # [g, d]
    value = 0.5 * (W[2, 0] + g3 * g3 * (W[4, 0] + W[5, 0]))
    grad = 0.5 * (W[2, 1:] + g3 * g3 * (W[4, 1:] + W[5, 1:]))
    grad[2] += g3 * (W[4, 0] + W[5, 0])
    return float(value), grad


def loss(theta3, N: int, B: int, query: str = "last", mask: str = "strict") -> float:
    """𝓛(α3, β2, γ3) of the burst = B member."""
    return loss_and_grad(theta3, N, B, query, mask)[0]
