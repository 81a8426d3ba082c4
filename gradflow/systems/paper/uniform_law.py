"""The uniform query's law beyond leading order: the O(1) offset of ln N, derived
(derivations/paper/README.md §6).

With the query index uniform over 1 … N and only α3, β2, γ3 nonzero, γ3 settles at 1 in time O(N)
and then, in s = t ln N / N², with L = ln N and σ = e^{α3},

    dβ2/ds = σ/4 + B_β(β2, σ)/(2L),        dα3/ds = β2 (σ/4 + B_α(β2, σ)/(2L)),

    B_β = −(σ/2) ψ(σ/2) + Σ_{q≥1} a_q (e^{β2 a_q} − 1) − ½,
    B_α = −(σ/2) ψ(σ/2) + Σ_{q≥1} [a_q (1 − a_q) e^{β2 a_q} − a_q],      a_q = σ/(σ + 2q − 2),

up to relative errors O(ln N / N): Σ_q a_q = (σ/2)(ψ(N + σ/2) − ψ(σ/2)) gives L and the digamma term,
the early queries' scores β2 a_q = O(1) give the convergent sums, and the keys after each query give
the −½. At L → ∞ this is the last query's τ-flow (leading constants C of §4). :func:`finite_L_times`
solves this *L-flow*; :func:`offsets` expands it to first order in 1/L, T = C N²/(L + d) with
d = −s1/s0 (s0 = C, s1 the first-order time, from the variational equations along the leading path
α3 = β2²/2).

Numerics: the sums run to :data:`Q_TERMS` with their tails replaced by the leading term
(β2 σ²/(4Q) and (β2 − 1)σ²/(4Q)); the neglected part is below σ³(1 + β2²)/Q² ≈ 1e-10 for the
σ ≤ e² met here. The ODEs are solved with rtol 1e-10.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import digamma

from ..._validate import check_positive

#: terms of the sums over queries before the tail estimate
Q_TERMS = 200_000
_q = np.arange(1, Q_TERMS + 1, dtype=float)


def corrections(beta: float, sigma: float) -> tuple[float, float]:
    """(B_β, B_α) at β2 = beta, σ = e^{α3} = sigma (module docstring)."""
    a = sigma / (sigma + 2 * _q - 2)
    psi = -(sigma / 2) * digamma(sigma / 2)
    g_beta = np.sum(a * np.expm1(beta * a)) + beta * sigma ** 2 / (4 * Q_TERMS)
    g_alpha = np.sum(a * (1 - a) * np.exp(beta * a) - a) + (beta - 1) * sigma ** 2 / (4 * Q_TERMS)
    return float(psi + g_beta - 0.5), float(psi + g_alpha)


def finite_L_times(L: float, level: float = 0.5) -> dict:
    """s at which β2 and α3 reach ``level`` in the L-flow: T ≈ s·N²/ln N with L = ln N."""
    L, level = check_positive("L", L), check_positive("level", level)

    def rhs(_, y):
        beta, alpha = y
        sigma = np.exp(alpha)
        b_beta, b_alpha = corrections(beta, sigma)
        return [sigma / 4 + b_beta / (2 * L), beta * (sigma / 4 + b_alpha / (2 * L))]

    def reach(k):
        event = lambda _, y: y[k] - level          # noqa: E731
        event.terminal = k == 1
        return event

    sol = solve_ivp(rhs, (0.0, 50.0), [0.0, 0.0], events=[reach(0), reach(1)], rtol=1e-10, atol=1e-12)
    return {"beta2": float(sol.t_events[0][0]), "alpha3": float(sol.t_events[1][0])}


def offsets(level: float = 0.5) -> dict:
    """{name: (C, d)}: T = C N²/(ln N + d) + o(N²/ln² N) for β2 and α3 reaching ``level``.

    Along the leading path (β = β2, α = β²/2 + α1/L, f = e^{β²/2}/4, g = B_β/2, h = B_α/2):
    dα1/dβ = β(h − g)/f, ds0/dβ = 1/f, ds1/dβ = −(α1 + g/f)/f. β2 reaches the level at β = level;
    α3 at β_c = √(2·level), shifted by −α1/(β_c L), which moves s by −α1/(β_c f)/L."""
    level = check_positive("level", level)

    def rhs(beta, y):
        f = np.exp(beta ** 2 / 2) / 4
        b_beta, b_alpha = corrections(beta, 4 * f)
        g, h = b_beta / 2, b_alpha / 2
        return [beta * (h - g) / f, 1 / f, -(y[0] + g / f) / f]

    bc = np.sqrt(2 * level)
    ends = sorted({level, bc})
    sol = solve_ivp(rhs, (0.0, ends[-1]), [0.0, 0.0, 0.0], t_eval=ends, rtol=1e-10, atol=1e-12)
    at = {b: sol.y[:, k] for k, b in enumerate(sol.t)}
    a1, s0, s1 = at[level]
    out = {"beta2": (float(s0), float(-s1 / s0))}
    a1, s0, s1 = at[bc]
    s1 -= a1 / (bc * np.exp(bc ** 2 / 2) / 4)
    out["alpha3"] = (float(s0), float(-s1 / s0))
    return out
