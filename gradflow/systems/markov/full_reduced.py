"""The full model's loss on the invariant space, exact for a population, at the cost of the
simplified model's (:mod:`.reduced`).

In the full model a head's layer-1 output at a position depends on the position's own token (its
content score and its self-attention) and on the tokens at the head's band offsets: an *extended
pattern* = (own token, or none for the output position) × pattern (:mod:`.population`), S + 1
times as many ids. The features U_h of every extended pattern come from a small forward pass
(:func:`features`), the relu'd tables max(U_h U_hᵀ, 0) go through the simplified model's compiled
pair kernel unchanged, and :func:`features_backward` carries the tables' gradient back to the band,
Q, K, O, γ and β. Equal to the full-tensor reference (:mod:`.full`) on the same sequences up to
rounding (tests/markov/test_full.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .full import (MATRICES, SELF_LOGIT, FullLayout, FullWeights, content_gradients, layer_norm,
                   layer_norm_backward)
from .population import Population, n_patterns, pattern_tokens
from .reduced import LOSS_CODES, _run_pairs
from .reference import _row_softmax, _row_softmax_backward, check_loss


def extend(pop: Population) -> Population:
    """The population's key and query pattern ids extended by the own token (keys: their token;
    the query, the output position: none, id S)."""
    P = n_patterns(pop.S, pop.H)
    return dataclasses.replace(pop, kpat=pop.kpat + pop.ktok[:, None] * P,
                               qpat=pop.qpat + pop.S * P, label=pop.label)


def _structure(S: int, H: int):
    """Per extended pattern: the own token one-hot Xo (E, S) and the keys Xk (E, H+1, S) (self
    first, then band offsets j = 0 … H−1) with their admissibility (E, H+1)."""
    pats = pattern_tokens(S, H)
    E = (S + 1) * len(pats)
    Xo = np.zeros((E, S))
    Xk = np.zeros((E, H + 1, S))
    ok = np.zeros((E, H + 1), dtype=bool)
    for own in range(S + 1):
        for i, (m, toks) in enumerate(pats):
            e = own * len(pats) + i
            ok[e, 0] = True
            if own < S:
                Xo[e, own] = 1.0
                Xk[e, 0, own] = 1.0
            for j, t in enumerate(toks):
                Xk[e, j + 1, t] = 1.0
                ok[e, j + 1] = True
    return Xo, Xk, ok


def features(w: FullWeights, S: int, H: int):
    """U (H, E, S): each head's LayerNorm output for every extended pattern, and the cache."""
    Xo, Xk, ok = _structure(S, H)
    out, cache = [], []
    for h in range(H):
        pos = np.concatenate([[SELF_LOGIT], w.band[h]])
        logits = np.einsum("es,st,ekt->ek", Xo, w.Q[h] @ w.K[h].T, Xk) + pos
        p = _row_softmax(np.where(ok, logits, -np.inf))
        mix = np.einsum("ek,eks->es", p, Xk)
        nhat, sd = layer_norm(mix @ w.O[h])
        out.append(w.gamma * nhat + w.beta)
        cache.append((p, mix, nhat, sd))
    return np.array(out), (Xo, Xk, cache)


def features_backward(g_U: np.ndarray, w: FullWeights, cache):
    """Gradients of band, Q, K, O, γ, β from ∂/∂U (H, E, S)."""
    Xo, Xk, per_head = cache
    H = g_U.shape[0]
    g = {"band": np.zeros_like(w.band), "Q": np.zeros_like(w.Q), "K": np.zeros_like(w.K),
         "O": np.zeros_like(w.O), "gamma": np.zeros_like(w.gamma), "beta": np.zeros_like(w.beta)}
    for h in range(H):
        p, mix, nhat, sd = per_head[h]
        gV = g_U[h]
        g["gamma"] += np.sum(gV * nhat, axis=0)
        g["beta"] += gV.sum(axis=0)
        gZ = layer_norm_backward(gV * w.gamma, nhat, sd)
        g["O"][h] = mix.T @ gZ
        g_logits = _row_softmax_backward(p, np.einsum("es,eks->ek", gZ @ w.O[h].T, Xk))
        g["band"][h] = g_logits[:, 1:].sum(axis=0)
        g["Q"][h], g["K"][h] = content_gradients(np.einsum("es,ek,ekt->st", Xo, g_logits, Xk), w, h)
    return g


def evaluate(theta, layout: FullLayout, pop: Population, loss: str = "ce_softmax", eps: float = 1e-2,
             grad: bool = True, rates: bool = False):
    """The loss of the extended population ``pop`` (:func:`extend`) at θ and (with ``grad``) its
    gradient in θ order; with ``rates`` the selector entries hold (∂𝓛/∂c_R)/c_R."""
    loss, eps = check_loss(loss, eps)
    w = layout.weights(theta)
    S, H = layout.S, layout.H
    U, cache = features(w, S, H)
    G = np.einsum("hps,hqs->hpq", U, U)
    Gr = np.maximum(G, 0.0)                       # the authors' relu on every inner product
    simple = layout.simple
    c = np.array([w.c[R] for R in simple.subsets])
    Z = float(np.sum(c ** 2))
    if not Z > 0:
        raise ValueError("the selector coefficients c must not all be 0 (the normaliser Σ c_R² vanishes)")
    c2n = c ** 2 / Z
    value, g_a, g_G, g_c2n = _run_pairs(np.ascontiguousarray(Gr), c2n, simple, w.a, pop, LOSS_CODES[loss], eps,
                                        grad)
    if not grad:
        return float(value)
    g_G *= G > 0
    r_c = 2 / Z * (g_c2n - np.dot(c2n, g_c2n))
    g_U = np.einsum("hpq,hqs->hps", g_G + np.transpose(g_G, (0, 2, 1)), U)
    gw = features_backward(g_U, w, cache)
    g = FullWeights(gw["band"], gw["Q"], gw["K"], gw["O"], gw["gamma"], gw["beta"],
                    {R: 0.0 for R in w.c}, g_a)
    out = layout.pull_back(g)
    out[simple.c_slice] = r_c if rates else c * r_c
    return float(value), out


__all__ = ["extend", "features", "features_backward", "evaluate", "MATRICES"]
