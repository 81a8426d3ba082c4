"""Reference model of SPEC-paper in plain NumPy, with full weight matrices: the ground truth.

Tokens e = [c ; r] ∈ R^{2D} (content, position), D ≥ 2N + 2. Weights W = (W1, W2, W3): W1 2D×2D,
W2 4D×4D, W3 D×8D; nothing is assumed about them.

* :func:`forward` / :func:`loss_and_grad`: a batch of sequences (B, T, 2D) with targets (B, D),
  strictly causal layer 1 (the first token has no key and h1 = 0), layer 2 on the query row over
  the keys u < T, read-out ŷ = W3 [e_T ; h1_T ; h2], loss ½‖ŷ − y‖²; hand-written backprop.
* :func:`canonical` builds the canonical sequences (content and position frames = identity) and
  :func:`random_frames` sequences in random frames (content Haar on O(D), positions Haar on the
  rotations commuting with M, U(D/2)).
* :func:`population_loss` is exact for invariant weights (the mean over the query law of the
  canonical sequence's loss: every frame gives the same loss) and :func:`monte_carlo_loss`
  estimates it for any weights, with its standard error.
* :func:`weights` and :func:`project` map θ ↔ W through the 19 basis matrices (I or M in one
  block), which are orthogonal with ‖B_k‖²_F = D.
"""

from __future__ import annotations

import numpy as np

from ..._validate import check_int
from .reduced import NAMES

#: (matrix, row slot, column slot, "I" or "M") of each pseudo-parameter (SPEC-paper §3).
BLOCKS = (("W1", "c", "c", "I"), ("W1", "r", "r", "I"), ("W1", "r", "r", "M"),
          ("W2", "e.c", "e.c", "I"), ("W2", "e.c", "h1.c", "I"), ("W2", "h1.c", "e.c", "I"),
          ("W2", "h1.c", "h1.c", "I"), ("W2", "e.r", "e.r", "I"), ("W2", "e.r", "e.r", "M"),
          ("W2", "e.r", "h1.r", "I"), ("W2", "e.r", "h1.r", "M"), ("W2", "h1.r", "e.r", "I"),
          ("W2", "h1.r", "e.r", "M"), ("W2", "h1.r", "h1.r", "I"), ("W2", "h1.r", "h1.r", "M"),
          ("W3", "out", "e.c", "I"), ("W3", "out", "h1.c", "I"), ("W3", "out", "h2.e.c", "I"),
          ("W3", "out", "h2.h1.c", "I"))
SLOTS = {"W1": ("c", "r"), "W2": ("e.c", "e.r", "h1.c", "h1.r"),
         "W3": ("e.c", "e.r", "h1.c", "h1.r", "h2.e.c", "h2.e.r", "h2.h1.c", "h2.h1.r")}


def complex_structure(D: int) -> np.ndarray:
    """M = ⊕ [[0, −1], [1, 0]] on R^D (Mᵀ = −M, M² = −I): M e_{2k} = e_{2k+1} (0-based)."""
    M = np.zeros((D, D))
    for k in range(0, D, 2):
        M[k + 1, k], M[k, k + 1] = 1.0, -1.0
    return M


def check_D(N: int, D: int | None) -> int:
    low = 2 * N + 2 + (2 * N + 2) % 2
    return low if D is None else check_int("D", D, low) + (D % 2)     # D even (M needs pairs)


def weights(theta, D: int):
    """(W1, W2, W3) = Σ_k θ_k B_k (complex θ gives complex weights: the complex step rides along)."""
    theta = np.asarray(theta)
    dtype = np.result_type(theta.dtype, float)
    M = complex_structure(D)
    W = {"W1": np.zeros((2 * D, 2 * D), dtype), "W2": np.zeros((4 * D, 4 * D), dtype),
         "W3": np.zeros((D, 8 * D), dtype)}
    for value, (mat, r, c, kind) in zip(theta, BLOCKS):
        rows = slice(0, D) if r == "out" else _slot(mat, r, D)
        W[mat][rows, _slot(mat, c, D)] += value * (np.eye(D) if kind == "I" else M)
    return W["W1"], W["W2"], W["W3"]


def _slot(mat, name, D):
    k = SLOTS[mat].index(name)
    return slice(k * D, (k + 1) * D)


def project(W, D: int, kinds=("I", "M")):
    """(θ, relative off-span norm ‖W − weights(θ)‖ / ‖W‖): the basis is orthogonal, ‖B_k‖² = D.
    ``kinds``: the block kinds of the span (("I",) for a setting without the M-structure: the
    M-coefficients are then reported in θ but counted as off the span)."""
    theta = basis_inner(W, D) / D
    kept = np.where([b[3] in kinds for b in BLOCKS], theta, 0.0)
    norm = np.sqrt(sum(np.sum(X ** 2) for X in W))
    resid = np.sqrt(sum(np.sum((X - Y) ** 2) for X, Y in zip(W, weights(kept, D))))
    return theta, (float(resid / norm) if norm > 0 else 0.0)


def canonical(N: int, D: int, q):
    """Canonical sequences (B = len(q), T = 2N + 1, 2D) and targets (B, D): x_k = e_k,
    y_k = e_{N+k} (contents), p_k = e_{2k−1}, M p_k = e_{2k} (positions; 1-based): the paper
    setting's sequences (:meth:`.setting.Setting.sequences`) for the 1-based queries ``q``."""
    from .setting import Setting
    rows = [((k - 1,), k - 1) for k in np.atleast_1d(q)]
    E, Y, _ = Setting(N).sequences(D, rows)
    return E, Y


def random_frames(N: int, D: int, q, rng: np.random.Generator):
    """The canonical sequences in random frames: content Q ∈ O(D) (Haar), positions U ∈ U(D/2)
    (Haar, as a real matrix commuting with M)."""
    E, Y = canonical(N, D, q)
    B = len(E)
    Q = np.linalg.qr(rng.normal(size=(B, D, D)))[0]
    Z = rng.normal(size=(B, D // 2, D // 2)) + 1j * rng.normal(size=(B, D // 2, D // 2))
    Uc, R = np.linalg.qr(Z)
    Uc = Uc * (np.diagonal(R, axis1=1, axis2=2) / np.abs(np.diagonal(R, axis1=1, axis2=2)))[:, None, :]
    U = np.zeros((B, D, D))                   # a + ib acts on the pair (e_{2k}, e_{2k+1}) as [[a, −b], [b, a]]
    U[:, 0::2, 0::2], U[:, 1::2, 1::2] = Uc.real, Uc.real
    U[:, 1::2, 0::2], U[:, 0::2, 1::2] = Uc.imag, -Uc.imag
    E = E.copy()
    E[..., :D] = np.einsum("bij,btj->bti", Q, E[..., :D])
    E[..., D:] = np.einsum("bij,btj->bti", U, E[..., D:])
    return E, np.einsum("bij,bj->bi", Q, Y)


def _softmax(s, axis=-1):
    s = s - s.max(axis=axis, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=axis, keepdims=True)


def _keys(mask: str, T: int) -> int:
    """How many tokens layer 2's query attends to: those before it, or (mask "self") itself too."""
    return T if mask == "self" else T - 1


def forward(W, E, mask: str = "strict") -> dict:
    """Every intermediate of the forward pass on a batch E (B, T, 2D). ``mask="strict"``: layer 1
    attends to earlier tokens (the first token has no key: h1 = 0) and the query to the tokens
    before it; ``"self"``: each token also to itself, the query too."""
    W1, W2, W3 = W
    B, T, _ = E.shape
    allowed = np.tril(np.ones((T, T), dtype=bool), k=0 if mask == "self" else -1)
    S1 = np.where(allowed, (E @ W1) @ E.transpose(0, 2, 1), -np.inf)
    if mask != "self":
        S1[:, 0, 0] = 0.0                               # first token: no key (its row is zeroed)
    A1 = _softmax(S1)
    if mask != "self":
        A1[:, 0, :] = 0.0
    H1 = A1 @ E
    U = np.concatenate([E, H1], axis=2)                 # (B, T, 4D)
    qW = U[:, -1] @ W2
    keys = U[:, :_keys(mask, T)]
    S2 = np.einsum("buk,bk->bu", keys, qW)
    A2 = _softmax(S2)
    h2 = np.einsum("bu,buk->bk", A2, keys)
    z = np.concatenate([E[:, -1], H1[:, -1], h2], axis=1)
    return {"A1": A1, "H1": H1, "U": U, "qW": qW, "A2": A2, "z": z, "y": z @ W3.T}


def readout_loss(yhat, E, Y, loss: str, target):
    """Per-sequence losses and ∂/∂ŷ: ½‖ŷ − y‖², or (``loss="ce"``) −log softmax of the logits
    ⟨ŷ, c⟩ over the 2N content vectors of the sequence (its items and labels) at ``target``."""
    if loss == "mse":
        r = yhat - Y
        return 0.5 * np.sum(r * r, axis=1), r
    D = Y.shape[1]
    C = E[:, :-1, :D]                                    # the 2N tokens' contents
    rows = np.arange(len(yhat))
    logits = np.einsum("btd,bd->bt", C, yhat)
    rel = logits - logits[rows, target][:, None]         # 0 at the target
    rel[rows, target] = -np.inf
    top = np.maximum(rel.real.max(axis=1), 0.0)[:, None]
    others = np.exp(rel - top)                           # the other logits' weights, 0 at the target
    # −log p_target = top + log(e^{−top} + Σ_others): log1p when the target leads (top = 0), so the
    # loss keeps its relative precision as it falls towards 0
    rest = others.sum(axis=1)
    per = np.where(top[:, 0] > 0, top[:, 0] + np.log(np.exp(-top[:, 0]) + rest), np.log1p(rest))
    norm = np.exp(-top[:, 0]) + rest
    p = others / norm[:, None]                           # p_t for t ≠ target
    p[rows, target] = -rest / norm                       # p_target − 1 = −Σ_{t≠target} p_t, no cancellation
    return per, np.einsum("bt,btd->bd", p, C)


def loss_and_grad(W, E, Y, weights_=None, mask: str = "strict", loss: str = "mse", target=None):
    """Weighted mean of the per-sequence loss over the batch (½‖ŷ − y‖², or cross-entropy over the
    sequence's contents at ``target``: :func:`readout_loss`) and its gradient (gW1, gW2, gW3).
    Every operation is analytic, so complex weights carry a complex step through loss and
    gradient alike."""
    W1, W2, W3 = W
    B, T, twoD = E.shape
    D = twoD // 2
    w = np.full(B, 1.0 / B) if weights_ is None else np.asarray(weights_, float)
    f = forward(W, E, mask)
    A1, H1, U, qW, A2, z, yhat = (f[k] for k in ("A1", "H1", "U", "qW", "A2", "z", "y"))
    per, dyhat = readout_loss(yhat, E, Y, loss, target)
    value = w @ per
    value = value if np.iscomplexobj(value) else float(value)
    dy = dyhat * w[:, None]
    gW3 = dy.T @ z
    dz = dy @ W3
    dH1_T, dh2 = dz[:, 2 * D:4 * D], dz[:, 4 * D:]
    nk = _keys(mask, T)
    keys = U[:, :nk]
    dA2 = np.einsum("bk,buk->bu", dh2, keys)
    dS2 = A2 * (dA2 - np.sum(A2 * dA2, axis=1, keepdims=True))
    rq = np.einsum("bu,buk->bk", dS2, keys)              # ∂/∂qW
    gW2 = U[:, -1].T @ rq
    dU = np.zeros_like(U)
    dU[:, :nk] += A2[:, :, None] * dh2[:, None, :] + dS2[:, :, None] * qW[:, None, :]
    dU[:, -1] += rq @ W2.T
    dH1 = dU[:, :, 2 * D:]                               # (the data E need no gradient)
    dH1[:, -1] += dH1_T
    dA1 = np.einsum("btk,buk->btu", dH1, E)
    dS1 = A1 * (dA1 - np.sum(A1 * dA1, axis=2, keepdims=True))
    gW1 = E.reshape(-1, twoD).T @ (dS1 @ E).reshape(-1, twoD)
    return value, (gW1, gW2, gW3)


def population_loss(W, N: int, query: str = "last") -> float:
    """Exact for invariant weights: the mean over the query law of the canonical loss."""
    q = np.array([N]) if query == "last" else np.arange(1, N + 1)
    E, Y = canonical(N, W[2].shape[0], q)
    yhat = forward(W, E)["y"]
    return float(np.mean(0.5 * np.sum((yhat - Y) ** 2, axis=1)))


def monte_carlo_loss(W, N: int, query: str, n: int, rng: np.random.Generator):
    """(mean, standard error) of the loss over ``n`` random frames and queries: valid for any W."""
    D = W[2].shape[0]
    q = np.full(n, N) if query == "last" else rng.integers(1, N + 1, size=n)
    E, Y = random_frames(N, D, q, rng)
    losses = 0.5 * np.sum((forward(W, E)["y"] - Y) ** 2, axis=1)
    return float(losses.mean()), float(losses.std(ddof=1) / np.sqrt(n))


def basis_inner(g, D: int):
    """⟨G, B_k⟩ for the 19 basis matrices B_k and a triple of matrices G (e.g. ∇_W𝓛: then ∂𝓛/∂θ_k)."""
    M = complex_structure(D)
    mats = dict(zip(("W1", "W2", "W3"), g))
    out = np.zeros(19, dtype=g[0].dtype)
    for k, (mat, r, c, kind) in enumerate(BLOCKS):
        rows = slice(0, D) if r == "out" else _slot(mat, r, D)
        out[k] = np.sum(mats[mat][rows, _slot(mat, c, D)] * (np.eye(D) if kind == "I" else M))
    return out


def theta_gradient(theta, N: int, D: int, query: str = "last"):
    """(𝓛, ∂𝓛/∂θ) through the full model: the canonical gradient projected on the basis
    (⟨∇_W𝓛, B_k⟩ = ∂𝓛/∂θ_k). Exact at invariant weights (the population gradient's component
    in the span equals the canonical gradient's, by equivariance). A complex θ + ih·e_k gives
    ∂(∂𝓛/∂θ)/∂θ_k = Im(gradient)/h: the Hessian's column k, exact to rounding."""
    W = weights(theta, D)
    q = np.array([N]) if query == "last" else np.arange(1, N + 1)
    E, Y = canonical(N, D, q)
    loss, g = loss_and_grad(W, E, Y)
    return loss, basis_inner(g, D)


assert len(BLOCKS) == len(NAMES)
