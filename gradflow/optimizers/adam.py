"""Adam (PyTorch ``Adam``, bias-corrected) as a flow with its two moments."""

from __future__ import annotations

import numpy as np

from .base import Optimizer


class Adam(Optimizer):
    """m_k = β1 m_{k−1} + (1 − β1) h, v_k = β2 v_{k−1} + (1 − β2) h², θ_k = θ_{k−1} − η m̂/(√v̂ + ε),
    m̂ = m_k/(1 − β1^k), v̂ = v_k/(1 − β2^k). With t = η × steps and the rates λ_i = (1 − β_i)/η
    held fixed as η → 0 the steps converge (first order in η) to

        dm/dt = λ1 (h − m),   dv/dt = λ2 (h² − v),   m(0) = v(0) = 0,
        dθ/dt = −m̂/(√v̂ + ε),  m̂ = m/(1 − e^{−λ1 t}),  v̂ = v/(1 − e^{−λ2 t})

    (β^k = (1 − λη)^{t/η} → e^{−λt}); at t = 0 the corrected moments are their limits h and h².
    At fixed β's and η → 0 (λ → ∞) it becomes sign descent (:mod:`.sign`)."""

    name = "adam"
    hyper = {"lr": (1e-3, "positive", "learning rate η (sets the moments' rates (1 − β)/η)"),
             "beta1": (0.9, "unit", "β1, the first moment's decay per step"),
             "beta2": (0.999, "unit", "β2, the second moment's decay per step"),
             "eps": (1e-8, "positive", "ε, added to √v̂ (in the units of the update gradient h)")}
    state = ("m", "v")
    elementwise = True
    limit = ("Adam at fixed rates (1 − β_i)/η as η → 0 (t = η × steps); sign descent at fixed β's "
             "as η → 0")

    def initial_state(self, h0):
        return np.zeros(2 * len(h0))

    def state_scale(self, h0):
        """m matters relative to ε (the step −m̂/(√v̂ + ε) moves by δm/ε at most) and v relative to
        ε² (√ near 0): scales ε and ε², so the state keeps its accuracy however small h gets."""
        n = len(h0)
        return np.concatenate([np.full(n, self.eps), np.full(n, self.eps ** 2)])

    def rhs(self, t, h, state):
        n = len(h)
        m, v = state[:n], state[n:]
        l1, l2 = (1.0 - self.beta1) / self.lr, (1.0 - self.beta2) / self.lr
        if t > 0:
            mh, vh = m / -np.expm1(-l1 * t), v / -np.expm1(-l2 * t)
        else:
            mh, vh = h, h * h
        step = -mh / (np.sqrt(np.maximum(vh, 0.0)) + self.eps)
        return step, np.concatenate([l1 * (h - m), l2 * (h * h - v)])

    def partials(self, t, h, state):
        """The blocks of the flow's Jacobian; ∂step/∂v is taken with √v̂ floored at ε (it is
        infinite at v̂ = 0, where the step does not depend on v to first order): a Newton
        matrix, not a value, so only the convergence of an implicit step depends on it."""
        n = len(h)
        m, v = state[:n], state[n:]
        l1, l2 = (1.0 - self.beta1) / self.lr, (1.0 - self.beta2) / self.lr
        if t > 0:
            c1, c2 = -np.expm1(-l1 * t), -np.expm1(-l2 * t)
            mh, vh = m / c1, v / c2
            root = np.sqrt(np.maximum(vh, 0.0))
            den = root + self.eps
            d_h = np.zeros(n)
            d_m = -1.0 / (c1 * den)
            d_v = mh / den ** 2 / (2.0 * np.maximum(root, self.eps) * c2)
        else:
            d_h, d_m, d_v = -self.eps / (np.abs(h) + self.eps) ** 2, np.zeros(n), np.zeros(n)
        step_state = np.hstack([np.diag(d_m), np.diag(d_v)])
        state_h = np.vstack([l1 * np.eye(n), np.diag(2.0 * l2 * h)])
        state_state = np.diag(np.concatenate([np.full(n, -l1), np.full(n, -l2)]))
        return np.diag(d_h), step_state, state_h, state_state

    def discrete(self, eta):
        """PyTorch's Adam at step η with β_i(η) = 1 − (1 − β_i) η/lr (the flow's rates)."""
        return _AdamSteps(eta, 1.0 - (1.0 - self.beta1) * eta / self.lr, 1.0 - (1.0 - self.beta2) * eta / self.lr,
                          self.eps)


class _AdamSteps:
    def __init__(self, eta, beta1, beta2, eps):
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"eta must keep the betas 1 - (1 - beta) eta/lr in [0, 1), got {beta1}, {beta2}")
        self.eta, self.b1, self.b2, self.eps = eta, beta1, beta2, eps
        self.k, self.m, self.v = 0, None, None

    def step(self, W, g):
        if self.m is None:
            self.m = [np.zeros_like(gi) for gi in g]
            self.v = [np.zeros_like(gi) for gi in g]
        self.k += 1
        self.m = [self.b1 * m + (1 - self.b1) * gi for m, gi in zip(self.m, g)]
        self.v = [self.b2 * v + (1 - self.b2) * gi * gi for v, gi in zip(self.v, g)]
        c1, c2 = 1 - self.b1 ** self.k, 1 - self.b2 ** self.k
        return [w - self.eta * (m / c1) / (np.sqrt(v / c2) + self.eps) for w, m, v in zip(W, self.m, self.v)]
