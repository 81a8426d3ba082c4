"""The exact reduced population loss of SPEC-paper on its 19 pseudo-parameters, in O(N) per query.

With orthonormal contents and positions every sequence with the same query index q has the same loss
at invariant weights (the frames form one orbit), so 𝓛 = mean over the query law of the loss of the
canonical sequence. derivations/paper/README.md derives every inner product it needs; in short
(ρ = e^{α1}, σ = e^{α3}, Z_q = ρ + 2N − 1, a_j = σ/(σ + 2j − 2), b_j = 1/(σ + 2j − 2),
c_j = 1/(2j − 2) for j ≥ 2 and c_1 = 0; ρ and σ enter only through ratios, evaluated with shifted
exponents):

* layer 1 (strictly causal): item x_j attends uniformly to the 2j − 2 tokens before it; label y_j puts
  σ on its own item and 1 on the other 2j − 2 earlier tokens; the query puts ρ on the item with its
  content and 1 on the other 2N − 1 tokens. α2 never enters (distinct positions are orthogonal).
* layer 2: the query's score of each of the 2N keys is a linear form in (β1, β2, β3, β4, β9 … β12)
  with coefficients given by :func:`key_coefficients`; β5 … β8 never enter (the query's fresh
  position is orthogonal to every key).
* read-out: ŷ = γ1 x_q + γ2 h1c_T + γ3 Σ_u A_u c_u + γ4 Σ_u A_u h1c_u has coefficients X_k on x_k and
  Y_k on y_k, with suffix sums R_k = Σ_{j>k} (A(x_j) c_j + A(y_j) b_j), and
  loss_q = ½ (Σ_k (X_k² + Y_k²) − 2 Y_q + 1).

Every operation is analytic, so the gradient is the complex step (19 evaluations on θ + i·h·e_k,
h = 1e-40): exact to rounding, with no truncation or cancellation error. The softmax is shifted by
the largest real score (stable for any θ).
"""

from __future__ import annotations

import numpy as np

from ..._validate import check_vector

#: The 19 pseudo-parameters of SPEC-paper §3, in θ order.
NAMES = ("alpha1", "alpha2", "alpha3",
         "beta1", "beta2", "beta3", "beta4", "beta5", "beta6", "beta7", "beta8",
         "beta9", "beta10", "beta11", "beta12",
         "gamma1", "gamma2", "gamma3", "gamma4")
QUERIES = ("last", "uniform")
COMPLEX_STEP = 1e-40
#: largest N for the uniform query's O(N²) evaluation
UNIFORM_N_MAX = 4096


def key_coefficients(theta, N: int, q: np.ndarray):
    """Scores s (m × len(q) × 2N: the items x_1..x_N, then the labels y_1..y_N) of the layer-2 keys
    for queries with index q (1-based) at each of the m rows of ``theta`` (m × 19), and the
    layer-1 quantities (1/Z_q, (ρ−1)/Z_q, a, b, c) they use (each with a leading axis of length m).

    Stable for any θ: e^{α1} and e^{α3} only enter through ratios, written with their exponents
    shifted by max(α, 0) (as in a log-sum-exp)."""
    col = lambda k: theta[:, k][:, None, None]                  # noqa: E731
    b1, b2, b3, b4 = col(3), col(4), col(5), col(6)
    b9, b10, b11, b12 = col(11), col(12), col(13), col(14)
    j = np.arange(1, N + 1)[None, None, :]
    a1, a3 = col(0), col(2)
    m1, m3 = np.maximum(a1.real, 0.0), np.maximum(a3.real, 0.0)
    zq = np.exp(a1 - m1) + (2 * N - 1) * np.exp(-m1)           # Z_q e^{−m1}
    inv = np.exp(-m1) / zq                                      # 1/Z_q
    rm1 = (np.exp(a1 - m1) - np.exp(-m1)) / zq                  # (ρ − 1)/Z_q
    den = np.exp(a3 - m3) + (2 * j - 2) * np.exp(-m3)
    a = np.exp(a3 - m3) / den                                   # σ/(σ + 2j − 2)
    b = np.exp(-m3) / den                                       # 1/(σ + 2j − 2)
    c = np.where(j >= 2, 1.0 / np.maximum(2 * j - 2, 1), 0.0)
    q = np.asarray(q)[None, :, None]
    eq = (j == q).astype(float)                   # [j = q]
    after = (j > q).astype(float)                 # [q < j]
    pre = 2.0 * (j - 1) * inv + rm1 * after       # ⟨h1_T, S_j⟩ (content, and likewise positions)
    own = inv + rm1 * eq                          # ⟨h1_T, e_j⟩
    sx = (b1 * eq + b2 * c * after + (b3 + b9) * own + b10 * inv
          + (b4 + b11) * c * pre - b12 * c * rm1 * after)
    hy = a * own + b * pre                        # ⟨h1c_T, h1c(y_j)⟩ (also the h1r form)
    sy = (b2 * (a * eq + b * after) + (b3 + b9) * inv - b10 * own + (b4 + b11) * hy
          + b12 * (a * inv - b * rm1 * after))
    return np.concatenate([sx, sy], axis=2), (inv, rm1, a, b, c)


def query_losses(theta, N: int, q) -> np.ndarray:
    """Loss of the canonical sequence with query index q (1-based; an array) at each row of
    ``theta`` (m × 19, or one θ): shape (m, len(q)). Works on float64 or complex128."""
    theta = np.atleast_2d(theta)
    q = np.atleast_1d(np.asarray(q))
    col = lambda k: theta[:, k][:, None, None]                  # noqa: E731
    g1, g2, g3, g4 = col(15), col(16), col(17), col(18)
    s, (inv, rm1, a, b, c) = key_coefficients(theta, N, q)
    s = s - np.max(s.real, axis=2, keepdims=True)
    e = np.exp(s)
    A = e / e.sum(axis=2, keepdims=True)
    Ax, Ay = A[..., :N], A[..., N:]
    per = Ax * c + Ay * b                                      # contribution of key pair j to R_k, k < j
    R = np.cumsum(per[..., ::-1], axis=2)[..., ::-1] - per     # R_k = Σ_{j>k}
    k = np.arange(1, N + 1)[None, None, :]
    is_q = (k == q[None, :, None]).astype(float)
    X = g1 * is_q + g2 * (inv + rm1 * is_q) + g3 * Ax + g4 * (R + a * Ay)
    Y = g2 * inv + g3 * Ay + g4 * R
    Yq = np.sum(Y * is_q, axis=2)
    return 0.5 * (np.sum(X * X + Y * Y, axis=2) - 2 * Yq + 1)


def _queries(N: int, query: str) -> np.ndarray:
    return np.array([N]) if query == "last" else np.arange(1, N + 1)


def loss_any(theta, N: int, query: str):
    """𝓛 at each row of θ (m × 19, float or complex; no validation): shape (m,)."""
    return query_losses(theta, N, _queries(N, query)).mean(axis=1)


def loss(theta, N: int, query: str = "last") -> float:
    """Exact population loss 𝓛(θ) (SPEC-paper §2; ½ E‖ŷ − y_q‖², 𝓛(0) = ½)."""
    return float(loss_any(check_vector("theta", theta, 19), N, query)[0])


HEAD_INDEX = np.array([NAMES.index(n) for n in ("alpha3", "beta2", "gamma3")])
OTHERS = np.setdiff1d(np.arange(19), HEAD_INDEX)


def loss_and_grad(theta, N: int, query: str = "last", free=None):
    """(𝓛, ∇_θ𝓛). ``free``: the indices whose entries are wanted (the others are returned as 0).

    Query last with only α3, β2, γ3 wanted and the other 16 at zero: the generated closed form
    (O(1)). Otherwise the complex step on the O(N) (last) or O(N²) (uniform) evaluation, one
    evaluation per wanted entry: exact to rounding."""
    theta = check_vector("theta", theta, 19)
    idx = np.arange(19) if free is None else np.asarray(free)
    grad = np.zeros(19)
    if query == "last" and np.all(np.isin(idx, HEAD_INDEX)) and not np.any(theta[OTHERS]):
        from . import _kernels
        val, jac = np.zeros(1), np.zeros((1, 3))
        _kernels.last3_jac(np.ascontiguousarray(theta[HEAD_INDEX]), float(N), val, jac)
        grad[HEAD_INDEX] = jac[0]
        grad[OTHERS] = 0.0
        keep = np.zeros(19, dtype=bool)
        keep[idx] = True
        return float(val[0]), np.where(keep, grad, 0.0)
    # one batched evaluation: row r is θ + i·h·e_{idx[r]}; rows are split to bound memory
    rows = np.tile(theta.astype(complex), (len(idx), 1))
    rows[np.arange(len(idx)), idx] += 1j * COMPLEX_STEP
    per_row = 2 * N * (1 if query == "last" else N)
    chunk = max(1, int(4e6 // per_row))
    values = np.concatenate([loss_any(rows[k:k + chunk], N, query) for k in range(0, len(idx), chunk)])
    grad[idx] = values.imag / COMPLEX_STEP
    return float(values[0].real), grad
