"""Reference transformer: the full model of SPEC §2 in plain NumPy, the ground truth.

Weights are three dense float64 matrices ``W = (W1, W2, W3)`` with ``W1`` d×d, ``W2`` 2d×2d and
``W3`` L×4d (d = K + L); no symmetry is assumed anywhere in the forward and backward passes.

* :func:`forward`, :func:`sequence_losses`, :func:`loss_and_grad` work on a batch of token
  sequences (vectorised over the batch and the positions, hand-written backprop).
* :func:`population_loss` / :func:`population_grad` are the *exact* expectation over the task
  distribution of SPEC §1, by one of two methods:

  ``method="enumerate"``
      every sequence of the task once (they are equally likely); any weights, tiny sizes only
      (``Task.n_sequences`` at most :data:`gradflow.task.MAX_ENUMERATED`).
  ``method="symmetric"``
      valid when the weights are invariant under relabelling items and labels (SPEC §3). Then
      every sequence has the loss of the canonical sequence with the same query index, so the
      loss is the mean over the N canonical sequences, and the gradient is the mean canonical
      gradient averaged over the symmetry orbits (:func:`gradflow.symmetry.orbit_average`).
      Exact, any size. Weights that are not invariant (defect above ``INVARIANCE_TOL``) are
      refused with ``ValueError``.

  The default (``method=None``) is ``"symmetric"`` for invariant weights, else ``"enumerate"``.
* :func:`train` runs gradient descent with step ``eta`` on the exact population loss
  (deterministic), or SGD on sampled batches, and records weights and loss.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .symmetry import invariance_defect, orbit_average
from ..._validate import check_int, check_positive
from .task import Task

#: Largest relative invariance defect accepted by ``method="symmetric"``.
INVARIANCE_TOL = 1e-12
#: Sequences per chunk when enumerating.
CHUNK = 4096


def zeros(task: Task):
    """Zero weights ``(W1, W2, W3)`` of the right shapes."""
    d = task.d
    return np.zeros((d, d)), np.zeros((2 * d, 2 * d)), np.zeros((task.L, 4 * d))


def check_weights(W, task: Task):
    """Return ``W`` as three float64 arrays, or raise ``ValueError`` on wrong shapes."""
    if not isinstance(W, (tuple, list)) or len(W) != 3:
        raise ValueError("W must be a tuple (W1, W2, W3)")
    d = task.d
    shapes = ((d, d), (2 * d, 2 * d), (task.L, 4 * d))
    out = []
    for name, M, shape in zip(("W1", "W2", "W3"), W, shapes):
        M = np.asarray(M, dtype=np.float64)
        if M.shape != shape:
            raise ValueError(f"{name} must have shape {shape} for task {task.as_dict()}, got {M.shape}")
        out.append(M)
    return tuple(out)


def _softmax(s, axis=-1):
    s = s - s.max(axis=axis, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=axis, keepdims=True)


def forward(W, tokens, task: Task) -> dict:
    """Forward pass on ``tokens`` ``(B, T)``; returns every intermediate (a dict of arrays).

    Keys: ``X`` one-hot ``(B,T,d)``, ``A1`` ``(B,T,T)``, ``U`` = [e; h1] ``(B,T,2d)``,
    ``qW`` = u_Tᵀ W2 ``(B,2d)``, ``A2`` ``(B,T)``, ``z`` ``(B,4d)``, ``logits`` ``(B,L)``.
    """
    W1, W2, W3 = W
    B, T = tokens.shape
    d = task.d
    X = np.zeros((B, T, d))
    np.put_along_axis(X, tokens[:, :, None], 1.0, axis=2)
    causal = np.tril(np.ones((T, T), dtype=bool))
    S1 = np.where(causal, W1[tokens[:, :, None], tokens[:, None, :]], -np.inf)
    A1 = _softmax(S1)
    H1 = A1 @ X
    U = np.concatenate([X, H1], axis=2)
    qW = U[:, -1, :] @ W2
    A2 = _softmax(np.einsum("bk,btk->bt", qW, U))
    h2 = np.einsum("bt,btk->bk", A2, U)
    z = np.concatenate([X[:, -1], H1[:, -1], h2], axis=1)
    return {"X": X, "A1": A1, "U": U, "qW": qW, "A2": A2, "z": z, "logits": z @ W3.T}


def _nll(logits, targets):
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return lse - logits[np.arange(len(targets)), targets]


def sequence_losses(W, tokens, targets, task: Task) -> np.ndarray:
    """Cross-entropy of each sequence, ``(B,)``."""
    return _nll(forward(W, tokens, task)["logits"], targets)


def loss_and_grad(W, tokens, targets, task: Task, weights=None):
    """Weighted mean loss over a batch and its gradient ``(gW1, gW2, gW3)`` (backprop).

    ``weights`` ``(B,)`` defaults to ``1/B`` each.
    """
    W1, W2, W3 = W
    B, T = tokens.shape
    d = task.d
    w = np.full(B, 1.0 / B) if weights is None else np.asarray(weights, dtype=float)
    f = forward(W, tokens, task)
    X, A1, U, qW, A2, z, logits = (f[k] for k in ("X", "A1", "U", "qW", "A2", "z", "logits"))
    loss = float(w @ _nll(logits, targets))

    # read-out
    dlogits = _softmax(logits)
    dlogits[np.arange(B), targets] -= 1.0
    dlogits *= w[:, None]
    gW3 = dlogits.T @ z
    dz = dlogits @ W3
    dh1_query, dh2 = dz[:, d:2 * d], dz[:, 2 * d:]
    # layer 2: h2 = Σ_u A2[u] U_u, s2_u = qᵀ W2 U_u with q = U_T
    dA2 = np.einsum("bk,btk->bt", dh2, U)
    ds2 = A2 * (dA2 - np.sum(A2 * dA2, axis=1, keepdims=True))
    r = np.einsum("bt,btk->bk", ds2, U)
    gW2 = U[:, -1, :].T @ r
    dU = A2[:, :, None] * dh2[:, None, :] + ds2[:, :, None] * qW[:, None, :]
    dU[:, -1, :] += r @ W2.T
    # layer 1: h1_t = Σ_u A1[t,u] e_u, s_{t,u} = W1[tok_t, tok_u]
    dH1 = dU[:, :, d:]
    dH1[:, -1, :] += dh1_query
    dA1 = np.take_along_axis(dH1, np.broadcast_to(tokens[:, None, :], (B, T, T)), axis=2)
    dS1 = A1 * (dA1 - np.sum(A1 * dA1, axis=2, keepdims=True))
    pair = tokens[:, :, None] * d + tokens[:, None, :]
    gW1 = np.bincount(pair.ravel(), weights=dS1.ravel(), minlength=d * d).reshape(d, d)
    return loss, (gW1, gW2, gW3)


# -- exact population expectation ---------------------------------------------------------
def _resolve_method(W, task: Task, method):
    if method is None:
        return "symmetric" if invariance_defect(W, task) <= INVARIANCE_TOL else "enumerate"
    if method not in ("enumerate", "symmetric"):
        raise ValueError(f"method must be 'enumerate', 'symmetric' or None, got {method!r}")
    if method == "symmetric":
        defect = invariance_defect(W, task)
        if defect > INVARIANCE_TOL:
            raise ValueError(
                f"method='symmetric' needs weights invariant under relabelling tokens; "
                f"relative invariance defect is {defect:.3g} > {INVARIANCE_TOL:g}")
    return method


def population_loss_and_grad(W, task: Task, method: str | None = None, need_grad: bool = True):
    """Exact population loss and (if ``need_grad``) its gradient; see the module docstring."""
    W = check_weights(W, task)
    method = _resolve_method(W, task, method)
    if method == "symmetric":
        tokens, targets = task.canonical()
        if not need_grad:
            return float(sequence_losses(W, tokens, targets, task).mean()), None
        loss, g = loss_and_grad(W, tokens, targets, task)
        return loss, orbit_average(g, task)
    tokens, targets = task.enumerate()
    n = len(targets)
    loss, grad = 0.0, [np.zeros_like(M) for M in W]
    for s in range(0, n, CHUNK):
        tk, tg = tokens[s:s + CHUNK], targets[s:s + CHUNK]
        if need_grad:
            l, g = loss_and_grad(W, tk, tg, task, weights=np.full(len(tg), 1.0 / n))
            for acc, gi in zip(grad, g):
                acc += gi
        else:
            l = float(sequence_losses(W, tk, tg, task).sum() / n)
        loss += l
    return loss, (tuple(grad) if need_grad else None)


def population_loss(W, task: Task, method: str | None = None) -> float:
    """Exact population loss 𝓛(W) of SPEC §2 (see the module docstring for ``method``)."""
    return population_loss_and_grad(W, task, method, need_grad=False)[0]


def population_grad(W, task: Task, method: str | None = None):
    """Exact gradient ``(∂𝓛/∂W1, ∂𝓛/∂W2, ∂𝓛/∂W3)`` of the population loss."""
    return population_loss_and_grad(W, task, method)[1]


# -- training ----------------------------------------------------------------------------
@dataclass
class Trajectory:
    """Recorded training run: ``steps`` and ``t = step·eta`` at each record, the weights and
    the loss there (exact population loss for GD; the batch loss for SGD)."""

    task: Task
    eta: float
    steps: np.ndarray
    loss: np.ndarray
    W: list = field(repr=False)
    mode: str = "gd"
    seconds: float = 0.0

    @property
    def t(self) -> np.ndarray:
        return self.steps * self.eta


def train(task: Task, eta: float, steps: int, *, record_every: int = 1, W0=None,
          batch_size: int | None = None, seed: int = 0, method: str | None = None,
          stop_loss: float | None = None, progress: bool = False) -> Trajectory:
    """Gradient descent on the full weights from ``W0`` (default zero, SPEC §5).

    ``batch_size=None``: deterministic GD on the exact population loss (``method`` as in
    :func:`population_grad`). An integer: SGD on fresh batches sampled with ``seed``.
    Weights and loss are recorded every ``record_every`` steps and at the last step.
    ``stop_loss`` ends the run at the first record whose loss is below it.
    """
    eta = check_positive("eta", eta)
    steps = check_int("steps", steps, 0)
    record_every = check_int("record_every", record_every, 1)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, 1)
    W = tuple(M.copy() for M in (zeros(task) if W0 is None else check_weights(W0, task)))
    rng = np.random.default_rng(seed)
    rec_steps, rec_loss, rec_W = [], [], []
    start = time.perf_counter()
    for step in range(steps + 1):
        if batch_size is None:
            loss, g = population_loss_and_grad(W, task, method)
        else:
            tokens, targets = task.sample(batch_size, rng)
            loss, g = loss_and_grad(W, tokens, targets, task)
        last = step == steps or (stop_loss is not None and loss < stop_loss)
        if step % record_every == 0 or last:
            rec_steps.append(step)
            rec_loss.append(loss)
            rec_W.append(tuple(M.copy() for M in W))
            if progress:
                print(f"\rstep {step}/{steps}  loss {loss:.6f}", end="", file=sys.stderr, flush=True)
        if last:
            break
        W = tuple(M - eta * gi for M, gi in zip(W, g))
    if progress:
        print(file=sys.stderr)
    return Trajectory(task, eta, np.array(rec_steps), np.array(rec_loss), rec_W,
                      "gd" if batch_size is None else "sgd", time.perf_counter() - start)
