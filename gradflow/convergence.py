"""Gradient descent is the flow's Euler scheme: the measures every system's ``check`` reports.

Given θ_GD at step sizes η, η/2, η/4 … and the solved flow θ_ODE at the same times:

* ``errors[k]`` = max |θ_GD(η/2^k) − θ_ODE|: first order, so consecutive ratios lie near 2
  (accepted: :data:`RATE_RANGE`);
* Richardson extrapolation 2θ_GD(η/2) − θ_GD(η) removes the first-order term: second order leaves
  ratios near 4 (:data:`EXTRAPOLATED_RATE_RANGE`). A flow that differs from GD's η → 0 limit by ε
  stalls this error at ε, so a flow error is seen down to the extrapolated error (6e-5 for tokens
  at N = 4, η = 1/4), about 200× below the finest plain GD error.
"""

from __future__ import annotations

import numpy as np

#: accepted range of err(η)/err(η/2): first-order (linear) convergence
RATE_RANGE = (1.6, 2.4)
#: accepted range of the same ratio after Richardson extrapolation: second order
EXTRAPOLATED_RATE_RANGE = (3.0, 5.0)


class EulerConvergence:
    """Mixin for a report with ``theta_gd`` (one array per step size, halving) and ``theta_ode``."""

    theta_gd: list
    theta_ode: np.ndarray

    @property
    def errors(self) -> list:
        return [float(np.max(np.abs(th - self.theta_ode))) for th in self.theta_gd]

    @property
    def rates(self) -> list:
        e = self.errors
        return [a / b for a, b in zip(e, e[1:])]

    @property
    def extrapolated_errors(self) -> list:
        """max |2θ_GD(η/2) − θ_GD(η) − θ_ODE| for each pair of consecutive steps."""
        return [float(np.max(np.abs(2 * b - a - self.theta_ode))) for a, b in zip(self.theta_gd, self.theta_gd[1:])]

    @property
    def extrapolated_rates(self) -> list:
        e = self.extrapolated_errors
        return [a / b for a, b in zip(e, e[1:])]

    @property
    def converges(self) -> bool:
        """Both rate windows hold."""
        lo, hi = RATE_RANGE
        elo, ehi = EXTRAPOLATED_RATE_RANGE
        return all(lo <= r <= hi for r in self.rates) and all(elo <= r <= ehi for r in self.extrapolated_rates)

    def convergence_lines(self) -> list:
        lines = []
        for k, e in enumerate(self.extrapolated_errors):
            rate = f"   ratio {self.extrapolated_rates[k]:.3f}" if k < len(self.extrapolated_rates) else ""
            lines.append(f"  extrapolated 2*GD(eta/{2 ** (k + 1)}) - GD(eta/{2 ** k}): max error {e:.3e}{rate}")
        return lines

    @staticmethod
    def criteria_text() -> str:
        return (f"error ratios in {list(RATE_RANGE)} (first order in eta), extrapolated ratios in "
                f"{list(EXTRAPOLATED_RATE_RANGE)} (second order)")
