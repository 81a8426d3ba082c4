"""The head's loss of the family's cross-entropy members summed over the query's pair, in closed
form: the uniform query (O(N²)) and the self mask with either query (rotated labels, burst 1;
:mod:`.setting`). The strict mask's query-last head is the generated ``last3ce_*`` instead.

The query asks for the item of pair q (uniform over 1 … N, or q = N with the query last). With
only α3, β2, γ3 non-zero a key's layer-2 score is β2 times x_q's weight in its layer-1 output:

* the 2q − 2 keys before pair q (x_j, y_j for j < q) score 0;
* x_q scores 0 (strict mask) or β2/(2q − 1) (self mask: it is one of its own 2q − 1 keys);
* y_q scores β2 a_q, a_q = e^{α3}/(e^{α3} + 2q − 2 + s), s = 1 with the self mask (y_q's own
  score is ⟨M p, M M p⟩ = 0), else 0;
* after q, x_j scores β2/(2j − 2 + s) and y_j scores β2 b_j, b_j = 1/(e^{α3} + 2j − 2 + s);
* self mask only: the query is a key with x_q's content, scoring 2β2/(2N + 1) (x_q twice among
  the 2N + 1 contents of its layer-1 mean).

The read-out's logit of a content is γ3 times the softmax weight its keys carry (A_k = e_k/Z_q);
every key is a distinct content except the query's own key, which shares x_q's. So

    𝓛 = mean_q [log Σ_contents e^{γ3 A_c} − γ3 A_{y_q}],   𝓛(0) = ln 2N.

Z_q takes a suffix sum over j > q, but the log-sum-exp over the keys after q depends on Z_q inside
every exponent, so each q costs O(N): O(N²) in all with the uniform query (a loss and gradient
took 22 ms at N = 1024 and 0.12 s at N = 2048, with another job on the machine), O(N) with the
query last. The
exponents are shifted by max(β2, 0) (the softmax does not depend on it) and the log-sum-exp by
max(γ3, 0) (every logit lies in [min(γ3, 0), max(γ3, 0)]). The gradient is the complex-step
derivative (three evaluations with θ_k + i·1e-30): exact to rounding, since the loss is analytic in
θ and the shifts depend on Re θ only. Tested against the generated query-last kernel
(``last3ce_*``: the strict mask's q = N term) and the full-weight generic flow
(tests/paper/test_family.py).
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: the complex step (far below rounding of any θ of order 1)
STEP = 1e-30


@nb.njit(cache=True)
def _per_query(a3, b2, g3, N, selfmask, q_first):
    """[𝓛_q for q = q_first … N] (complex θ allowed)."""
    top = max(b2.real, 0.0)
    shift = max(g3.real, 0.0)
    own = 1.0 if selfmask else 0.0
    ea = np.exp(a3)
    ex = np.zeros(N + 2, dtype=np.complex128)            # e(x_j), e(y_j) after the query's pair
    ey = np.zeros(N + 2, dtype=np.complex128)
    for j in range(2, N + 1):
        ex[j] = np.exp(b2 / (2.0 * j - 2.0 + own) - top)
        ey[j] = np.exp(b2 / (ea + 2.0 * j - 2.0 + own) - top)
    suffix = np.zeros(N + 2, dtype=np.complex128)        # Σ_{j > q} (e(x_j) + e(y_j))
    for q in range(N - 1, 0, -1):
        suffix[q] = suffix[q + 1] + ex[q + 1] + ey[q + 1]
    zero = np.exp(-top)                                  # a key of score 0
    e_query = np.exp(2.0 * b2 / (2.0 * N + 1.0) - top) if selfmask else 0.0   # the query's own key
    out = np.zeros(N - q_first + 1, dtype=np.complex128)
    for q in range(q_first, N + 1):
        e_target = np.exp(b2 * ea / (ea + 2.0 * q - 2.0 + own) - top)
        e_item = np.exp(b2 / (2.0 * q - 1.0) - top) if selfmask else zero
        Z = (2.0 * q - 2.0) * zero + e_item + e_target + suffix[q] + e_query
        g = g3 / Z
        s = ((2.0 * q - 2.0) * np.exp(g * zero - shift) + np.exp(g * (e_item + e_query) - shift)
             + np.exp(g * e_target - shift))
        for j in range(q + 1, N + 1):
            s += np.exp(g * ex[j] - shift) + np.exp(g * ey[j] - shift)
        out[q - q_first] = shift + np.log(s) - g * e_target
    return out


def _mean(theta3, N: int, query: str, mask: str):
    return np.mean(_per_query(theta3[0], theta3[1], theta3[2], N, mask == "self", N if query == "last" else 1))


def loss(theta3, N: int, query: str = "uniform", mask: str = "strict") -> float:
    """𝓛(α3, β2, γ3)."""
    return float(_mean(np.asarray(theta3, dtype=complex), N, query, mask).real)


def loss_and_grad(theta3, N: int, query: str = "uniform", mask: str = "strict"):
    """(𝓛, ∂𝓛/∂(α3, β2, γ3)) by the complex step."""
    theta3 = np.asarray(theta3, dtype=float)
    grad = np.empty(3)
    value = 0.0
    for k in range(3):
        z = theta3.astype(complex)
        z[k] += 1j * STEP
        per = _mean(z, N, query, mask)
        value = per.real
        grad[k] = per.imag / STEP
    return float(value), grad
