"""Gradient descent: the flow every system already has (the default; its numbers are unchanged)."""

from __future__ import annotations

import numpy as np

from .base import Optimizer


class GD(Optimizer):
    """θ_{k+1} = θ_k − η h_k; with t = η × steps its limit η → 0 is dθ/dt = −h."""

    name = "gd"
    monotone = True
    limit = "gradient descent as its learning rate η → 0 (t = η × steps): dθ/dt = −h"

    def rhs(self, t, h, state):
        return -h, np.zeros(0)

    def discrete(self, eta):
        return _GDSteps(eta)


class _GDSteps:
    def __init__(self, eta):
        self.eta = eta

    def step(self, W, g):
        return [w - self.eta * gi for w, gi in zip(W, g)]
