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
  with coefficients given in derivations/paper/README.md §3; β5 … β8 never enter (the query's fresh
  position is orthogonal to every key).
* read-out: ŷ = γ1 x_q + γ2 h1c_T + γ3 Σ_u A_u c_u + γ4 Σ_u A_u h1c_u has coefficients X_k on x_k and
  Y_k on y_k, with suffix sums R_k = Σ_{j>k} (A(x_j) c_j + A(y_j) b_j), and
  loss_q = ½ (Σ_k (X_k² + Y_k²) − 2 Y_q + 1).

Every operation is analytic, so the gradient is the complex step (one evaluation per wanted entry
on θ + i·h·e_k, h = 1e-40, all in one compiled call): exact to rounding, with no truncation or
cancellation error. The softmax is shifted by the largest real score (stable for any θ).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from ... import _compile
from ..._validate import check_vector

#: The 19 pseudo-parameters of SPEC-paper §3, in θ order.
NAMES = ("alpha1", "alpha2", "alpha3",
         "beta1", "beta2", "beta3", "beta4", "beta5", "beta6", "beta7", "beta8",
         "beta9", "beta10", "beta11", "beta12",
         "gamma1", "gamma2", "gamma3", "gamma4")
QUERIES = ("last", "uniform")
COMPLEX_STEP = 1e-40
#: largest N for the uniform query's O(N²) evaluation (the head alone is O(N): no limit)
UNIFORM_N_MAX = 4096
HEAD_INDEX = np.array([NAMES.index(n) for n in ("alpha3", "beta2", "gamma3")])
OTHERS = np.setdiff1d(np.arange(19), HEAD_INDEX)


@njit(cache=True, nogil=True)
def _layer1(th, N, a, b):
    """Layer-1 quantities of the canonical sequence (derivations/paper/README.md §3), for a real or
    complex θ: fills a_j = σ/(σ + 2j) and b_j = 1/(σ + 2j) (0-based j) and returns 1/Z_q,
    (ρ − 1)/Z_q and P = ρ/Z_q. e^{α1}, e^{α3} enter only through ratios, shifted by max(α, 0)."""
    m1 = max(th[0].real, 0.0)
    m3 = max(th[2].real, 0.0)
    zq = np.exp(th[0] - m1) + (2 * N - 1) * np.exp(-m1)
    inv = np.exp(-m1) / zq                                      # 1/Z_q
    rm1 = (np.exp(th[0] - m1) - np.exp(-m1)) / zq               # (ρ − 1)/Z_q
    e3, e0 = np.exp(th[2] - m3), np.exp(-m3)
    for j in range(N):
        den = e3 + 2 * j * e0                                   # (σ + 2(j+1) − 2) e^{−m3}
        a[j] = e3 / den
        b[j] = e0 / den
    return inv, rm1, np.exp(th[0] - m1) / zq


@njit(cache=True, nogil=True)
def _c(j):
    """c_j = 1/(2j) for 0-based j ≥ 1 (the 1-based 1/(2j − 2)), c_0 = 0: item x_j's uniform
    layer-1 weight on each earlier token."""
    return 1.0 / (2 * j) if j >= 1 else 0.0


@njit(cache=True, nogil=True)
def _key_geometry(j, q, inv, rm1):
    """For key index j and query q (0-based): c_j, [j = q], [j > q], P_j and o_j of §3."""
    c = _c(j)
    eq = 1.0 if j == q else 0.0
    after = 1.0 if j > q else 0.0
    pre = 2.0 * j * inv + rm1 * after
    own = inv + rm1 * eq
    return c, eq, after, pre, own


@njit(cache=True, nogil=True)
def _key_scores(th, c, eq, after, pre, own, inv, rm1, aj, bj):
    """The query's layer-2 scores of item x_j and label y_j (§3)."""
    b1, b2, b39, b10, b411, b12 = th[3], th[4], th[5] + th[11], th[12], th[6] + th[13], th[14]
    sx = (b1 * eq + b2 * c * after + b39 * own + b10 * inv + b411 * c * pre - b12 * c * rm1 * after)
    sy = (b2 * (aj * eq + bj * after) + b39 * inv - b10 * own + b411 * (aj * own + bj * pre)
          + b12 * (aj * inv - bj * rm1 * after))
    return sx, sy


@njit(cache=True, nogil=True)
def _readout(th, is_q, inv, rm1, ax, ay, Rk, ak):
    """ŷ's coefficients X_k on x_k and Y_k on y_k (§3)."""
    g1, g2, g3, g4 = th[15], th[16], th[17], th[18]
    X = g1 * is_q + g2 * (inv + rm1 * is_q) + g3 * ax + g4 * (Rk + ak * ay)
    Y = g2 * inv + g3 * ay + g4 * Rk
    return X, Y


@njit(cache=True, nogil=True)
def _mean_loss(rows, N, queries):
    """Mean over ``queries`` (1-based indices) of the canonical sequence's loss, for each row of
    ``rows`` (m × 19, complex128: the complex step rides along). O(N) per row and query.

    Scores: see the module docstring and derivations/paper/README.md §3; e^{α1} and e^{α3} enter
    only through ratios with exponents shifted by max(α, 0), the layer-2 softmax is shifted by its
    largest real score: stable for any θ."""
    m = rows.shape[0]
    out = np.zeros(m, dtype=rows.dtype)
    s = np.empty(2 * N, dtype=rows.dtype)
    a = np.empty(N, dtype=rows.dtype)
    b = np.empty(N, dtype=rows.dtype)
    R = np.empty(N, dtype=rows.dtype)
    for r in range(m):
        th = rows[r]
        inv, rm1, _ = _layer1(th, N, a, b)
        for qi in range(queries.shape[0]):
            q = queries[qi] - 1                                 # 0-based
            top = -np.inf
            for j in range(N):
                c, eq, after, pre, own = _key_geometry(j, q, inv, rm1)
                s[j], s[N + j] = _key_scores(th, c, eq, after, pre, own, inv, rm1, a[j], b[j])
                top = max(top, s[j].real, s[N + j].real)
            total = rows[r, 0] * 0.0
            for k in range(2 * N):
                s[k] = np.exp(s[k] - top)
                total += s[k]
            run = rows[r, 0] * 0.0                              # R_k = Σ_{j>k} (A(x_j) c_j + A(y_j) b_j)
            for j in range(N - 1, -1, -1):
                R[j] = run
                run += (s[j] * _c(j) + s[N + j] * b[j]) / total
            acc = rows[r, 0] * 0.0
            for k in range(N):
                is_q = 1.0 if k == q else 0.0
                X, Y = _readout(th, is_q, inv, rm1, s[k] / total, s[N + k] / total, R[k], a[k])
                acc += X * X + Y * Y - 2.0 * Y * is_q
            out[r] += 0.5 * (acc + 1.0)
        out[r] /= queries.shape[0]
    return out


@njit(cache=True, nogil=True)
def _mean_loss_grad(th, N, queries):
    """𝓛 and ∇𝓛 (all 19 entries) of :func:`_mean_loss` at one real θ by reverse mode: one forward
    and one backward sweep per query, O(N) each (about 3 forward costs instead of 19 complex ones).
    The adjoints follow the forward's statements in reverse (derivations/paper/README.md §3):
    d inv/dα1 = −P·inv, d rm1/dα1 = P(1 − rm1) with P = ρ/Z_q; da_j/dα3 = a_j(1 − a_j),
    db_j/dα3 = −a_j b_j; the softmax shift has no gradient."""
    grad = np.zeros(19)
    b2, b10, b12 = th[4], th[12], th[14]
    g2, g3, g4 = th[16], th[17], th[18]
    b39, b411 = th[5] + th[11], th[6] + th[13]
    a = np.empty(N)
    b = np.empty(N)
    c = np.empty(N)
    inv, rm1, P = _layer1(th, N, a, b)
    for j in range(N):
        c[j] = _c(j)
    A = np.empty(2 * N)
    R = np.empty(N)
    X = np.empty(N)
    Y = np.empty(N)
    dA = np.empty(2 * N)
    da = np.zeros(N)
    db = np.zeros(N)
    nq = queries.shape[0]
    total_loss = 0.0
    d_inv = 0.0
    d_rm1 = 0.0
    for qi in range(nq):
        q = queries[qi] - 1
        w = 1.0 / nq
        top = -np.inf
        for j in range(N):
            cj, eq, after, pre, own = _key_geometry(j, q, inv, rm1)
            A[j], A[N + j] = _key_scores(th, cj, eq, after, pre, own, inv, rm1, a[j], b[j])
            top = max(top, A[j], A[N + j])
        tot = 0.0
        for k in range(2 * N):
            A[k] = np.exp(A[k] - top)
            tot += A[k]
        for k in range(2 * N):
            A[k] /= tot
        run = 0.0
        for j in range(N - 1, -1, -1):
            R[j] = run
            run += A[j] * c[j] + A[N + j] * b[j]
        acc = 0.0
        for k in range(N):
            isq = 1.0 if k == q else 0.0
            X[k], Y[k] = _readout(th, isq, inv, rm1, A[k], A[N + k], R[k], a[k])
            acc += X[k] * X[k] + Y[k] * Y[k] - 2.0 * Y[k] * isq
        total_loss += w * 0.5 * (acc + 1.0)
        # backward: read-out
        sum_dR = 0.0                                    # Σ_{j < i} dR_j while i rises
        for k in range(N):
            isq = 1.0 if k == q else 0.0
            dX = w * X[k]
            dY = w * (Y[k] - isq)
            grad[15] += dX * isq
            grad[16] += dX * (inv + rm1 * isq) + dY * inv
            grad[17] += dX * A[k] + dY * A[N + k]
            grad[18] += dX * (R[k] + a[k] * A[N + k]) + dY * R[k]
            d_inv += g2 * (dX + dY)
            d_rm1 += g2 * dX * isq
            dA[k] = g3 * dX
            dA[N + k] = g3 * dY + g4 * a[k] * dX
            da[k] += g4 * A[N + k] * dX
            # R_k = Σ_{i>k} (A_x[i] c_i + A_y[i] b_i): key i collects the dR of every k < i
            dA[k] += c[k] * sum_dR
            dA[N + k] += b[k] * sum_dR
            db[k] += A[N + k] * sum_dR
            sum_dR += g4 * (dX + dY)
        # softmax
        mean = 0.0
        for k in range(2 * N):
            mean += A[k] * dA[k]
        for j in range(N):
            _, eq, after, pre, own = _key_geometry(j, q, inv, rm1)
            dsx = A[j] * (dA[j] - mean)
            dsy = A[N + j] * (dA[N + j] - mean)
            # item key x_j
            grad[3] += dsx * eq
            grad[4] += dsx * c[j] * after
            d39 = dsx * own
            grad[12] += dsx * inv
            d411 = dsx * c[j] * pre
            grad[14] += -dsx * c[j] * rm1 * after
            d_own = dsx * b39
            d_inv += dsx * b10
            d_pre = dsx * b411 * c[j]
            d_rm1 += -dsx * b12 * c[j] * after
            # label key y_j
            grad[4] += dsy * (a[j] * eq + b[j] * after)
            d39 += dsy * inv
            grad[12] += -dsy * own
            d411 += dsy * (a[j] * own + b[j] * pre)
            grad[14] += dsy * (a[j] * inv - b[j] * rm1 * after)
            da[j] += dsy * (b2 * eq + b411 * own + b12 * inv)
            db[j] += dsy * (b2 * after + b411 * pre - b12 * rm1 * after)
            d_inv += dsy * (b39 + b12 * a[j])
            d_own += dsy * (-b10 + b411 * a[j])
            d_pre += dsy * b411 * b[j]
            d_rm1 += -dsy * b12 * b[j] * after
            grad[5] += d39
            grad[11] += d39
            grad[6] += d411
            grad[13] += d411
            d_inv += d_own + 2.0 * j * d_pre
            d_rm1 += d_own * eq + d_pre * after
    grad[0] = d_inv * (-P * inv) + d_rm1 * P * (1.0 - rm1)
    for j in range(N):
        grad[2] += da[j] * a[j] * (1.0 - a[j]) - db[j] * a[j] * b[j]
    return total_loss, grad


@njit(cache=True, nogil=True)
def _add_term(x, M, s1, s2):
    """Streaming Σ e^{x} and Σ e^{2x} held as e^{M}·s1 and e^{2M}·s2 (M the largest Re x so far)."""
    if x.real > M:
        f = np.exp(M - x.real)
        s1 = s1 * f
        s2 = s2 * f * f
        M = x.real
    e = np.exp(x - M)
    return M, s1 + e, s2 + e * e


@njit(cache=True, nogil=True)
def _uniform3_loss(rows, N):
    """The uniform query's loss when only α3, β2, γ3 are nonzero, in O(N) for all N queries
    (derivations/paper/README.md §6). For query q (0-based) the scores are β2 c_j on items j > q,
    β2 a_q on y_q, β2 b_j on labels j > q and 0 on the other 2q + 1 keys, and the read-out keeps
    γ3 only: loss_q = ½(γ3² Σ_k A_k² − 2γ3 A(y_q) + 1). The sums over j > q are streaming suffix
    sums with their own shift; each query shifts by its largest real score: stable for any θ."""
    m = rows.shape[0]
    out = np.zeros(m, dtype=rows.dtype)
    for r in range(m):
        al3, b2, g3 = rows[r, 2], rows[r, 4], rows[r, 17]
        m3 = max(al3.real, 0.0)
        e3, e0 = np.exp(al3 - m3), np.exp(-m3)
        zero = rows[r, 0] * 0.0
        M, s1, s2 = -np.inf, zero, zero                 # suffix over keys j > q
        total = zero
        for q in range(N - 1, -1, -1):
            den = e3 + 2 * q * e0
            xq = b2 * (e3 / den)
            T = max(0.0, xq.real, M)
            n0 = 2 * q + 1
            ey = np.exp(xq - T)
            fs = np.exp(M - T) if M > -np.inf else 0.0
            Z = n0 * np.exp(-T) + ey + s1 * fs
            sq = (n0 * np.exp(-2 * T) + ey * ey + s2 * fs * fs) / (Z * Z)
            total += 0.5 * (g3 * g3 * sq - 2.0 * g3 * ey / Z + 1.0)
            # keys of index q join the suffix for the queries before it: y_q (b_q), x_q (c_q)
            M, s1, s2 = _add_term(b2 * (e0 / den), M, s1, s2)
            M, s1, s2 = _add_term(b2 / (2.0 * q) if q >= 1 else zero, M, s1, s2)
        out[r] = total / N
    return out


def _queries(N: int, query: str) -> np.ndarray:
    return np.array([N]) if query == "last" else np.arange(1, N + 1)


def _check_uniform_size(N: int, query: str) -> None:
    """Refuse the O(N²) uniform-query evaluation above :data:`UNIFORM_N_MAX`."""
    if query == "uniform" and N > UNIFORM_N_MAX:
        raise ValueError(f"N must be at most {UNIFORM_N_MAX} with query='uniform' when parameters other than "
                         f"alpha3, beta2, gamma3 are nonzero (O(N²) per evaluation), got {N}")


def loss_any(rows, N: int, query: str):
    """𝓛 at each row of ``rows`` (m × 19; no validation): complex128, shape (m,). The uniform query
    with only α3, β2, γ3 nonzero takes the O(N) path; otherwise it is O(N²) and refused above
    :data:`UNIFORM_N_MAX`."""
    rows = np.ascontiguousarray(np.atleast_2d(rows), dtype=np.complex128)
    if query == "uniform" and not np.any(rows[:, OTHERS]):
        with _compile.first_call("the paper uniform-query kernel"):
            return _uniform3_loss(rows, int(N))
    _check_uniform_size(N, query)
    with _compile.first_call("the paper loss kernel"):
        return _mean_loss(rows, int(N), _queries(N, query))


def loss(theta, N: int, query: str = "last") -> float:
    """Exact population loss 𝓛(θ) (SPEC-paper §2; ½ E‖ŷ − y_q‖², 𝓛(0) = ½)."""
    return float(loss_any(check_vector("theta", theta, 19), N, query)[0].real)




_ALL = np.arange(19)


@lru_cache(maxsize=64)
def _head_only(idx_bytes: bytes) -> bool:
    """Whether the wanted indices (as bytes of an int64 array) all lie in the head (cached: the
    solver asks with the same indices at every right-hand side)."""
    return bool(np.all(np.isin(np.frombuffer(idx_bytes, dtype=np.int64), HEAD_INDEX)))


def loss_and_grad(theta, N: int, query: str = "last", free=None):
    """(𝓛, ∇_θ𝓛). ``free``: the indices whose entries are wanted (the others are returned as 0).

    Query last with only α3, β2, γ3 wanted and the other 16 at zero: the generated closed form
    (O(1)). Uniform query with only the head: the complex step on the O(N) head kernel. Otherwise
    reverse mode (:func:`_mean_loss_grad`), O(N) per query, equal to the complex step of
    :func:`_mean_loss` to rounding (tested)."""
    theta = check_vector("theta", theta, 19)
    idx = _ALL if free is None else np.asarray(free)
    grad = np.zeros(19)
    if query == "last" and _head_only(idx.tobytes()) and not theta[OTHERS].any():
        from . import _kernels
        val, jac = np.zeros(1), np.zeros((1, 3))
        _kernels.last3_jac(np.ascontiguousarray(theta[HEAD_INDEX]), float(N), val, jac)
        grad[HEAD_INDEX] = jac[0]
        keep = np.zeros(19, dtype=bool)
        keep[idx] = True
        return float(val[0]), np.where(keep, grad, 0.0)
    if query == "uniform" and _head_only(idx.tobytes()) and not theta[OTHERS].any():
        # the head alone, uniform query: complex step on the O(N) kernel (3 rows)
        rows = np.empty((len(idx), 19), dtype=np.complex128)
        rows[:] = theta
        rows[np.arange(len(idx)), idx] += 1j * COMPLEX_STEP
        values = loss_any(rows, N, query)
        grad[idx] = values.imag / COMPLEX_STEP
        return float(values[0].real), grad
    _check_uniform_size(N, query)
    with _compile.first_call("the paper gradient kernel"):
        value, full = _mean_loss_grad(theta, int(N), _queries(N, query))
    grad[idx] = full[idx]
    return float(value), grad
