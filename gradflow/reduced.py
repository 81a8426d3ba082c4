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

import numpy as np
from numba import njit, prange

from . import _kernels as kern
from .task import Task

N_BLOCKS = 8          # fixed number of query blocks: results do not depend on the thread count
N_PHI = 8             # α1..α4, cM, cF, cI, cm (the variables of the query and key pieces)
COMPLEX_STEP = 1e-40


@njit(cache=True, parallel=True)
def _reduce(p, g, gam, n_absent, adjoint):
    """Loss and, if ``adjoint``, its derivatives in the key pieces ``p`` (N×8), the query
    pieces ``g`` = (sq, wl) and ``gam`` = (γ1, γ2, γ3). Works on float64 or complex128."""
    N = p.shape[0]
    nb = min(N_BLOCKS, N)
    zero = p[0, 0] * 0.0
    loss_b = np.zeros(nb, dtype=p.dtype)
    pbar_b = np.zeros((nb, N, 8), dtype=p.dtype)
    gbar_b = np.zeros((nb, 2), dtype=p.dtype)
    gambar_b = np.zeros((nb, 3), dtype=p.dtype)
    sq, wl = g[0], g[1]
    g1, g2, g3 = gam[0], gam[1], gam[2]
    w = 1.0 / N
    for b in prange(nb):
        bx = np.empty(N, dtype=p.dtype)
        by = np.empty(N, dtype=p.dtype)
        ex = np.empty(N, dtype=p.dtype)
        ey = np.empty(N, dtype=p.dtype)
        num = np.empty(N, dtype=p.dtype)
        ell = np.empty(N, dtype=p.dtype)
        for i in range((b * N) // nb, ((b + 1) * N) // nb):
            # layer-2 scores of query i: item keys x_j and label keys y_j, by position of j
            M = sq.real
            for j in range(N):
                if j < i:
                    sx, sy = p[j, 0], p[j, 3]
                elif j == i:
                    sx, sy = p[j, 1], p[j, 4]
                else:
                    sx, sy = p[j, 2], p[j, 4]
                bx[j] = sx
                by[j] = sy
                M = max(M, sx.real, sy.real)
            eq = np.exp(sq - M)
            D = eq
            for j in range(N):
                ex[j] = np.exp(bx[j] - M)
                ey[j] = np.exp(by[j] - M)
                D += ex[j] + ey[j]
            invD = 1.0 / D
            # H_ij·D = Σ_{m>j}(ex_m rx_m + ey_m ry_m) + ey_j rz_j + eq wl; logits ℓ_ij
            run = zero
            base = g1 * wl
            lmax = 0.0 if n_absent > 0 else -np.inf
            for j in range(N - 1, -1, -1):
                num[j] = run + ey[j] * p[j, 7] + eq * wl
                run += ex[j] * p[j, 5] + ey[j] * p[j, 6]
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
            invS = 1.0 / S
            s_l = zero
            s_ln = zero
            s_le = zero
            for j in range(N):
                lb = w * (ell[j] * invS - (1.0 if j == i else 0.0))
                ell[j] = lb
                s_l += lb
                s_ln += lb * num[j]
                s_le += lb * ey[j]
            gambar_b[b, 0] += wl * s_l
            gambar_b[b, 1] += invD * s_ln
            gambar_b[b, 2] += invD * s_le
            wlbar = g1 * s_l
            Dbar = -invD * invD * (g2 * s_ln + g3 * s_le)
            before = zero                     # Σ_{j<m} adjoint of num_j
            for m in range(N):
                numbar = ell[m] * g2 * invD
                exbar = before * p[m, 5] + Dbar
                eybar = ell[m] * g3 * invD + numbar * p[m, 7] + before * p[m, 6] + Dbar
                pbar_b[b, m, 5] += before * ex[m]
                pbar_b[b, m, 6] += before * ey[m]
                pbar_b[b, m, 7] += numbar * ey[m]
                sxbar = exbar * ex[m]
                sybar = eybar * ey[m]
                if m < i:
                    pbar_b[b, m, 0] += sxbar
                    pbar_b[b, m, 3] += sybar
                elif m == i:
                    pbar_b[b, m, 1] += sxbar
                    pbar_b[b, m, 4] += sybar
                else:
                    pbar_b[b, m, 2] += sxbar
                    pbar_b[b, m, 4] += sybar
                before += numbar
            gbar_b[b, 0] += (Dbar + wl * before) * eq
            gbar_b[b, 1] += wlbar + eq * before
    return loss_b.sum(), pbar_b.sum(axis=0), gbar_b.sum(axis=0), gambar_b.sum(axis=0)


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
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (19,):
        raise ValueError(f"theta must have shape (19,), got {theta.shape}")
    if not np.all(np.isfinite(theta)):
        raise ValueError("theta must be finite")
    return theta


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
