"""Stage I in closed form: the selector's flow is a replicator dynamic whose fitness is, in the
limit the paper considers, the modified χ² mutual information Ĩ(R) (derivations/markov/stage1.md).

With shares ρ_R = c_R²/Z, Z = Σ_{R∌0} c_R², the score s = Σ_R ρ_R f_R is invariant under c → λc, so
Z is conserved by the flow, and exactly

    dρ_R/dt = (4a/Z) ρ_R (g_R − ḡ),   g_R = E[Σ_l φ_l f_R(l)],   ḡ = Σ_R ρ_R g_R,

with φ_l = −∂ℓ/∂(a s_l) the loss's pull on key l (Σ_l φ_l = 0). At a → 0 the attention is uniform
and g_R → g_R⁰, which no longer depends on c: the shares follow the replicator law

    ρ_R(t) = ρ_R(0) e^{κ g_R⁰ t} / Σ_R' ρ_R'(0) e^{κ g_R'⁰ t},   κ = 4a/Z,

to first order in a·max|s|. For the nll loss (ε → 0), L → ∞ and a copier that copies exactly
(f_R(q, w) = [q_R = w_R]), g_R⁰ = Ĩ(R), the criterion of SPEC-markov §3.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .reduced import shares_gradient


def fitness(theta, system, a: float | None = None, population=None) -> np.ndarray:
    """g_R (θ order of the live subsets) at θ, with a replaced by ``a`` if given (a small ``a``
    gives g⁰ to O(a)), on the system's population or on ``population``. From the exact identity
    ∂𝓛/∂ρ_R = −a g_R."""
    theta = np.array(theta, dtype=np.float64)
    if a is not None:
        theta[-1] = a
    pop = system.population if population is None else population
    return -shares_gradient(theta, system.layout, pop, system.loss_name, system.eps) / theta[-1]


def replicator_shares(rho0, g0, kappa: float, t) -> np.ndarray:
    """ρ(t) of the replicator law (rows: times)."""
    t = np.atleast_1d(np.asarray(t, dtype=float))
    logits = np.log(rho0)[None, :] + kappa * t[:, None] * np.asarray(g0)[None, :]
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def predicted_time(theta0, system, level: float = 0.5, a_probe: float = 1e-7) -> dict:
    """Stage-I law at the start θ0: κ = 4a0/Z0, g⁰ (at a → 0), the winner and the time its share
    reaches ``level``."""
    lay = system.layout
    c, a0 = lay.unpack(theta0)[1], float(theta0[-1])
    Z = float(np.sum(c ** 2))
    rho0 = c ** 2 / Z
    g0 = fitness(theta0, system, a=a_probe)
    kappa = 4 * a0 / Z
    win = int(np.argmax(g0))
    if rho0[win] >= level:
        t_level = 0.0
    else:
        f = lambda t: replicator_shares(rho0, g0, kappa, t)[0, win] - level
        hi = 1.0
        while f(hi) < 0:
            hi *= 2
            if hi > 1e12:
                return {"kappa": kappa, "g0": g0, "winner": lay.subsets[win], "t": float("inf")}
        t_level = brentq(f, 0.0, hi, xtol=1e-12 * hi, rtol=1e-12)
    return {"kappa": kappa, "g0": g0, "winner": lay.subsets[win], "t": float(t_level)}
