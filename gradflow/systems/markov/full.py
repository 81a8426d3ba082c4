"""The authors' full model (their RPE/model.py ``TwoLayerTransformer``; read in
gszfwsb/Unveiling-Induction-Heads, not copied): a full-tensor NumPy reference with backprop, its
symmetry under relabelling the symbols, the invariant space of that symmetry, and the parameters
of the flow on it.

What the full model adds to the simplified one (:mod:`.reference`), per layer-1 head h:

* a content score x_iᵀ Q_h K_hᵀ x_j added to the relative-position logits (Q_h, K_h: S × S);
* each position also attends to itself, with position logit 1e-6 (the authors' diagonal);
* a value/output map: the head's output is Σ_j softmax_j · x_j O_h (O_h: S × S);
* a standard LayerNorm over the S features (ε = 1e-5) with a learned gain γ and bias β (shared by
  the heads), in place of the simplified model's division by the norm.

Layer 2 (selector c_R over subsets of components with |R| ≤ D, classifier a, relu'd inner products)
is the simplified model's, shared code (:func:`.reference.layer2`); as there, the products over a
subset are exact (the authors' exp Σ log(x + 1e−24) differs by ≤ 1e−24 relative).

Symmetry. Relabelling the symbols by a permutation P maps the data law to itself (the Dirichlet
prior and the uniform start are exchangeable) and the model's loss to itself when the weights move
as Q_h → PᵀQ_hP, K_h → PᵀK_hP, O_h → PᵀO_hP, γ → Pᵀγ, β → Pᵀβ (band, c and a are fixed). Its
invariant space (:func:`invariant_basis`, derived numerically) has per head Q_h, K_h, O_h in
span{I, J − I} (J the all-ones matrix): 2 each, and γ, β in span{1}: 1 each. On a population the
law is invariant, so gradient descent from an invariant start (the authors' initialisation is one)
never leaves the space. On a finite sample it is invariant only after averaging over the
relabellings; at invariant weights every relabelled copy of a sequence has the same loss, so the
sample's loss and its gradient projected on the space are exactly those of the relabelling-averaged
sample: the flow below is gradient descent on that averaged sample.

Parameters of the flow (θ, in this order): the band (H × H, as in :mod:`.params`), the live c_R,
then per head the diagonal and off-diagonal value of Q_h, K_h, O_h (``q_h0d``, ``q_h0o``, …),
γ's and β's common value (``ln_g``, ``ln_b``), and a last. Their metric in the full weights is
diagonal: 1 for band, c and a, S for a diagonal or γ, β, S(S − 1) for an off-diagonal.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np

from ..._validate import check_int
from .params import Layout
from .reference import (_row_softmax, _row_softmax_backward, all_subsets, check_loss, extended_inputs, layer2,
                        layer2_backward)

#: LayerNorm's ε (torch.nn.LayerNorm's default, which the authors use)
LN_EPS = 1e-5
#: the authors' position logit of a token on itself
SELF_LOGIT = 1e-6
#: the authors' Appendix-B initialisation of the full model: band logits w+ on offset h+1 of head h
#: and w− elsewhere, Q = K = O = PROJ_INIT·I, γ = 1, β = 0, c_R = 0.01, a = 0.01
W_PLUS, W_MINUS, PROJ_INIT, C_INIT, A_INIT = 1.0, 0.01, 1e-3, 0.01, 0.01
#: sequences per chunk of the reference's forward and backward pass (memory: H·chunk·(L+1)² floats)
CHUNK = 256
MATRICES = ("Q", "K", "O")


@dataclass
class FullWeights:
    """Every weight of the full model: ``band`` (H, H) live position logits, ``Q``, ``K``, ``O``
    (H, S, S), ``gamma``, ``beta`` (S,), ``c`` {R: c_R} over every subset, ``a``."""
    band: np.ndarray
    Q: np.ndarray
    K: np.ndarray
    O: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    c: dict
    a: float

    def step(self, g: "FullWeights", eta: float) -> "FullWeights":
        """One gradient-descent step: these weights minus ``eta`` times ``g``."""
        out = {}
        for f in fields(self):
            v, dv = getattr(self, f.name), getattr(g, f.name)
            out[f.name] = ({R: x - eta * dv[R] for R, x in v.items()} if isinstance(v, dict) else v - eta * dv)
        return FullWeights(**out)

    def flat(self) -> np.ndarray:
        """Every weight in one vector (band, Q, K, O, γ, β, c in :func:`all_subsets` order, a)."""
        return np.concatenate([self.band.ravel(), self.Q.ravel(), self.K.ravel(), self.O.ravel(),
                               self.gamma, self.beta, list(self.c.values()), [self.a]])


def initial_weights(H: int = 3, S: int = 3, D: int = 2, w_plus: float = W_PLUS, w_minus: float = W_MINUS,
                    proj: float = PROJ_INIT, c0: float = C_INIT, a0: float = A_INIT) -> FullWeights:
    """The authors' initialisation (module constants)."""
    band = np.full((H, H), w_minus)
    band[:, 0] = w_plus
    eye = np.repeat(np.eye(S)[None] * proj, H, axis=0)
    return FullWeights(band, eye.copy(), eye.copy(), eye.copy(), np.ones(S), np.zeros(S),
                       {R: c0 for R in all_subsets(H, D)}, a0)


def position_logits(band: np.ndarray, L: int) -> np.ndarray:
    """(H, L+1, L+1): head h's position logits: band[h, j] at (i, i − (h+1+j)), SELF_LOGIT on the
    diagonal, −∞ elsewhere."""
    H = band.shape[0]
    M = np.full((H, L + 1, L + 1), -np.inf)
    idx = np.arange(L + 1)
    for h in range(H):
        M[h, idx, idx] = SELF_LOGIT
        for j in range(H):
            k = h + 1 + j
            M[h, idx[k:], idx[k:] - k] = band[h, j]
    return M


def layer_norm(Z: np.ndarray):
    """LayerNorm over the last axis before its gain and bias: (n̂, sd), n̂ = (Z − mean)/sd,
    sd = sqrt(var + LN_EPS)."""
    mu = Z.mean(axis=-1, keepdims=True)
    sd = np.sqrt(((Z - mu) ** 2).mean(axis=-1, keepdims=True) + LN_EPS)
    return (Z - mu) / sd, sd


def layer_norm_backward(g_n: np.ndarray, nhat: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """∂/∂Z from ∂/∂n̂ (:func:`layer_norm`)."""
    return (g_n - g_n.mean(axis=-1, keepdims=True) - nhat * (g_n * nhat).mean(axis=-1, keepdims=True)) / sd


def content_gradients(g_M: np.ndarray, w: FullWeights, h: int):
    """(∂/∂Q_h, ∂/∂K_h) from ∂/∂(Q_h K_hᵀ)."""
    return g_M @ w.K[h], g_M.T @ w.Q[h]


def _layer1(w: FullWeights, X: np.ndarray, pos: np.ndarray):
    """Each head's output after the LayerNorm, (H, B, L+1, S), and what the backward pass needs."""
    H = w.band.shape[0]
    Ps, XOs, nhat, sd = [], [], [], []
    for h in range(H):
        P = _row_softmax(np.einsum("bis,st,bjt->bij", X, w.Q[h] @ w.K[h].T, X) + pos[h])
        XO = X @ w.O[h]
        n, s = layer_norm(P @ XO)
        Ps.append(P)
        XOs.append(XO)
        nhat.append(n)
        sd.append(s)
    nhat = np.array(nhat)
    return w.gamma * nhat + w.beta, dict(P=Ps, XO=XOs, nhat=nhat, sd=sd)


def _chunk_grad(w: FullWeights, tokens, S, loss, eps, wts, pos, want_grad, rates=False):
    X = extended_inputs(tokens, S)
    L = X.shape[1] - 1
    V, c1 = _layer1(w, X, pos)
    F = np.concatenate([X[None], V], axis=0)
    value, c2 = layer2(F, X, w.c, w.a, tokens[:, L], loss, eps, wts)
    if not want_grad:
        return value, None
    g_F, g_c, g_a = layer2_backward(w.c, w.a, c2, rates)
    H = w.band.shape[0]
    g_V = g_F[1:]
    g_gamma = np.einsum("hbis,hbis->s", g_V, c1["nhat"])
    g_beta = g_V.sum(axis=(0, 1, 2))
    g_band, g_Q, g_K, g_O = np.zeros_like(w.band), np.zeros_like(w.Q), np.zeros_like(w.K), np.zeros_like(w.O)
    for h in range(H):
        P, XO = c1["P"][h], c1["XO"][h]
        g_Z = layer_norm_backward(g_V[h] * w.gamma, c1["nhat"][h], c1["sd"][h])
        g_O[h] = np.einsum("bjs,bjt->st", X, np.swapaxes(P, 1, 2) @ g_Z)     # Z = P X O
        g_logits = _row_softmax_backward(P, g_Z @ np.swapaxes(XO, 1, 2))
        for j in range(H):
            g_band[h, j] = np.trace(g_logits, offset=-(h + 1 + j), axis1=1, axis2=2).sum()
        g_Q[h], g_K[h] = content_gradients(np.einsum("bis,bij,bjt->st", X, g_logits, X), w, h)
    return value, FullWeights(g_band, g_Q, g_K, g_O, g_gamma, g_beta, g_c, g_a)


def loss_and_grad(w: FullWeights, tokens, S: int, loss: str = "ce_softmax", eps: float = 1e-2, weights=None,
                  want_grad: bool = True, rates: bool = False):
    """The loss of sequences ``tokens`` (B, L+1) (inputs and target), weighted by ``weights``
    (default uniform, summing to 1), and its gradient in every weight (a :class:`FullWeights`;
    with ``rates`` its ``c`` holds (∂𝓛/∂c_R)/c_R), computed in chunks of :data:`CHUNK` sequences."""
    loss, eps = check_loss(loss, eps)
    tokens = np.atleast_2d(np.asarray(tokens))
    B, L = tokens.shape[0], tokens.shape[1] - 1
    wts = np.full(B, 1.0 / B) if weights is None else np.asarray(weights, float)
    pos = position_logits(w.band, L)
    total, grad = 0.0, None
    for lo in range(0, B, CHUNK):
        value, g = _chunk_grad(w, tokens[lo:lo + CHUNK], S, loss, eps, wts[lo:lo + CHUNK], pos, want_grad, rates)
        total += value
        if want_grad:
            grad = g if grad is None else _add(grad, g)
    return (total, grad) if want_grad else total


def _add(a: FullWeights, b: FullWeights) -> FullWeights:
    out = {}
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        out[f.name] = {R: x[R] + y[R] for R in x} if isinstance(x, dict) else x + y
    return FullWeights(**out)


# -- the symmetry and its invariant space ---------------------------------------------------
def relabel(w: FullWeights, perm) -> FullWeights:
    """The weights moved by the relabelling ``perm`` of the symbols (symbol s becomes perm[s])."""
    P = np.eye(len(perm))[:, list(perm)]          # x ↦ x P sends e_s to e_perm[s]
    move = lambda M: np.einsum("ts,htu,uv->hsv", P, M, P)      # Pᵀ M P per head
    return FullWeights(w.band.copy(), move(w.Q), move(w.K), move(w.O), w.gamma @ P, w.beta @ P,
                       dict(w.c), w.a)


def _blocks(H: int, S: int, D: int) -> dict:
    """Name -> slice of each tensor in :meth:`FullWeights.flat`."""
    sizes = [("band", H * H), ("Q", H * S * S), ("K", H * S * S), ("O", H * S * S), ("gamma", S),
             ("beta", S), ("c", len(all_subsets(H, D))), ("a", 1)]
    out, at = {}, 0
    for name, n in sizes:
        out[name] = slice(at, at + n)
        at += n
    return out


def invariant_basis(H: int = 3, S: int = 3, D: int = 2) -> dict:
    """The space of weights that every relabelling leaves fixed, derived numerically: for each
    tensor, an orthonormal basis (columns) of the common fixed space of the group's generators
    (two generate S_S: a transposition and a cycle), from the null space of the stacked (g − I).
    Returns {tensor name: basis (its size × dim)}."""
    S = check_int("S", S, 2)
    template = initial_weights(H, S, D)
    n = template.flat().size
    gens = [tuple([1, 0] + list(range(2, S))), tuple(list(range(1, S)) + [0])]
    # the action is linear: its matrix column by column, from the unit vectors
    blocks = _blocks(H, S, D)
    mats = []
    for perm in gens:
        G = np.zeros((n, n))
        for k in range(n):
            e = np.zeros(n)
            e[k] = 1.0
            G[:, k] = relabel(unflatten(e, H, S, D), perm).flat()
        mats.append(G - np.eye(n))
    A = np.vstack(mats)
    out = {}
    for name, sl in blocks.items():
        sub = A[:, sl]
        # the fixed space within this tensor (the action maps each tensor to itself)
        _, sv, vt = np.linalg.svd(sub)
        rank = int(np.sum(sv > 1e-10 * max(1.0, sv[0] if len(sv) else 1.0)))
        out[name] = vt[rank:].T
    return out


def unflatten(v, H: int, S: int, D: int) -> FullWeights:
    """Inverse of :meth:`FullWeights.flat`."""
    b = _blocks(H, S, D)
    subsets = all_subsets(H, D)
    return FullWeights(v[b["band"]].reshape(H, H).copy(), v[b["Q"]].reshape(H, S, S).copy(),
                       v[b["K"]].reshape(H, S, S).copy(), v[b["O"]].reshape(H, S, S).copy(),
                       v[b["gamma"]].copy(), v[b["beta"]].copy(),
                       dict(zip(subsets, v[b["c"]].tolist())), float(v[b["a"]][0]))


def off_span(w: FullWeights) -> float:
    """Largest distance of a symbol-indexed tensor from the invariant space (0 for invariant
    weights): each S × S matrix minus its diagonal and off-diagonal means, γ and β minus their
    means."""
    S = w.gamma.size
    eye = np.eye(S, dtype=bool)
    worst = 0.0
    for M in (w.Q, w.K, w.O):
        for m in M:
            proj = np.where(eye, m[eye].mean(), m[~eye].mean())
            worst = max(worst, float(np.max(np.abs(m - proj))))
    for v in (w.gamma, w.beta):
        worst = max(worst, float(np.max(np.abs(v - v.mean()))))
    return worst


# -- θ: the coordinates of the invariant space -------------------------------------------------
@dataclass(frozen=True)
class FullLayout(Layout):
    """Where each parameter of the full model's flow sits in θ (see the module docstring): the
    simplified model's :class:`~.params.Layout` (band, c, and a last) with the symbol-indexed
    coordinates between c and a."""

    S: int = 3

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "S", check_int("S", self.S, 2))

    @property
    def simple(self) -> Layout:
        return Layout(self.H, self.D)

    @cached_property
    def names(self) -> tuple:
        base = self.simple.names
        extra = [f"{m.lower()}_h{h}{kind}" for m in MATRICES for h in range(self.H) for kind in ("d", "o")]
        return base[:-1] + tuple(extra) + ("ln_g", "ln_b", "a")

    @property
    def n_extra(self) -> int:
        return 2 * len(MATRICES) * self.H + 2

    def metric(self) -> np.ndarray:
        """The Gram matrix of θ's directions in the full weights (diagonal)."""
        S = self.S
        simple = self.simple
        diag = [1.0] * (simple.n_band + simple.n_c)
        diag += [S, S * (S - 1)] * (len(MATRICES) * self.H) + [S, S, 1.0]
        return np.diag(diag)

    def weights(self, theta, c_dead: float = C_INIT) -> FullWeights:
        """The full weights at θ; coefficients with 0 ∈ R (which never move) at ``c_dead``."""
        theta = np.asarray(theta, dtype=np.float64)
        simple, S, H = self.simple, self.S, self.H
        band = theta[: simple.n_band].reshape(H, H).copy()
        c_live = theta[simple.c_slice]
        at = simple.n_band + simple.n_c
        eye = np.eye(S)
        mats = {}
        for m in MATRICES:
            out = np.empty((H, S, S))
            for h in range(H):
                d, o = theta[at], theta[at + 1]
                out[h] = d * eye + o * (1 - eye)
                at += 2
            mats[m] = out
        g, b, a = theta[at], theta[at + 1], float(theta[-1])
        coef = {R: float(c_dead) for R in all_subsets(H, self.D)}
        coef.update({R: float(v) for R, v in zip(simple.subsets, c_live)})
        return FullWeights(band, mats["Q"], mats["K"], mats["O"], np.full(S, g), np.full(S, b), coef, a)

    def _reduce(self, w: FullWeights, reduce) -> np.ndarray:
        """θ order: band, live c, ``reduce`` of each matrix's diagonal and off-diagonal entries
        per head, ``reduce`` of γ and of β, a."""
        eye = np.eye(self.S, dtype=bool)
        out = list(w.band.ravel()) + [w.c[R] for R in self.simple.subsets]
        for m in MATRICES:
            for M in getattr(w, m):
                out += [reduce(M[eye]), reduce(M[~eye])]
        out += [reduce(w.gamma), reduce(w.beta), w.a]
        return np.array(out)

    def pull_back(self, g: FullWeights) -> np.ndarray:
        """∂𝓛/∂θ from the gradient in the full weights (the chain rule through :meth:`weights`:
        each coordinate sums the entries it sets)."""
        return self._reduce(g, np.sum)

    def theta_of(self, w: FullWeights) -> np.ndarray:
        """θ of invariant weights ``w`` (the means of the diagonal and off-diagonal entries)."""
        return self._reduce(w, np.mean)

    def initial(self, **kw) -> np.ndarray:
        """θ of the authors' initialisation (:func:`initial_weights`; keywords override it)."""
        return self.theta_of(initial_weights(self.H, self.S, self.D, **kw))


def permutations(S: int):
    """Every relabelling of S symbols."""
    return list(itertools.permutations(range(S)))
