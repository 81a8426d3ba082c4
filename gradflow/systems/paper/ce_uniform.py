"""The head's loss of the family's cross-entropy member with the uniform query in closed form,
O(N²) (strict mask, rotated labels, burst 1; :mod:`.setting`).

The query asks for the item of pair q, uniform over 1 … N. With only α3, β2, γ3 non-zero a key's
layer-2 score is β2 times x_q's weight in its layer-1 output:

* the 2q − 1 keys up to x_q (x_j, y_j for j < q, and x_q itself) score 0;
* y_q scores β2 a_q, a_q = e^{α3}/(e^{α3} + 2q − 2) (its item is x_q);
* after q, x_j scores β2/(2j − 2) (x_q among its 2j − 2 uniform keys) and y_j scores β2 b_j,
  b_j = 1/(e^{α3} + 2j − 2).

Every key is a distinct content, so the read-out's logit of content k is γ3 A_k with A_k = e_k/Z_q
its softmax weight, and

    𝓛 = mean_q [log Σ_k e^{γ3 A_k} − γ3 A_{y_q}],   𝓛(0) = ln 2N.

Z_q takes a suffix sum over j > q, but the log-sum-exp over the keys after q depends on Z_q inside
every exponent, so each q costs O(N): O(N²) in all (a loss and gradient took 22 ms at N = 1024
and 0.12 s at N = 2048, with another job on the machine). The
exponents are shifted by max(β2, 0) (the softmax does not depend on it) and the log-sum-exp by
max(γ3, 0) (every logit lies in [min(γ3, 0), max(γ3, 0)]). The gradient is the complex-step
derivative (three evaluations with θ_k + i·1e-30): exact to rounding, since the loss is analytic in
θ and the shifts depend on Re θ only. Tested against the generated query-last kernel
(``last3ce_*``: the q = N term) and the full-weight generic flow (tests/paper/test_family.py).
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: the complex step (far below rounding of any θ of order 1)
STEP = 1e-30


@nb.njit(cache=True)
def _per_query(a3, b2, g3, N):
    """[𝓛_q for q = 1 … N] (complex θ allowed)."""
    top = max(b2.real, 0.0)
    shift = max(g3.real, 0.0)
    ea = np.exp(a3)
    ex = np.zeros(N + 2, dtype=np.complex128)            # e(x_j), e(y_j) for j = 1 … N (index j)
    ey = np.zeros(N + 2, dtype=np.complex128)
    for j in range(2, N + 1):
        ex[j] = np.exp(b2 / (2.0 * j - 2.0) - top)
        ey[j] = np.exp(b2 / (ea + 2.0 * j - 2.0) - top)
    suffix = np.zeros(N + 2, dtype=np.complex128)        # Σ_{j > q} (e(x_j) + e(y_j))
    for q in range(N - 1, 0, -1):
        suffix[q] = suffix[q + 1] + ex[q + 1] + ey[q + 1]
    zero = np.exp(-top)                                  # a key of score 0
    out = np.zeros(N, dtype=np.complex128)
    for q in range(1, N + 1):
        e_target = np.exp(b2 * ea / (ea + 2.0 * q - 2.0) - top)
        Z = (2.0 * q - 1.0) * zero + e_target + suffix[q]
        g = g3 / Z
        s = (2.0 * q - 1.0) * np.exp(g * zero - shift) + np.exp(g * e_target - shift)
        for j in range(q + 1, N + 1):
            s += np.exp(g * ex[j] - shift) + np.exp(g * ey[j] - shift)
        out[q - 1] = shift + np.log(s) - g * e_target
    return out


def loss(theta3, N: int) -> float:
    """𝓛(α3, β2, γ3)."""
    a3, b2, g3 = (complex(t) for t in theta3)
    return float(np.mean(_per_query(a3, b2, g3, N)).real)


def loss_and_grad(theta3, N: int):
    """(𝓛, ∂𝓛/∂(α3, β2, γ3)) by the complex step."""
    theta3 = np.asarray(theta3, dtype=float)
    grad = np.empty(3)
    value = 0.0
    for k in range(3):
        z = theta3.astype(complex)
        z[k] += 1j * STEP
        per = np.mean(_per_query(z[0], z[1], z[2], N))
        value = per.real
        grad[k] = per.imag / STEP
    return float(value), grad
