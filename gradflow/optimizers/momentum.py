"""Heavy-ball momentum (PyTorch ``SGD(momentum=μ, dampening=0)``) as a flow with its velocity."""

from __future__ import annotations

import numpy as np

from .base import Optimizer


class Momentum(Optimizer):
    """b_{k+1} = μ b_k + h_k (b_1 = h_0), θ_{k+1} = θ_k − η b_{k+1}. With t = η × steps and the
    relaxation rate λ = (1 − μ)/η held fixed as η → 0 the steps converge (first order in η) to

        dθ/dt = −b,   db/dt = (h − (1 − μ) b)/η,   b(0) = h(0),

    the flow integrated here, for the given η and μ. At fixed μ and η → 0 it becomes gradient
    flow with time multiplied by 1/(1 − μ) (b → h/(1 − μ))."""

    name = "momentum"
    hyper = {"lr": (1e-2, "positive", "learning rate η (sets the velocity's relaxation rate (1 − μ)/η)"),
             "momentum": (0.9, "unit", "μ, the velocity's decay per step")}
    state = ("b",)
    limit = ("heavy ball at fixed relaxation rate (1 − μ)/η as η → 0 (t = η × steps); at fixed μ, "
             "gradient flow with time × 1/(1 − μ)")

    def initial_state(self, h0):
        return np.array(h0, dtype=np.float64, copy=True)

    def state_scale(self, h0):
        """b lives at the gradient's scale: max |h(θ0)| (1 when the start is stationary)."""
        top = float(np.max(np.abs(h0))) if len(h0) else 0.0
        return np.full(len(h0), top if top > 0 else 1.0)

    def rhs(self, t, h, state):
        b = state
        return -b, (h - (1.0 - self.momentum) * b) / self.lr

    def partials(self, t, h, state):
        n = len(h)
        eye = np.eye(n)
        return np.zeros((n, n)), -eye, eye / self.lr, -(1.0 - self.momentum) / self.lr * eye

    def discrete(self, eta):
        """The rule at step δ = ``eta`` as a scheme for the flow: b ← b + (δ/lr)(h − (1 − μ) b)
        (b = h on the first step), θ ← θ − δ b. At δ = lr it is PyTorch's SGD with momentum μ
        (buffer μ b + h, step lr b); at other δ it is PyTorch's with momentum 1 − (1 − μ)δ/lr,
        learning rate δ²/lr and the buffer started at (lr/δ) h, which converges to the flow at first
        order in δ (the buffer's own scale is h/(1 − μ) × lr/δ, so the flow's velocity b needs the
        factor δ/lr)."""
        return _MomentumSteps(eta / self.lr, self.momentum, eta)


class _MomentumSteps:
    def __init__(self, ratio, mu, eta):
        if not (1.0 - mu) * ratio <= 1:
            raise ValueError(f"eta must be at most lr/(1 - momentum), got a relaxation of {(1.0 - mu) * ratio:g} per step")
        self.ratio, self.mu, self.eta, self.b = ratio, mu, eta, None

    def step(self, W, g):
        if self.b is None:
            self.b = [gi.copy() for gi in g]
        else:
            self.b = [b + self.ratio * (gi - (1.0 - self.mu) * b) for b, gi in zip(self.b, g)]
        return [w - self.eta * b for w, b in zip(W, self.b)]
