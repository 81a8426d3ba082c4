"""Exact ends and interpolatory quadrature of the smooth middle: the paper system's key sums at large N.

The loss of the query-last sequence is a sum over the keys j = 1 … N of closed forms in j (Z = Σ ζ_j,
σ_k read at the suffix sums F_k = Σ_{j>k} f_j; derivations/paper/loss.md). Away from j = 1 (where
c_j = 1/(2j − 2) has its pole) and j = N (the query's own pair, eq = 1) every summand is analytic in
j: its poles lie at Re j ≤ 1 (c_j at 1; a_j, b_j at 1 − e^{α3}/2; the scores are linear in them).
So the middle is summed on panels:

* keys 1 … :data:`EXACT` and the key N are nodes of weight 1 (exact);
* the keys in between are cut into panels [a, b] with b ≤ :data:`RATIO`·a; each panel has
  :data:`NODES` nodes, the integers nearest the Chebyshev points of [a, b]. A summand g is replaced
  on the panel by its interpolant p on the nodes: Σ_{j=a}^{b} g(j) ≈ Σ_l w_l g(x_l) with
  w_l = Σ_{j=a}^{b} ℓ_l(j) (ℓ_l the Lagrange basis), and the suffix sum inside the panel at node i,
  Σ_{j=x_i+1}^{b} f(j) ≈ Σ_l S_il f(x_l) with S_il = Σ_{j=x_i+1}^{b} ℓ_l(j). Both are summed once
  per N over the panel's integers (pairwise summation), so the rule is exact for polynomials of
  degree < NODES.

Error bound (Trefethen, *Approximation Theory and Approximation Practice*, Thms 8.2 and 15.1):
if g is analytic in the Bernstein ellipse E_ρ of [a, b] with |g| ≤ M there, the interpolant on
nodes with Lebesgue constant Λ is within (1 + Λ)·2Mρ^{1−n}/(ρ − 1) of g on [a, b] (n nodes), so the
panel's sum is within (b − a + 1) times that. With the poles at Re j ≤ 1 and a ≥ EXACT + 1,
b ≤ 1.5a, the ellipse with ρ = 5 reaches left to 1.25a − 2.6·0.25a = 0.6a, at distance ≥ 0.6a − 1
from every pole: there |c_j|, |a_j|, |b_j| are at most 1/(0.6·1.2) ≈ 1.4 times their largest value
on the panel, so M ≤ 1.4·max|g| for the rational parts, times e^{0.4|s|} for the exponentials of
scores s (|s| ≤ the β's, of order 10 along the paper's trajectories). :func:`bound` evaluates the
relative bound (1 + Λ)·2·K·ρ^{1−n}/(ρ − 1) with the measured Λ of every panel and the growth K
passed in: with n = 24, ρ = 5 and K = 10 it is about 2e-15 — at rounding. The measured error of
the loss and gradient against the exact sums is in tests/paper/test_quadrature.py and
benchmarks/results/paper/quadrature.md.

The rule is built once per N (O(N·NODES) work, cached) and an evaluation then costs
O(EXACT + NODES·panels) instead of O(N): about 2400 keys at N = 2²⁰ instead of 10⁶.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: keys 1 … EXACT are summed exactly (the panels need width for distinct integer nodes)
EXACT = 2048
#: nodes per panel
NODES = 24
#: a panel [a, b] has b ≤ RATIO·a
RATIO = 1.5
#: integers per block when the Lagrange basis is summed over a panel (bounds the memory: 12 MiB)
CHUNK = 1 << 16
#: largest N the rule is built for: building costs O(N·NODES) (about 2 s at N = 2²³, 9 s at 2²⁵);
#: at 2²⁶ the emergence's transient at t ≈ 2·10¹⁵ needs steps below float64's resolution of t there
N_MAX = 1 << 25
#: Bernstein-ellipse parameter of the stated bound (see the module docstring)
RHO = 5.0


@dataclass(frozen=True)
class Rule:
    """The key sums' rule for N keys: ``nodes`` (ascending integers), ``weights``, ``pstart`` (panel
    p holds the nodes pstart[p] … pstart[p + 1] − 1), ``S`` (row i: the in-panel suffix weights of
    node i against its panel's nodes), ``bounds`` (the keys a … b each panel sums) and ``lebesgue``
    (Λ of each interpolating panel)."""
    N: int
    nodes: np.ndarray
    weights: np.ndarray
    pstart: np.ndarray
    S: np.ndarray
    bounds: np.ndarray
    lebesgue: np.ndarray

    @property
    def size(self) -> int:
        return len(self.nodes)


def _panels(N: int, exact: int, ratio: float, n: int):
    """[(a, b)] covering exact + 1 … N − 1, each with b ≤ ratio·a and at least 40·n integers
    (the remainder joins the last panel)."""
    out, a = [], exact + 1
    while a <= N - 1:
        b = min(N - 1, int(np.floor(a * ratio)))
        if N - 1 - b < 40 * n:
            b = N - 1
        out.append((a, b))
        a = b + 1
    return out


def _panel(a: int, b: int, n: int):
    """(nodes, w, S, Λ) of one panel. The Lagrange basis is evaluated in the barycentric form on the
    panel's integers segment by segment ([a, x_0], (x_0, x_1], …, (x_{n−1}, b]), each segment summed
    pairwise; w and S are sums of segment sums (a few terms)."""
    k = np.arange(n)
    x = np.unique(np.rint(0.5 * (a + b) + 0.5 * (b - a) * np.cos((2 * k + 1) * np.pi / (2 * n))).astype(np.int64))
    if len(x) != n:
        raise AssertionError(f"panel [{a}, {b}] is too narrow for {n} distinct integer nodes")
    t = (x - 0.5 * (a + b)) / (0.5 * (b - a))              # nodes mapped to [−1, 1]
    lam = np.array([1.0 / np.prod(t[i] - np.delete(t, i)) for i in range(n)])
    lam /= np.abs(lam).max()
    edges = np.concatenate([[a - 1], x, [b]])
    seg = np.zeros((n + 1, n))
    lebesgue = 0.0
    for s_ in range(n + 1):
        for lo in range(edges[s_] + 1, edges[s_ + 1] + 1, CHUNK):
            j = np.arange(lo, min(lo + CHUNK, edges[s_ + 1] + 1))
            u = (j - 0.5 * (a + b)) / (0.5 * (b - a))
            with np.errstate(divide="ignore", invalid="ignore"):
                C = lam[None, :] / (u[:, None] - t[None, :])
                ell = C / C.sum(axis=1, keepdims=True)
            if s_ < n and j[-1] == x[s_]:                    # the segment ends at node s_: its row is e_s
                ell[-1] = np.eye(n)[s_]
            seg[s_] += ell.sum(axis=0)
            lebesgue = max(lebesgue, float(np.abs(ell).sum(axis=1).max()))
    w = seg.sum(axis=0)
    S = np.array([seg[i + 1:].sum(axis=0) for i in range(n)])
    return x, w, S, lebesgue


@lru_cache(maxsize=8)
def rule(N: int, exact: int = EXACT, nodes: int = NODES, ratio: float = RATIO) -> Rule:
    """The rule for N keys (query last: the special keys are 1 and N). With N ≤ exact + 40·nodes
    every key is its own node of weight 1 (the exact sums)."""
    if N <= exact + 40 * nodes:
        exact = N - 1
    panels = _panels(N, exact, ratio, nodes)
    bounds = [(j, j) for j in range(1, exact + 1)] + panels + [(N, N)]
    groups = [(np.array([j]), np.ones(1), np.zeros((1, 1)), None) for j in range(1, exact + 1)]
    groups += [_panel(a, b, nodes) for a, b in panels]
    groups.append((np.array([N]), np.ones(1), np.zeros((1, 1)), None))
    width = max(len(g[0]) for g in groups)
    sizes = np.array([len(g[0]) for g in groups])
    S = np.zeros((int(sizes.sum()), width))
    row = 0
    for x, _, s, _ in groups:
        S[row:row + len(x), :len(x)] = s
        row += len(x)
    return Rule(N, np.concatenate([g[0] for g in groups]).astype(np.int64), np.concatenate([g[1] for g in groups]),
                np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64), S, np.array(bounds, dtype=np.int64),
                np.array([g[3] for g in groups if g[3] is not None]))


def bound(r: Rule, growth: float = 10.0, rho: float = RHO) -> float:
    """The stated relative error bound of a panel's sum, max over panels of
    (1 + Λ)·2·growth·ρ^{1−n}/(ρ − 1) (module docstring; ``growth`` = M / max|g| on the panel).
    0 when every key is summed exactly."""
    if not len(r.lebesgue):
        return 0.0
    n = int(np.max(np.diff(r.pstart)))
    return float((1 + r.lebesgue.max()) * 2 * growth * rho ** (1 - n) / (rho - 1))
