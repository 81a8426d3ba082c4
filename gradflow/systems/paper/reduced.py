"""The exact reduced population loss of SPEC-paper on its 19 pseudo-parameters, O(N) per query.

With orthonormal contents and positions every sequence with the same query index q has the same loss
at invariant weights (the frames form one orbit), so 𝓛 = mean over the query law of the loss of the
canonical sequence (derivations/paper/README.md §3). That loss is derived by SymPy with N and the key
index symbolic (:mod:`.derive_loss`, derivations/paper/loss.md) and generated, with its gradient and
Hessian, into the Numba kernels of ``_loss_kernels.py``: sweeps over the 2N keys per query (the
largest score, the softmax normaliser Z, then the read-out's square error with the suffix sums F;
the gradient by reverse mode with a fourth sweep back, the Hessian by forward mode), the softmax
shifted by its largest score and e^{α1}, e^{α3} only in ratios with shifted exponents: stable for
any θ, exact to rounding. It depends on the 19 pseudo-parameters
through 12 effective ones (α2 and β5 … β8 never enter; β3, β9 and β4, β11 only as sums).

At large N with the query last the key sums can be taken by a quadrature rule instead (exact ends,
interpolatory panels in the smooth middle; :mod:`.quadrature`, ``sums="quadrature"``): about 2400
keys at N = 2²⁰, with the error bound stated there.

Two special cases have faster kernels: query last with only α3, β2, γ3 nonzero has a closed form
(``_kernels.py``, O(1), from :mod:`.derive`), and the uniform query with only α3, β2, γ3 nonzero
costs O(N) for all N queries together (``uniform3_*`` in ``_loss_kernels.py``: suffix sums over the
keys after each query, derived by :mod:`.derive_loss` too).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ... import _compile
from ..._validate import check_vector

#: The 19 pseudo-parameters of SPEC-paper §3, in θ order.
NAMES = ("alpha1", "alpha2", "alpha3",
         "beta1", "beta2", "beta3", "beta4", "beta5", "beta6", "beta7", "beta8",
         "beta9", "beta10", "beta11", "beta12",
         "gamma1", "gamma2", "gamma3", "gamma4")
QUERIES = ("last", "uniform")
#: how the sums over the keys are taken: every key, or the quadrature rule of :mod:`.quadrature`
SUMS = ("exact", "quadrature")
#: largest N for the uniform query's O(N²) evaluation (the head alone is O(N): no limit)
UNIFORM_N_MAX = 4096
HEAD_INDEX = np.array([NAMES.index(n) for n in ("alpha3", "beta2", "gamma3")])
OTHERS = np.setdiff1d(np.arange(19), HEAD_INDEX)


def _queries(N: int, query: str) -> np.ndarray:
    return np.array([N]) if query == "last" else np.arange(1, N + 1)


def _check_uniform_size(N: int, query: str) -> None:
    """Refuse the O(N²) uniform-query evaluation above :data:`UNIFORM_N_MAX`."""
    if query == "uniform" and N > UNIFORM_N_MAX:
        raise ValueError(f"N must be at most {UNIFORM_N_MAX} with query='uniform' when parameters other than "
                         f"alpha3, beta2, gamma3 are nonzero or free (O(N²) per evaluation), got {N}")


class _Effective:
    """φ = J θ, the kernels' 12 effective variables from the 19 pseudo-parameters, and back
    (∇_θ = Jᵀ ∇_φ, ∇²_θ = Jᵀ ∇²_φ J), by indexing: J is a 0/1 matrix with one 1 per column at
    most (declared by the derivation, ``_loss_kernels.EFFECTIVE``), so no BLAS call (and no BLAS
    thread) is involved."""

    def __init__(self, effective):
        self.n = len(effective)
        self.pos = np.full(19, -1)                      # effective variable of each θ entry (−1: none)
        for i, (_, parts) in enumerate(effective):
            self.pos[list(parts)] = i
        self.live = np.flatnonzero(self.pos >= 0)

    def phi(self, theta):
        out = np.zeros(self.n)
        np.add.at(out, self.pos[self.live], theta[self.live])
        return out

    def grad(self, g):
        out = np.zeros(19)
        out[self.live] = g[self.pos[self.live]]
        return out

    def hess(self, h):
        out = np.zeros((19, 19))
        out[np.ix_(self.live, self.live)] = h[np.ix_(self.pos[self.live], self.pos[self.live])]
        return out


@lru_cache(maxsize=1)
def _effective():
    """(generated kernels, the map between θ and the kernels' effective variables)."""
    from . import _loss_kernels
    return _loss_kernels, _Effective(_loss_kernels.EFFECTIVE)


def _head_alone(theta) -> bool:
    return not theta[OTHERS].any()


def _check_sums(query: str, sums: str) -> None:
    if sums not in SUMS:
        raise ValueError(f"sums must be one of {', '.join(SUMS)}, got {sums!r}")
    if sums == "quadrature" and query != "last":
        raise ValueError("sums='quadrature' needs query='last' (the uniform query's keys change role at every "
                         "query: its sums are taken exactly)")


def _rule(N: int) -> tuple:
    """The arguments the quadrature kernels take after φ: N, the query (the last) and the rule of
    :mod:`.quadrature` (nodes, weights, panel starts, suffix weights)."""
    from .quadrature import rule
    r = rule(int(N))
    return int(N), int(N), r.nodes, r.weights, r.pstart, r.S


def _quadrature(theta, N: int):
    """(𝓛, ∇_θ𝓛) with the key sums by the rule of :mod:`.quadrature` (query last)."""
    kernels, eff = _effective()
    g = np.zeros(eff.n)
    with _compile.first_call("the paper quadrature kernel"):
        value = kernels.loss19q_jac(eff.phi(theta), *_rule(N), g)
    return float(value), eff.grad(g)


def loss(theta, N: int, query: str = "last", sums: str = "exact") -> float:
    """Population loss 𝓛(θ) (SPEC-paper §2; ½ E‖ŷ − y_q‖², 𝓛(0) = ½): exact, or with the key sums
    by quadrature (``sums="quadrature"``, query last; error bound in :mod:`.quadrature`)."""
    theta = check_vector("theta", theta, 19)
    _check_sums(query, sums)
    kernels, eff = _effective()
    if sums == "quadrature" and not _head_alone(theta):
        return _quadrature(theta, N)[0]
    if query == "uniform" and _head_alone(theta):
        with _compile.first_call("the paper uniform-query head kernel"):
            return float(kernels.uniform3_val(np.ascontiguousarray(theta[HEAD_INDEX]), int(N)))
    _check_uniform_size(N, query)
    with _compile.first_call("the paper loss kernel"):
        return float(kernels.loss19_val(eff.phi(theta), int(N), _queries(N, query)))


_ALL = np.arange(19)


@lru_cache(maxsize=64)
def _head_only(idx_bytes: bytes) -> bool:
    """Whether the wanted indices (as bytes of an int64 array) all lie in the head (cached: the
    solver asks with the same indices at every right-hand side)."""
    return bool(np.all(np.isin(np.frombuffer(idx_bytes, dtype=np.int64), HEAD_INDEX)))


def _head_case(theta, idx) -> bool:
    """Only α3, β2, γ3 wanted and the other 16 at zero: the head kernels apply."""
    return _head_only(idx.tobytes()) and _head_alone(theta)


def loss_and_grad(theta, N: int, query: str = "last", free=None, sums: str = "exact"):
    """(𝓛, ∇_θ𝓛). ``free``: the indices whose entries are wanted (the others are returned as 0).

    Only α3, β2, γ3 wanted and the other 16 at zero: the closed form (query last, O(1)) or the
    generated head kernel (uniform, O(N) for all queries). Otherwise the generated kernel, O(N)
    per query, or with ``sums="quadrature"`` (query last) the quadrature kernel, O(size of the rule)."""
    theta = check_vector("theta", theta, 19)
    _check_sums(query, sums)
    idx = _ALL if free is None else np.asarray(free)
    kernels, eff = _effective()
    full = np.zeros(19)
    if _head_case(theta, idx):
        head = np.ascontiguousarray(theta[HEAD_INDEX])
        if query == "last":
            from . import _kernels
            val, jac = np.zeros(1), np.zeros((1, 3))
            _kernels.last3_jac(head, float(N), val, jac)
            value, full[HEAD_INDEX] = val[0], jac[0]
        else:
            g3 = np.zeros(3)
            with _compile.first_call("the paper uniform-query head kernel"):
                value = kernels.uniform3_jac(head, int(N), g3)
            full[HEAD_INDEX] = g3
    elif sums == "quadrature":
        value, full = _quadrature(theta, N)
    else:
        _check_uniform_size(N, query)
        g = np.zeros(eff.n)
        with _compile.first_call("the paper gradient kernel"):
            value = kernels.loss19_jac(eff.phi(theta), int(N), _queries(N, query), g)
        full = eff.grad(g)
    grad = np.zeros(19)
    grad[idx] = full[idx]
    return float(value), grad


def hessian(theta, N: int, query: str = "last", free=None, sums: str = "exact") -> np.ndarray:
    """Exact Hessian ∇²_θ𝓛 (19×19), the flows' analytic Jacobian for implicit methods. ``free``: the
    indices whose rows and columns are wanted (the others are returned as 0).

    Only α3, β2, γ3 wanted and the other 16 at zero: the closed form (query last, O(1)) or the
    generated head kernel (uniform, O(N)). Otherwise the generated kernel, O(N) per query, or with
    ``sums="quadrature"`` (query last) the quadrature kernel. Rounding: the softmax terms are differences of size |∂s/∂θ|², so the absolute error is about
    ε·(1 + max|∂s/∂θ|)² relative to the largest entry (2e-9 at a saturated softmax with β2 = 9000;
    1e-16 at θ of order 1)."""
    theta = check_vector("theta", theta, 19)
    _check_sums(query, sums)
    idx = _ALL if free is None else np.asarray(free)
    kernels, eff = _effective()
    full = np.zeros((19, 19))
    if _head_case(theta, idx):
        head = np.ascontiguousarray(theta[HEAD_INDEX])
        h3 = np.zeros((3, 3))
        if query == "last":
            from . import _kernels
            h = np.zeros((1, 3, 3))
            _kernels.last3_hess(head, float(N), np.zeros(1), np.zeros((1, 3)), h)
            h3 = h[0]
        else:
            with _compile.first_call("the paper uniform-query head Hessian kernel"):
                kernels.uniform3_hess(head, int(N), np.zeros(3), h3)
        full[np.ix_(HEAD_INDEX, HEAD_INDEX)] = h3
    elif sums == "quadrature":
        g, h = np.zeros(eff.n), np.zeros((eff.n, eff.n))
        with _compile.first_call("the paper quadrature Hessian kernel"):
            kernels.loss19q_hess(eff.phi(theta), *_rule(N), g, h)
        full = eff.hess(h)
    else:
        _check_uniform_size(N, query)
        g, h = np.zeros(eff.n), np.zeros((eff.n, eff.n))
        with _compile.first_call("the paper Hessian kernel"):
            kernels.loss19_hess(eff.phi(theta), int(N), _queries(N, query), g, h)
        full = eff.hess(h)
    H = np.zeros((19, 19))
    H[np.ix_(idx, idx)] = full[np.ix_(idx, idx)]
    return H
