"""The large-N limit of the 3-parameter θ-flow (derivations/asymptotics.md §3–§5).

Rescale time and the head's parameters by N: τ = t/N², G = γ3/N, B = β2/N. Then σ(α3) → 1
(α3 is a fast variable: its gradient carries a factor N² in τ) and, for every fixed (G, B),
the loss of the query at position x = i/N converges to ln N + λ(x; G, B) with

    λ(x; G, B) = ln( x·e^{G/d − P} + ∫_x^1 exp(P(e^{B/y − B/x} − 1)) dy ),     P = G e^{B/x}/d,
    d(x) = 2x + ∫_x^1 (e^{B/y} + e^{B/(2y)}) dy,

the continuum form of SPEC §4 (the keys before x score 0, the label y_j ≥ x scores B/y, the
item x_j > x scores B/(2y); P is the logit of the correct label). The population loss is
𝓛 = ln N + Λ(G, B) + o(1) with Λ = ∫_0^1 λ dx, and the flow becomes dG/dτ = −∂Λ/∂G,
dB/dτ = −∂Λ/∂B, with no N left in it. For large G and B, λ → ln(x⁴/(G B²)), so
Λ → −ln(G B²) − 4, G² ~ 2τ, B² ~ 4τ, and the deficit ln N − 𝓛 grows only as
(3/2) ln τ + ``DEFICIT_CONSTANT``.

At finite N a query's loss cannot fall below 0; ``loss_model(G, B, N)`` caps each query softly,
∫ ln(1 + N e^{λ}) dx − ln N. :func:`query_losses` is the exact finite-N per-query loss (SPEC §4
restricted to α3, β2, γ3), the ground truth these limits are checked against.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import expit, logsumexp

from ..._validate import check_int, check_positive

#: ln N − 𝓛 = (3/2) ln τ + DEFICIT_CONSTANT + o(1) along the N = ∞ flow: ln(4√2) + 4.
DEFICIT_CONSTANT = float(np.log(4 * np.sqrt(2)) + 4)
#: T(N) ~ K_EMERGENCE · N^(7/3) as N → ∞, K = (e^{−4}/(4√2))^{2/3}: the solution of
#: (3/2) ln τ + DEFICIT_CONSTANT = ½ ln N.
K_EMERGENCE = float(np.exp(-2 * DEFICIT_CONSTANT / 3))

_GL_X, _GL_W = np.polynomial.legendre.leggauss(12)
#: largest N for the dense O(N²) per-query loss
QUERY_LOSSES_N_MAX = 4096


def query_losses(alpha3: float, beta2: float, gamma3: float, N: int, L: int | None = None) -> np.ndarray:
    """Exact loss of each query i = 1…N (SPEC §4 with only α3, β2, γ3 non-zero, K = N), by
    dense log-sum-exps over keys and labels. Their mean is the population loss 𝓛."""
    N = check_int("N", N, 2, QUERY_LOSSES_N_MAX)
    L = N + 1 if L is None else check_int("L", L, N)
    s = expit(alpha3)
    i = np.arange(1, N + 1)[:, None]
    j = np.arange(1, N + 1)[None, :]
    # layer-2 scores of the item keys x_j, label keys y_j and the query key (cF = β2)
    sx = beta2 * (np.where(j > i, 1.0 / (2 * j - 1), 0.0) + np.where(j == i, 1.0 / (2 * i - 1), 0.0))
    sy = beta2 * np.where(j >= i, s / j, 0.0)
    sq = np.full((N, 1), beta2 * 2.0 / (2 * N + 1))
    log_d = logsumexp(np.concatenate([sx, sy, sq], axis=1), axis=1)
    ell = gamma3 * np.exp(sy - log_d[:, None])            # logits of the context labels
    counts = np.concatenate([np.ones((N, N)), np.full((N, 1), float(L - N))], axis=1)
    lse = logsumexp(np.concatenate([ell, np.zeros((N, 1))], axis=1), axis=1, b=counts)
    return lse - np.diag(ell)


def _panels(V, first, n=48):
    """Gauss–Legendre nodes and weights on [0, V], panels growing geometrically from ``first``."""
    edges = np.concatenate(([0.0], np.geomspace(min(first, V / 2), V, n)))
    a, b = edges[:-1, None], edges[1:, None]
    return (0.5 * (b - a) * _GL_X + 0.5 * (a + b)).ravel(), (0.5 * (b - a) * _GL_W).ravel()


def deficit_density(x: float, G: float, B: float) -> float:
    """λ(x; G, B) = lim_{N→∞} (loss of the query at x = i/N) − ln N, at γ3 = N·G, β2 = N·B and
    σ(α3) = 1. Integrals in v = B(1/x − 1/y) on geometric panels (relative accuracy ~1e-10)."""
    V = B * (1 / x - 1)
    m = B / x
    v, w = _panels(V, 1e-6)
    y = 1 / (1 / x - v / B)
    jac = w * y * y / B                                       # dy = y² dv / B
    d_scaled = 2 * x * np.exp(-m) + np.sum(jac * (np.exp(-v) + np.exp(B / (2 * y) - m)))   # d·e^{−m}
    P = G / d_scaled
    v2, w2 = _panels(V, 1e-4 / max(P, 1.0))
    y2 = 1 / (1 / x - v2 / B)
    S = x * np.exp(P * np.exp(-m) - P) + np.sum(w2 * y2 * y2 / B * np.exp(P * np.expm1(-v2)))
    return float(np.log(S))


def _x_nodes(n):
    u, w = np.polynomial.legendre.leggauss(n)
    u, w = 0.5 * (u + 1), 0.5 * w
    return u * u, 2 * u * w                                    # x = u²: resolves ln x at 0


def loss_model(G: float, B: float, N: float | None = None, n_x: int = 48) -> float:
    """𝓛 − ln N of the 3-parameter system in the large-N limit: Λ(G, B) = ∫ λ dx for
    ``N=None``; with N, each query capped softly at zero loss, ∫ ln(1 + N e^{λ}) dx − ln N."""
    G, B = check_positive("G", G), check_positive("B", B)
    x, w = _x_nodes(check_int("n_x", n_x, 4))
    lam = np.array([deficit_density(xi, G, B) for xi in x])
    if N is None:
        return float(np.sum(w * lam))
    logN = np.log(check_positive("N", N))
    return float(np.sum(w * np.logaddexp(0.0, logN + lam)) - logN)


def model_gradient(G, B, N=None, h=1e-5):
    """(∂/∂G, ∂/∂B) of :func:`loss_model` by central differences (relative step ``h``)."""
    return np.array([(loss_model(G * (1 + h), B, N) - loss_model(G * (1 - h), B, N)) / (2 * h * G),
                     (loss_model(G, B * (1 + h), N) - loss_model(G, B * (1 - h), N)) / (2 * h * B)])


def limit_flow(G0: float, B0: float, tau0: float, tau1: float, N: float | None = None, rtol: float = 1e-6,
               stop_at_half_log_N: bool = False):
    """Integrate dG/dτ = −∂𝓛/∂G, dB/dτ = −∂𝓛/∂B of :func:`loss_model` from (G0, B0) at τ0.
    With ``stop_at_half_log_N`` (needs N), stop where the model's loss reaches ½ ln N and
    return its τ as ``sol.tau_emergence`` (NaN if not reached by τ1). Returns SciPy's
    solution with dense output."""
    if stop_at_half_log_N and N is None:
        raise ValueError("N is required with stop_at_half_log_N")

    def half_log_N(t, y):
        return loss_model(y[0], y[1], N) + 0.5 * np.log(N)
    half_log_N.terminal = True
    event = half_log_N if stop_at_half_log_N else None
    sol = solve_ivp(lambda t, y: -model_gradient(y[0], y[1], N), (tau0, tau1), [G0, B0], rtol=rtol,
                    atol=1e-9, dense_output=True, events=event)
    sol.tau_emergence = float(sol.t_events[0][0]) if event is not None and sol.t_events[0].size else float("nan")
    return sol
