"""Sign descent, regularised: the limit of Adam at small learning rate with fixed β's."""

from __future__ import annotations

import numpy as np

from .base import Optimizer


class Sign(Optimizer):
    """dθ/dt = −h/(|h| + ε): sign descent −sign(h) with its discontinuity at h = 0 smoothed over
    |h| ≲ ε. It is Adam's flow as η → 0 at fixed β's (m̂ → h, v̂ → h²) with the same ε, so the
    regularisation is Adam's own. Where h crosses 0 the exact (Filippov) flow slides along
    h = 0; the regularised one stays within |h| = O(ε) of it, and the times it gives converge
    to the exact ones as ε → 0 (measured in benchmarks/optimizers/laws.py). 𝓛 never rises:
    d𝓛/dt = −Σ h²/(|h| + ε) · (metric weight) ≤ 0."""

    name = "sign"
    hyper = {"eps": (1e-8, "positive", "ε, the width of the regularised sign (units of h)")}
    elementwise = True
    monotone = True
    limit = "Adam at fixed β's as η → 0 (t = η × steps): sign descent, regularised over |h| ≲ ε"

    def rhs(self, t, h, state):
        return -h / (np.abs(h) + self.eps), np.zeros(0)

    def partials(self, t, h, state):
        n = len(h)
        return np.diag(-self.eps / (np.abs(h) + self.eps) ** 2), np.zeros((n, 0)), np.zeros((0, n)), np.zeros((0, 0))

    def discrete(self, eta):
        return _SignSteps(eta, self.eps)


class _SignSteps:
    def __init__(self, eta, eps):
        self.eta, self.eps = eta, eps

    def step(self, W, g):
        return [w - self.eta * gi / (np.abs(gi) + self.eps) for w, gi in zip(W, g)]
