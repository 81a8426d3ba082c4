"""A test reference: the head's loss of the family's ``burst=2`` member by suffix sums over its one
free placement, O(N) (query last, strict mask, rotated labels, squared error). It was gradflow's
closed form for B = 2 before :mod:`gradflow.systems.paper.burst` covered every B; an algorithm
independent of that one (no quadrature, no recursion over occurrences), it checks it at large N.

The query's item also sits at pair P, uniform over 1 … N − 1 (1-based). With only α3, β2, γ3 non-zero
the layer-2 scores (β2 times x_q's weight in a key's layer-1 output) are

* y_N: β2 (a_N + b_N) (its own item and the earlier x_P), y_P: β2 a_P,
* x_j for j > P: β2/(2j − 2) (x_P among its 2j − 2 uniform keys), y_j for P < j < N: β2 b_j,
* every other key (x_j for j ≤ P, y_j for j < P: 2P − 1 of them): 0,

with a_j = e^{α3}/(e^{α3} + 2j − 2), b_j = 1/(e^{α3} + 2j − 2). The read-out γ3 Σ_k A_k c_k sums the
softmax weights A_k by content: y_q (y_P and y_N), x_q (x_P and x_N), and 2N − 4 distinct others, so

    𝓛_P = ½ [(γ3 (A_yP + A_yN) − 1)² + γ3² (A_xP + A_xN)² + γ3² Σ_others A_k²],   𝓛 = mean_P 𝓛_P.

Each P needs sums over the keys after it: suffix sums give every P at once, O(N) in all. The
exponents are shifted by the largest score (a real constant: the loss does not depend on it). The
gradient is the complex-step derivative (three evaluations with θ_k + i·1e-30): exact to rounding,
since the loss is analytic in θ (no absolute values or maxima inside it). tests/paper/test_family.py
checked it against the generic reference-backed flow, which enumerates the N − 1 placements on the
full model.
"""

from __future__ import annotations

import numpy as np

#: the complex step (far below rounding of any θ of order 1)
STEP = 1e-30


def loss(theta3, N: int):
    """𝓛(α3, β2, γ3) of the burst = 2 member, query last (``theta3`` may be complex)."""
    a3, b2, g3 = theta3
    j = np.arange(1, N + 1, dtype=float)
    den = np.exp(a3) + 2 * j - 2
    a, b = np.exp(a3) / den, 1.0 / den
    s_x = np.zeros(N, dtype=np.result_type(a3, b2, float))
    s_x[1:] = b2 / (2 * j[1:] - 2)                      # x_j's score when x_P is before it (j > P)
    s_y = b2 * b                                        # y_j's score for P < j < N
    s_yP = b2 * a                                       # y_P's score, at its own P
    s_yN = b2 * (a[-1] + b[-1])
    top = max(float(np.real(b2)), 0.0)                  # every score lies in [min(β2, 0), max(β2, 0)]
    ex, ey, eyP, eyN = np.exp(s_x - top), np.exp(s_y - top), np.exp(s_yP - top), np.exp(s_yN - top)
    zero = np.exp(-top)
    P = np.arange(1, N)                                 # the other occurrence, 1 … N − 1
    # suffix sums over j > P: x_j for j = P+1 … N (x_N included), y_j for j = P+1 … N−1
    cx = np.concatenate([np.cumsum(ex[::-1])[::-1], [0.0]])          # cx[i] = Σ_{j ≥ i+1} ex (0-based i)
    cx2 = np.concatenate([np.cumsum((ex ** 2)[::-1])[::-1], [0.0]])
    ey_mid, ey_mid2 = ey.copy(), ey ** 2
    ey_mid[-1] = ey_mid2[-1] = 0.0                      # y_N is counted apart
    cy = np.concatenate([np.cumsum(ey_mid[::-1])[::-1], [0.0]])
    cy2 = np.concatenate([np.cumsum(ey_mid2[::-1])[::-1], [0.0]])
    after_x, after_x2 = cx[P], cx2[P]                   # j > P (0-based index P is pair P + 1)
    after_y, after_y2 = cy[P], cy2[P]
    Z = eyP[P - 1] + eyN + after_x + after_y + (2 * P - 1) * zero
    A_target = (eyP[P - 1] + eyN) / Z
    A_item = (zero + ex[-1]) / Z                        # x_P (score 0) and x_N
    others2 = (after_x2 - ex[-1] ** 2 + after_y2 + (2 * P - 2) * zero ** 2) / Z ** 2
    per = 0.5 * ((g3 * A_target - 1) ** 2 + g3 ** 2 * A_item ** 2 + g3 ** 2 * others2)
    return per.mean()


def loss_and_grad(theta3, N: int):
    """(𝓛, ∂𝓛/∂(α3, β2, γ3)); the gradient by the complex step."""
    theta3 = np.asarray(theta3, dtype=float)
    value = float(loss(theta3, N))
    grad = np.empty(3)
    for k in range(3):
        z = theta3.astype(complex)
        z[k] += 1j * STEP
        grad[k] = np.imag(loss(z, N)) / STEP
    return value, grad
