"""Full-tensor NumPy reference of the simplified model (SPEC-markov §2): the ground truth for the
reduced evaluation and the flow.

Everything the authors' model holds is held here: per head the full (L+1) × (L+1) layer-1 logit
matrix (−∞ off the band), every selector coefficient c_R over the subsets of components 0 … H
with |R| ≤ D (those with 0 ∈ R included), and a. The forward pass follows the authors' code
(gszfwsb/Unveiling-Induction-Heads, RPE/model.py, ``SimplifiedTwoLayerTransformer``) except for two
guards we leave out: their products are computed as exp(Σ log(x + 1e−24)), ours exactly (a
relative difference ≤ 1e−24 / x), and their relu is kept (it is the identity here: every inner
product of non-negative vectors is ≥ 0). The backward pass is hand-written and checked against
finite differences (tests/markov/test_reference.py).

Losses on the output y (a probability vector over the S symbols), target t:
* ``"nll"``: −log(y_t + ε), our reading of the paper's cross-entropy (ε > 0: the target can be
  absent from a finite context);
* ``"ce_softmax"``: −log softmax(y)_t, what the authors' code trains (``nn.CrossEntropyLoss`` on y).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..._validate import check_choice, check_positive
from .params import Layout

LOSSES = ("ce_softmax", "nll")
#: u = v / (‖v‖ + NORM_EPS), as in the authors' SimplifiedLayerNorm
NORM_EPS = 1e-7


def check_loss(loss: str, eps: float) -> tuple:
    loss = check_choice("loss", loss, LOSSES)
    return loss, check_positive("eps", eps)


def all_subsets(H: int, D: int) -> tuple:
    """Every subset of components 0..H with |R| ≤ D (the authors' full coefficient list)."""
    return tuple(R for d in range(D + 1) for R in itertools.combinations(range(H + 1), d))


@dataclass
class Weights:
    """All the model's weights: ``band`` (H, H) layer-1 logits, ``c`` {R: c_R} over
    :func:`all_subsets`, ``a``."""
    band: np.ndarray
    c: dict
    a: float

    def step(self, g: "Weights", eta: float) -> "Weights":
        """One gradient-descent step: these weights minus ``eta`` times the gradient ``g``."""
        return Weights(self.band - eta * g.band, {R: v - eta * g.c[R] for R, v in self.c.items()},
                       self.a - eta * g.a)

    @classmethod
    def from_theta(cls, layout: Layout, theta, c_dead: float = 0.01) -> "Weights":
        """Weights of the live θ; the coefficients with 0 ∈ R (which never move) set to ``c_dead``."""
        band, c, a = layout.unpack(theta)
        coef = {R: float(c_dead) for R in all_subsets(layout.H, layout.D)}
        coef.update({R: float(v) for R, v in zip(layout.subsets, c)})
        return cls(band.copy(), coef, a)


def onehot(tokens, S: int) -> np.ndarray:
    return np.eye(S)[np.asarray(tokens)]


def logit_matrices(band: np.ndarray, L: int) -> np.ndarray:
    """(H, L+1, L+1): head h's layer-1 logits, band[h, j] at (i, i − (h+1+j)), −∞ elsewhere."""
    H = band.shape[0]
    M = np.full((H, L + 1, L + 1), -np.inf)
    for h in range(H):
        for j in range(H):
            k = h + 1 + j
            idx = np.arange(k, L + 1)
            M[h, idx, idx - k] = band[h, j]
    return M


def _row_softmax(M):
    top = np.max(M, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(M - top)
    tot = e.sum(axis=-1, keepdims=True)
    return np.divide(e, tot, out=np.zeros_like(e), where=tot > 0)      # no admissible key -> 0


def _row_softmax_backward(p, g_p):
    """∂/∂logits from ∂/∂p for p = :func:`_row_softmax` (rows over the last axis)."""
    return p * (g_p - np.sum(p * g_p, axis=-1, keepdims=True))


def forward(w: Weights, tokens, S: int, D: int, loss: str = "ce_softmax", eps: float = 1e-2,
            weights=None, keep: bool = False):
    """Loss of sequences ``tokens`` (B, L+1): inputs x_1..x_L and target x_{L+1}, weighted by
    ``weights`` (default uniform; they must sum to 1 for a mean). Returns the loss, and with
    ``keep`` also the dict of intermediate tensors the backward pass uses."""
    loss, eps = check_loss(loss, eps)
    tokens = np.atleast_2d(np.asarray(tokens))
    B, L = tokens.shape[0], tokens.shape[1] - 1
    wts = np.full(B, 1.0 / B) if weights is None else np.asarray(weights, float)
    X = extended_inputs(tokens, S)
    A = _row_softmax(logit_matrices(w.band, L))                                       # (H, L+1, L+1)
    V = np.einsum("hij,bjs->hbis", A, X)
    nrm = np.linalg.norm(V, axis=-1, keepdims=True)
    U = V / (nrm + NORM_EPS)
    F = np.concatenate([X[None], U], axis=0)                                          # (H+1, B, L+1, S)
    value, cache = layer2(F, X, w.c, w.a, tokens[:, L], loss, eps, wts)
    if not keep:
        return value
    cache.update(A=A, V=V, nrm=nrm, U=U)
    return value, cache


def extended_inputs(tokens, S: int) -> np.ndarray:
    """X̃ (B, L+1, S): the one-hot inputs x_1..x_L and a zero row for the output position."""
    tokens = np.atleast_2d(np.asarray(tokens))
    L = tokens.shape[1] - 1
    return np.concatenate([onehot(tokens[:, :L], S), np.zeros((tokens.shape[0], 1, S))], axis=1)


def layer2(F, X, c: dict, a: float, t, loss: str, eps: float, wts):
    """The second layer and the loss, shared by the simplified and the full model: features F
    (H+1, B, L+1, S) (component 0 the tokens X̃, then each head's layer-1 output), the selector
    c_R² over every subset, the classifier a, targets ``t`` (B,), sequence weights ``wts``.
    Returns (loss, cache for :func:`layer2_backward`)."""
    B, L = X.shape[0], X.shape[1] - 1
    P = np.maximum(np.einsum("cbs,cbls->cbl", F[:, :, L], F[:, :, :L]), 0.0)          # (H+1, B, L)
    subsets = list(c)
    f = np.stack([np.prod(P[list(R)], axis=0) if R else np.ones((B, L)) for R in subsets])
    c2 = np.array([c[R] ** 2 for R in subsets])
    live = np.array([0 not in R for R in subsets])
    Z = c2[live].sum()
    s = np.einsum("r,rbl->bl", c2, f) / Z
    z = a * s
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.einsum("bl,bls->bs", p, X[:, :L])
    if loss == "nll":
        per = -np.log(y[np.arange(B), t] + eps)
    else:
        top = y.max(axis=1)
        lse = top + np.log(np.exp(y - top[:, None]).sum(axis=1))
        per = lse - y[np.arange(B), t]
    return float(wts @ per), dict(X=X, F=F, P=P, f=f, c2=c2, live=live, Z=Z, s=s, p=p, y=y, t=t, wts=wts,
                                  subsets=subsets, loss=loss, eps=eps, L=L, H=F.shape[0] - 1, S=X.shape[2])


def layer2_backward(c: dict, a: float, cache: dict, rates: bool = False):
    """Gradient of :func:`layer2`'s loss: (∂/∂F, {R: ∂/∂c_R}, ∂/∂a); with ``rates`` the selector
    entries are (∂𝓛/∂c_R)/c_R = 2 ∂𝓛/∂(c_R²) instead (right for any c_R, 0 included)."""
    X, F, P = (cache[k] for k in ("X", "F", "P"))
    f, c2, live, Z, s, p, y, t, wts = (cache[k] for k in ("f", "c2", "live", "Z", "s", "p", "y", "t", "wts"))
    L, subsets = cache["L"], cache["subsets"]
    B = X.shape[0]
    onehot_t = np.zeros_like(y)
    onehot_t[np.arange(B), t] = 1.0
    if cache["loss"] == "nll":
        g_y = -onehot_t / (y + cache["eps"])
    else:
        sm = np.exp(y - y.max(axis=1, keepdims=True))
        sm /= sm.sum(axis=1, keepdims=True)
        g_y = sm - onehot_t
    g_y *= wts[:, None]
    g_p = np.einsum("bs,bls->bl", g_y, X[:, :L])
    g_z = p * (g_p - np.sum(p * g_p, axis=1, keepdims=True))
    g_a = float(np.sum(g_z * s))
    g_s = a * g_z
    # s = Σ_R c_R² f_R / Z, Z = Σ_{R ∌ 0} c_R²
    g_c2 = np.einsum("bl,rbl->r", g_s, f) / Z - live * np.sum(g_s * s) / Z
    g_c = {R: 2 * (1.0 if rates else c[R]) * g_c2[i] for i, R in enumerate(subsets)}
    g_P = np.zeros_like(P)
    for i, R in enumerate(subsets):
        for comp in R:
            others = np.prod(P[[d for d in R if d != comp]], axis=0) if len(R) > 1 else 1.0
            g_P[comp] += g_s * c2[i] / Z * others
    g_P *= P > 0                                               # relu' (torch's convention at 0)
    # P[c, b, l] = F_c[b, L] · F_c[b, l]
    g_F = np.zeros_like(F)
    g_F[:, :, :L] += g_P[..., None] * F[:, :, L][:, :, None, :]
    g_F[:, :, L] += np.einsum("cbl,cbls->cbs", g_P, F[:, :, :L])
    return g_F, g_c, g_a


def backward(w: Weights, cache: dict) -> Weights:
    """Gradient of :func:`forward`'s loss with respect to every weight (same layout as ``w``)."""
    X, A, V, nrm = (cache[k] for k in ("X", "A", "V", "nrm"))
    L, H = cache["L"], cache["H"]
    g_F, g_c, g_a = layer2_backward(w.c, w.a, cache)
    g_U = g_F[1:]
    # U = V / (‖V‖ + ε)
    d = nrm + NORM_EPS
    safe = np.where(nrm > 0, nrm, 1.0)
    g_V = g_U / d - np.sum(g_U * V, axis=-1, keepdims=True) * V / (safe * d ** 2) * (nrm > 0)
    g_A = np.einsum("hbis,bjs->hij", g_V, X)
    g_M = _row_softmax_backward(A, g_A)
    g_band = np.zeros_like(w.band)
    for h in range(H):
        for j in range(H):
            k = h + 1 + j
            idx = np.arange(k, L + 1)
            g_band[h, j] = g_M[h, idx, idx - k].sum()
    return Weights(g_band, g_c, g_a)


def loss_and_grad(w: Weights, tokens, S: int, D: int, loss: str = "ce_softmax", eps: float = 1e-2,
                  weights=None):
    value, cache = forward(w, tokens, S, D, loss, eps, weights, keep=True)
    return value, backward(w, cache)


def live_gradient(layout: Layout, g: Weights) -> np.ndarray:
    """The gradient's live entries, in θ order."""
    return layout.pack(g.band, [g.c[R] for R in layout.subsets], g.a)


#: the authors' schedules: (parameter groups, learning rate, epochs) per phase
SCHEDULES = {"staged": (("c", 1.0, 2000), ("band", 1e5, 5000), ("a", 1.0, 5000)),
             "joint": (("band+c+a", 1.0, 10000),)}


def gradient_descent(layout: Layout, theta0, tokens, S: int, loss: str = "ce_softmax", eps: float = 1e-2,
                     phases=SCHEDULES["joint"], weights=None, record=(), progress=None):
    """Full-batch GD on the reference, phase by phase: each phase is (groups, lr, epochs), groups
    a '+'-joined subset of band, c, a. Returns (θ after every phase, {epoch: θ} at the epochs in
    ``record``, counted over all phases)."""
    theta = np.array(theta0, dtype=np.float64)
    masks = {"band": np.arange(layout.n_band), "c": np.arange(layout.n_band, layout.n_band + layout.n_c),
             "a": np.array([len(theta) - 1])}
    record, seen, epoch, ends = set(record), {}, 0, []
    if 0 in record:
        seen[0] = theta.copy()
    for groups, lr, epochs in phases:
        idx = np.concatenate([masks[g] for g in groups.split("+")])
        for _ in range(int(epochs)):
            w = Weights.from_theta(layout, theta)
            _, g = loss_and_grad(w, tokens, S, layout.D, loss, eps, weights)
            theta[idx] -= lr * live_gradient(layout, g)[idx]
            epoch += 1
            if epoch in record:
                seen[epoch] = theta.copy()
            if progress is not None:
                progress(epoch)
        ends.append(theta.copy())
    return ends, seen
