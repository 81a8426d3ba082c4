"""The reduced population loss 𝓛(θ; N, L) of SPEC §4, its gradient and its Hessian.

The generated kernels (:mod:`gradflow._kernels`) give the closed-form pieces and their
derivatives; this module holds the one hand-written part, the reduction over positions:

* per query i, the layer-2 softmax over the 2N + 1 keys (log-sum-exp shifted by the query's
  largest score), the suffix sums that build H_ij, and the label log-sum-exp with the L − N
  absent labels: O(N) per query, O(N²) in all, run in parallel over blocks of queries;
* its adjoint (reverse mode), giving ∂𝓛/∂(pieces) in the same O(N²).

Chain rule: θ → φ = (α, c(α, β), γ) → pieces → 𝓛. The Hessian differentiates the adjoint
once more in forward mode along each of the 11 directions of φ. That tangent of the
hand-written adjoint is propagated by the complex step (the same compiled code run on
complex128 inputs ``x + i·h·ẋ``, h = 1e-40): it has no truncation or cancellation error, so
the result is exact to rounding. The second derivatives of the pieces come from SymPy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit, prange

from ... import _cache
from ..._validate import check_vector
from . import _kernels as kern
from .task import Task

_cache.ensure_fresh(Path(__file__).resolve().parent, ("_kernels.py", "reduced.py"))

N_BLOCKS = 8          # fixed number of query blocks: results do not depend on the thread count
N_PHI = 8             # α1..α4, cM, cF, cI, cm (the variables of the query and key pieces)
COMPLEX_STEP = 1e-40
SHARED_SHIFT_LIMIT = 300.0   # see _reduce: 1/D stays below e^300, far from overflow


@njit(cache=True, parallel=True, fastmath={"reassoc", "contract"})
def _reduce(p, g, gam, n_absent, adjoint):
    """Loss and, if ``adjoint``, its derivatives in the key pieces ``p`` (N×8), the query
    pieces ``g`` = (sq, wl) and ``gam`` = (γ1, γ2, γ3). Works on float64 or complex128.

    Inner loops run over key ranges j < i, j = i, j > i separately (no branches), on
    contiguous rows of ``pt = pᵀ``; the only sequential loops are the two prefix sums."""
    N = p.shape[0]
    nb = min(N_BLOCKS, N)
    pt = np.ascontiguousarray(p.T)
    sxb, sxa, sxf, syb, syf, rx, ry, rz = pt[0], pt[1], pt[2], pt[3], pt[4], pt[5], pt[6], pt[7]
    zero = p[0, 0] * 0.0
    loss_b = np.zeros(nb, dtype=p.dtype)
    pbar_b = np.zeros((nb, 8, N), dtype=p.dtype)
    gbar_b = np.zeros((nb, 2), dtype=p.dtype)
    gambar_b = np.zeros((nb, 3), dtype=p.dtype)
    sq, wl = g[0], g[1]
    g1, g2, g3 = gam[0], gam[1], gam[2]
    w = 1.0 / N
    # Exponentials of every key score, shifted by the largest score of all queries, are shared
    # by all queries. A query whose own largest score lies more than SHARED_SHIFT_LIMIT below it
    # (so that its terms could underflow) is recomputed with its own shift.
    M = sq.real
    for f in range(5):
        for j in range(N):
            M = max(M, pt[f, j].real)
    E = np.exp(pt[:5] - M)
    own_max = np.empty(N)                 # largest score among query i's keys
    run_max = sq.real
    for i in range(N):                    # prefix: keys j < i, then this query's own j = i
        own_max[i] = max(run_max, sxa[i].real, syf[i].real)
        run_max = max(run_max, sxb[i].real, syb[i].real)
    run_max = -np.inf
    for i in range(N - 1, -1, -1):        # suffix: keys j > i
        own_max[i] = max(own_max[i], run_max)
        run_max = max(run_max, sxf[i].real, syf[i].real)
    eq_shared = np.exp(sq - M)
    for b in prange(nb):
        ex = np.empty(N, dtype=p.dtype)
        ey = np.empty(N, dtype=p.dtype)
        num = np.empty(N, dtype=p.dtype)
        ell = np.empty(N, dtype=p.dtype)
        bef = np.empty(N, dtype=p.dtype)
        for i in range((b * N) // nb, ((b + 1) * N) // nb):
            # layer-2 attention of query i on item keys x_j and label keys y_j
            if M - own_max[i] <= SHARED_SHIFT_LIMIT:
                eq = eq_shared
                ex[:i] = E[0, :i]
                ey[:i] = E[3, :i]
                ex[i] = E[1, i]
                ex[i + 1:] = E[2, i + 1:]
                ey[i:] = E[4, i:]
            else:
                shift = own_max[i]
                eq = np.exp(sq - shift)
                ex[:i] = np.exp(sxb[:i] - shift)
                ey[:i] = np.exp(syb[:i] - shift)
                ex[i] = np.exp(sxa[i] - shift)
                ex[i + 1:] = np.exp(sxf[i + 1:] - shift)
                ey[i:] = np.exp(syf[i:] - shift)
            D = eq
            for j in range(N):
                D += ex[j] + ey[j]
            invD = 1.0 / D
            # D·H_ij = Σ_{m>j}(ex_m rx_m + ey_m ry_m) + ey_j rz_j + eq wl (a suffix sum)
            run = eq * wl
            for j in range(N - 1, -1, -1):
                num[j] = run + ey[j] * rz[j]
                run += ex[j] * rx[j] + ey[j] * ry[j]
            # logits ℓ_ij of the context labels; the L − N absent labels have logit 0
            base = g1 * wl
            lmax = 0.0 if n_absent > 0 else -np.inf
            for j in range(N):
                ell[j] = base + (g2 * num[j] + g3 * ey[j]) * invD
                lmax = max(lmax, ell[j].real)
            ell_ii = ell[i]
            S = zero + n_absent * np.exp(-lmax)
            for j in range(N):
                ell[j] = np.exp(ell[j] - lmax)
                S += ell[j]
            loss_b[b] += w * (lmax + np.log(S) - ell_ii)
            if not adjoint:
                continue
            # reverse sweep: ell[j] becomes the adjoint of ℓ_ij
            c = w / S
            for j in range(N):
                ell[j] *= c
            ell[i] -= w
            s_l = zero
            s_ln = zero
            s_le = zero
            for j in range(N):
                s_l += ell[j]
                s_ln += ell[j] * num[j]
                s_le += ell[j] * ey[j]
            gambar_b[b, 0] += wl * s_l
            gambar_b[b, 1] += invD * s_ln
            gambar_b[b, 2] += invD * s_le
            Dbar = -invD * ((g2 * s_ln + g3 * s_le) * invD)   # never invD², which can overflow
            # adjoint of num_j is ell_j·g2/D; bef[m] = Σ_{j<m} of it (the suffix sum's adjoint)
            g2D, g3D = g2 * invD, g3 * invD
            before = zero
            for m in range(N):
                bef[m] = before
                before += ell[m] * g2D
            pb = pbar_b[b]
            for m in range(N):
                pb[5, m] += bef[m] * ex[m]
                pb[6, m] += bef[m] * ey[m]
                pb[7, m] += ell[m] * g2D * ey[m]
                ex[m] *= bef[m] * rx[m] + Dbar                       # becomes the adjoint of sx
                ey[m] *= ell[m] * (g3D + g2D * rz[m]) + bef[m] * ry[m] + Dbar   # of sy
            pb[0, :i] += ex[:i]
            pb[3, :i] += ey[:i]
            pb[1, i] += ex[i]
            pb[2, i + 1:] += ex[i + 1:]
            pb[4, i:] += ey[i:]
            gbar_b[b, 0] += (Dbar + wl * before) * eq
            gbar_b[b, 1] += g1 * s_l + eq * before
    return loss_b.sum(), pbar_b.sum(axis=0).T.copy(), gbar_b.sum(axis=0), gambar_b.sum(axis=0)


@njit(cache=True)
def _pieces_val(theta, N):
    c = np.zeros(4)
    kern.coefficients_val(theta, float(N), c)
    phi = np.concatenate((theta[:4], c))
    g = np.zeros(2)
    kern.query_val(phi, float(N), g)
    p = np.zeros((N, 8))
    for j in range(N):
        kern.key_val(phi, j + 1.0, p[j])
    return p, g


@njit(cache=True)
def _loss_grad(theta, N, n_absent):
    """Loss and gradient in θ (length 19)."""
    c = np.zeros(4)
    Jc = np.zeros((4, 19))
    kern.coefficients_jac(theta, float(N), c, Jc)
    phi = np.concatenate((theta[:4], c))
    g = np.zeros(2)
    Jg = np.zeros((2, N_PHI))
    kern.query_jac(phi, float(N), g, Jg)
    p = np.zeros((N, 8))
    Jp = np.zeros((N, 8, N_PHI))
    for j in range(N):
        kern.key_jac(phi, j + 1.0, p[j], Jp[j])
    loss, pbar, gbar, gambar = _reduce(p, g, theta[16:], n_absent, True)
    dphi = Jg.T @ gbar
    for j in range(N):
        dphi += Jp[j].T @ pbar[j]
    out = Jc.T @ dphi[4:]
    out[:4] += dphi[:4]
    out[16:] += gambar
    return loss, out


def _check_theta(theta) -> np.ndarray:
    return check_vector("theta", theta, 19)


def loss(theta, task: Task) -> float:
    """Exact population loss 𝓛(θ) on the 19-dimensional subspace (SPEC §4); θ in NAMES order."""
    theta = _check_theta(theta)
    p, g = _pieces_val(theta, task.N)
    return float(_reduce(p, g, theta[16:], float(task.L - task.N), False)[0])


def loss_and_grad(theta, task: Task):
    """``(𝓛(θ), ∇_θ𝓛(θ))``."""
    theta = _check_theta(theta)
    value, g = _loss_grad(theta, task.N, float(task.L - task.N))
    return float(value), g


def grad(theta, task: Task) -> np.ndarray:
    """Exact gradient ∇_θ𝓛 (length 19)."""
    return loss_and_grad(theta, task)[1]


@njit(cache=True)
def _second_order_pieces(theta, N):
    c = np.zeros(4)
    Jc = np.zeros((4, 19))
    Hc = np.zeros((4, 19, 19))
    kern.coefficients_hess(theta, float(N), c, Jc, Hc)
    phi = np.concatenate((theta[:4], c))
    g = np.zeros(2)
    Jg = np.zeros((2, N_PHI))
    Hg = np.zeros((2, N_PHI, N_PHI))
    kern.query_hess(phi, float(N), g, Jg, Hg)
    p = np.zeros((N, 8))
    Jp = np.zeros((N, 8, N_PHI))
    Hp = np.zeros((N, 8, N_PHI, N_PHI))
    for j in range(N):
        kern.key_hess(phi, j + 1.0, p[j], Jp[j], Hp[j])
    return c, Jc, Hc, g, Jg, Hg, p, Jp, Hp


def hessian(theta, task: Task) -> np.ndarray:
    """Exact Hessian ∇²_θ𝓛 (19×19), for the flows' analytic Jacobians."""
    theta = _check_theta(theta)
    n_absent = float(task.L - task.N)
    c, Jc, Hc, g, Jg, Hg, p, Jp, Hp = _second_order_pieces(theta, task.N)
    gam = theta[16:]
    _, pbar, gbar, gambar = _reduce(p, g, gam, n_absent, True)
    dphi = Jg.T @ gbar + np.einsum("jak,ja->k", Jp, pbar)
    # Hessian of f(φ) over the 11 effective variables φ = (α, c, γ)
    Hf = np.zeros((11, 11))
    h = COMPLEX_STEP
    for k in range(11):
        pt, gt, tt = p.astype(complex), g.astype(complex), gam.astype(complex)
        if k < N_PHI:
            pt += 1j * h * Jp[:, :, k]
            gt += 1j * h * Jg[:, k]
        else:
            tt[k - N_PHI] += 1j * h
        _, pb, gb, tb = _reduce(pt, gt, tt, n_absent, True)
        pb, gb, tb = pb.imag / h, gb.imag / h, tb.imag / h
        Hf[:N_PHI, k] = np.einsum("jal,ja->l", Jp, pb) + Jg.T @ gb
        Hf[N_PHI:, k] = tb
        if k < N_PHI:
            Hf[:N_PHI, k] += np.einsum("ja,jal->l", pbar, Hp[:, :, :, k]) + gbar @ Hg[:, :, k]
    # back to θ: φ = (α, c(θ), γ)
    Jphi = np.zeros((11, 19))
    Jphi[:4, :4] = np.eye(4)
    Jphi[4:8] = Jc
    Jphi[8:, 16:] = np.eye(3)
    H = Jphi.T @ Hf @ Jphi + np.einsum("c,ckl->kl", dphi[4:], Hc)
    return 0.5 * (H + H.T)
