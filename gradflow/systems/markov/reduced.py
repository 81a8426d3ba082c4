"""The reduced loss on the live parameters, exact for a :class:`~.population.Population`.

Per head h the layer-1 output at a position depends only on its pattern (:mod:`.population`):
u_h(p) = v/(‖v‖ + 1e−7), v = Σ_j softmax(band[h, :m])_j e_{t_j}. The selector's inner products are
then a table G_h = U_h U_hᵀ over patterns (40 × 40 at S = 3, H = 3), and a query–key score is
s = Σ_R (c_R²/Z) Π_{h ∈ R} G_h[q_h, k_h]. One compiled kernel visits every query–key pair of the
population once for the loss and its gradient with respect to a, the shares c_R²/Z and the tables
G_h; NumPy chains the tables back to the band (a few hundred numbers). The result equals the
full-tensor reference (:mod:`.reference`) on the same sequences up to rounding.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from ... import _compile
from .params import Layout
from .population import Population, pattern_tokens
from .reference import NORM_EPS, check_loss

LOSS_CODES = {"ce_softmax": 0, "nll": 1}


@lru_cache(maxsize=None)
def _pattern_structure(S: int, H: int):
    """Per pattern id: its admissible count m (P,) and the one-hot of its tokens T (P, H, S)."""
    pats = pattern_tokens(S, H)
    m = np.array([mm for mm, _ in pats])
    T = np.zeros((len(pats), H, S))
    for i, (mm, toks) in enumerate(pats):
        for j, t in enumerate(toks):
            T[i, j, t] = 1.0
    return m, T


def _band_softmaxes(band_h: np.ndarray) -> np.ndarray:
    """(H + 1, H): row m is softmax(band_h[:m]) padded with 0 (row 0: all 0)."""
    H = band_h.shape[0]
    out = np.zeros((H + 1, H))
    for m in range(1, H + 1):
        e = np.exp(band_h[:m] - band_h[:m].max())
        out[m, :m] = e / e.sum()
    return out


def pattern_features(band: np.ndarray, S: int):
    """(U (H, P, S), cache) — u_h of every pattern for the band's logits."""
    H = band.shape[0]
    m, T = _pattern_structure(S, H)
    sig = np.array([_band_softmaxes(band[h]) for h in range(H)])          # (H, H + 1, H)
    V = np.einsum("hpj,pjs->hps", sig[:, m, :], T)
    nrm = np.linalg.norm(V, axis=-1, keepdims=True)
    U = V / (nrm + NORM_EPS)
    return U, (m, T, sig, V, nrm)


def features_backward(g_U: np.ndarray, cache, H: int) -> np.ndarray:
    """∂/∂band from ∂/∂U (the chain through the norm and the softmax)."""
    m, T, sig, V, nrm = cache
    d = nrm + NORM_EPS
    safe = np.where(nrm > 0, nrm, 1.0)
    g_V = g_U / d - np.sum(g_U * V, axis=-1, keepdims=True) * V / (safe * d ** 2) * (nrm > 0)
    g_sig_p = np.einsum("hps,pjs->hpj", g_V, T)                             # (H, P, H)
    g_band = np.zeros((H, H))
    for mm in range(1, H + 1):
        g_sig = g_sig_p[:, m == mm, :mm].sum(axis=1)                        # (H, mm)
        s = sig[:, mm, :mm]
        g_band[:, :mm] += s * (g_sig - np.sum(s * g_sig, axis=1, keepdims=True))
    return g_band


@njit(cache=True, nogil=True)
def _pairs(G, c2n, subsets, a, kstart, ktok, kpat, kw, qgroup, qpat, rho, loss_code, eps, want_grad,
           g_G, g_c2n):
    """Loss of the population and (if ``want_grad``) its gradient: returns (loss, ∂/∂a) and adds
    ∂/∂G into ``g_G`` and ∂/∂(c_R²/Z) into ``g_c2n``."""
    Q = qpat.shape[0]
    S = rho.shape[1]
    nR = c2n.shape[0]
    D = subsets.shape[1]
    total = 0.0
    g_a = 0.0
    kmax = 0
    for g in range(kstart.shape[0] - 1):
        kmax = max(kmax, kstart[g + 1] - kstart[g])
    s = np.empty(kmax)
    e = np.empty(kmax)
    f = np.empty((kmax, nR))
    y = np.empty(S)
    g_y = np.empty(S)
    for q in range(Q):
        g = qgroup[q]
        k0 = kstart[g]
        nk = kstart[g + 1] - k0
        top = -np.inf
        for l in range(nk):
            acc = 0.0
            for r in range(nR):
                prod = 1.0
                for dd in range(D):
                    h = subsets[r, dd]
                    if h >= 0:
                        prod *= G[h, qpat[q, h], kpat[k0 + l, h]]
                f[l, r] = prod
                acc += c2n[r] * prod
            s[l] = acc
            if a * acc > top:
                top = a * acc
        tot = 0.0
        for x in range(S):
            y[x] = 0.0
        for l in range(nk):
            e[l] = kw[k0 + l] * np.exp(a * s[l] - top)
            tot += e[l]
            y[ktok[k0 + l]] += e[l]
        for x in range(S):
            y[x] /= tot
        # loss over the targets, weighted by rho[q]
        mass = 0.0
        for x in range(S):
            mass += rho[q, x]
        if loss_code == 1:
            for x in range(S):
                if rho[q, x] != 0.0:
                    total -= rho[q, x] * np.log(y[x] + eps)
                g_y[x] = -rho[q, x] / (y[x] + eps)
        else:
            ymax = y[0]
            for x in range(S):
                ymax = max(ymax, y[x])
            z = 0.0
            for x in range(S):
                z += np.exp(y[x] - ymax)
            lse = ymax + np.log(z)
            for x in range(S):
                total += rho[q, x] * (lse - y[x])
                g_y[x] = mass * np.exp(y[x] - lse) - rho[q, x]
        if not want_grad:
            continue
        mean = 0.0
        for x in range(S):
            mean += y[x] * g_y[x]
        for l in range(nk):
            p = e[l] / tot
            g_z = p * (g_y[ktok[k0 + l]] - mean)
            g_a += g_z * s[l]
            g_s = a * g_z
            if g_s == 0.0:
                continue
            for r in range(nR):
                g_c2n[r] += g_s * f[l, r]
                w = g_s * c2n[r]
                for dd in range(D):
                    h = subsets[r, dd]
                    if h < 0:
                        continue
                    others = 1.0
                    for d2 in range(D):
                        h2 = subsets[r, d2]
                        if d2 != dd and h2 >= 0:
                            others *= G[h2, qpat[q, h2], kpat[k0 + l, h2]]
                    g_G[h, qpat[q, h], kpat[k0 + l, h]] += w * others
    return total, g_a


#: the queries are split into this many chunks, always (so the sums, and the result, are the same
#: whatever the thread count); the chunks run on the thread pool when a population is large enough
CHUNKS = 2
#: query–key pairs from which the chunks run on 2 threads (below, thread start-up costs more)
THREADS_MIN_PAIRS = 100_000


def _run_pairs(G, c2n, layout: Layout, a: float, pop: Population, loss_code: int, eps: float, grad: bool):
    """The pair kernel over the population in :data:`CHUNKS` fixed chunks of queries, summed in
    chunk order: (loss, ∂/∂a, ∂/∂G, ∂/∂(c_R²/Z))."""
    from ... import _threads
    bounds = np.linspace(0, len(pop.qgroup), CHUNKS + 1).astype(np.int64)
    outs = [[None, None, np.zeros_like(G), np.zeros(layout.n_c)] for _ in range(CHUNKS)]

    def chunk(k):
        lo, hi = bounds[k], bounds[k + 1]
        outs[k][0], outs[k][1] = _pairs(G, c2n, layout.subset_table, a, pop.kstart, pop.ktok, pop.kpat,
                                        pop.kw, pop.qgroup[lo:hi], pop.qpat[lo:hi], pop.rho[lo:hi],
                                        loss_code, eps, grad, outs[k][2], outs[k][3])
    with _compile.first_call("the markov pair kernel"):
        if _threads.count() > 1 and pop.size >= THREADS_MIN_PAIRS:
            _threads.run([(chunk, (k,)) for k in range(CHUNKS)])
        else:
            for k in range(CHUNKS):
                chunk(k)
    value = sum(o[0] for o in outs)
    g_a = sum(o[1] for o in outs)
    g_G = outs[0][2]
    g_c2n = outs[0][3]
    for o in outs[1:]:
        g_G += o[2]
        g_c2n += o[3]
    return value, g_a, g_G, g_c2n


def _pair_sweep(theta, layout: Layout, pop: Population, loss: str, eps: float, grad: bool):
    """Validate, build the tables and run the pair kernel: (value, ∂/∂a, ∂/∂G, ∂/∂(c_R²/Z), U,
    feature cache, c, Z)."""
    loss, eps = check_loss(loss, eps)
    band, c, a = layout.unpack(theta)
    if pop.H != layout.H:
        raise ValueError(f"population built for H = {pop.H}, layout has H = {layout.H}")
    U, cache = pattern_features(band, pop.S)
    G = np.einsum("hps,hqs->hpq", U, U)
    Z = float(np.sum(c ** 2))
    if not Z > 0:
        raise ValueError("the selector coefficients c must not all be 0 (the normaliser Σ c_R² vanishes)")
    value, g_a, g_G, g_c2n = _run_pairs(G, c ** 2 / Z, layout, a, pop, LOSS_CODES[loss], eps, grad)
    return value, g_a, g_G, g_c2n, U, cache, c, Z


def evaluate(theta, layout: Layout, pop: Population, loss: str = "ce_softmax", eps: float = 1e-2,
             grad: bool = True, rates: bool = False):
    """The population loss at live θ and (with ``grad``) its gradient in θ order. With ``rates``
    the selector entries hold r_R = (∂𝓛/∂c_R)/c_R = (2/Z)(∂𝓛/∂ρ_R − Σ_S ρ_S ∂𝓛/∂ρ_S) instead,
    which does not involve c_R (ρ_R = c_R²/Z): right for a c_R of any size, 0 included."""
    value, g_a, g_G, g_c2n, U, cache, c, Z = _pair_sweep(theta, layout, pop, loss, eps, grad)
    c2n = c ** 2 / Z
    if not grad:
        return float(value)
    r_c = 2 / Z * (g_c2n - np.dot(c2n, g_c2n))
    g_c = r_c if rates else c * r_c
    g_U = np.einsum("hpq,hqs->hps", g_G + np.transpose(g_G, (0, 2, 1)), U)
    g_band = features_backward(g_U, cache, layout.H)
    return float(value), layout.pack(g_band, g_c, g_a)


def shares_gradient(theta, layout: Layout, pop: Population, loss: str = "ce_softmax", eps: float = 1e-2):
    """∂𝓛/∂ρ_R with the shares ρ_R = c_R²/Z treated as free (the selector's fitness is
    −(this)/a: :mod:`.stage1`)."""
    return _pair_sweep(theta, layout, pop, loss, eps, True)[3]
