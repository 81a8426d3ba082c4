"""The reduced population loss 𝓛(θ; N, L) of SPEC §4, its gradient and its Hessian.

The generated kernels (:mod:`._kernels`) give the closed-form pieces and their
derivatives; this module holds the one hand-written part, the reduction over positions:

* per query i, the layer-2 softmax over the 2N + 1 keys (exponentials shifted as in a
  log-sum-exp, see :func:`_blocks`), the suffix sums that build H_ij, and the label log-sum-exp
  with the L − N absent labels: O(N) per query, O(N²) in all, over 8 fixed blocks of queries;
* its adjoint (reverse mode), giving ∂𝓛/∂(pieces) in the same O(N²).

Threads. One compiled, GIL-free block kernel serves every thread count: below
:data:`THREADS_MIN_N` (measured: 2 threads gave 1.39-1.57× at N = 128-256, about 1.4-2× above;
benchmarks/results/tokens/first_hour.md) the blocks run in the
calling thread; from it on they are split over a pool of ``threads()`` Python threads (the
``threads`` argument of :func:`gradflow.solve`, or the environment variable ``GRADFLOW_THREADS``).
Idle workers block instead of spinning, so a busy machine slows a solve down but does not make it
collapse, and since the blocks and the order in which their partial sums are added are fixed, the
result is bit-identical for every thread count.

Chain rule: θ → φ = (α, c(α, β), γ) → pieces → 𝓛. The Hessian differentiates the adjoint
once more in forward mode along each of the 11 directions of φ. That tangent of the
hand-written adjoint is propagated by the complex step (the same compiled code run on
complex128 inputs ``x + i·h·ẋ``, h = 1e-40): it has no truncation or cancellation error, so
the result is exact to rounding. The second derivatives of the pieces come from SymPy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit

from ... import _cache, _compile, _threads
from ..._validate import check_vector
from . import _kernels as kern
from .task import Task

_cache.ensure_fresh(Path(__file__).resolve().parent, ("_kernels.py", "reduced.py"))

N_BLOCKS = 8          # fixed number of query blocks: results do not depend on the thread count
N_PHI = 8             # α1..α4, cM, cF, cI, cm (the variables of the query and key pieces)
COMPLEX_STEP = 1e-40
SHIFT_LIMIT = 300.0   # a query's largest term is at least e^-300 after its shift: 1/D < e^300
#: smallest N at which the blocks are split over threads (below it one thread is faster)
THREADS_MIN_N = 256


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _blocks(p, g, gam, n_absent, adjoint, b0, b1, loss_b, pbar_b, gbar_b, gambar_b):
    """Loss and, if ``adjoint``, its derivatives in the key pieces ``p`` (N×8), the query pieces
    ``g`` = (sq, wl) and ``gam`` = (γ1, γ2, γ3), for the query blocks b0 ≤ b < b1 (of
    N_BLOCKS), written to row b of the outputs. Works on float64 or complex128.

    Blocked shifts: a run of consecutive queries whose largest scores lie within SHIFT_LIMIT of
    each other shares one set of key exponentials, shifted by the run's largest score (before
    emergence one run spans every query); a run of one or two queries computes only its own
    2N + 1 exponentials. No term can overflow and none that matters underflows. Inner loops run
    over key ranges j < i, j = i, j > i separately (no branches), on contiguous rows of pᵀ.

    Called from Python only (a compiled caller would re-optimise this body: seconds of compiling
    per caller); ``adjoint`` must be a runtime bool, never a literal, for the same reason."""
    N = p.shape[0]
    pt = np.ascontiguousarray(p.T)
    # the largest score among each query's keys, and the largest of all
    M = g[0].real
    for f in range(5):
        for j in range(N):
            M = max(M, pt[f, j].real)
    own_max = np.empty(N)
    run_max = g[0].real
    for i in range(N):                    # prefix: keys j < i, then this query's own j = i
        own_max[i] = max(run_max, pt[1, i].real, pt[4, i].real)
        run_max = max(run_max, pt[0, i].real, pt[3, i].real)
    run_max = -np.inf
    for i in range(N - 1, -1, -1):        # suffix: keys j > i
        own_max[i] = max(own_max[i], run_max)
        run_max = max(run_max, pt[2, i].real, pt[4, i].real)
    nb = min(N_BLOCKS, N)
    sxb, sxa, sxf, syb, syf, rx, ry, rz = pt[0], pt[1], pt[2], pt[3], pt[4], pt[5], pt[6], pt[7]
    zero = pt[0, 0] * 0.0
    sq, wl = g[0], g[1]
    g1, g2, g3 = gam[0], gam[1], gam[2]
    w = 1.0 / N
    E = np.empty((5, N), dtype=pt.dtype)
    ex = np.empty(N, dtype=pt.dtype)
    ey = np.empty(N, dtype=pt.dtype)
    num = np.empty(N, dtype=pt.dtype)
    ell = np.empty(N, dtype=pt.dtype)
    bef = np.empty(N, dtype=pt.dtype)
    for b in range(b0, b1):
        lo, hi = (b * N) // nb, ((b + 1) * N) // nb
        run_end = lo                       # queries < run_end are covered by the current shift
        shared = False
        shift = M
        eq = zero
        for i in range(lo, hi):
            if i >= run_end:
                # the longest run i..k-1 whose largest scores lie within SHIFT_LIMIT of each other
                top = own_max[i]
                bottom = own_max[i]
                k = i + 1
                while k < hi:
                    t2, b2 = max(top, own_max[k]), min(bottom, own_max[k])
                    if t2 - b2 > SHIFT_LIMIT:
                        break
                    top, bottom, k = t2, b2, k + 1
                run_end = k
                shared = k - i > 2
                if shared:
                    shift = M if M - bottom <= SHIFT_LIMIT else top
                    for f in range(5):
                        for j in range(N):
                            E[f, j] = np.exp(pt[f, j] - shift)
            if shared:
                eq = np.exp(sq - shift)
                for j in range(i):
                    ex[j] = E[0, j]
                    ey[j] = E[3, j]
                ex[i] = E[1, i]
                for j in range(i + 1, N):
                    ex[j] = E[2, j]
                for j in range(i, N):
                    ey[j] = E[4, j]
            else:
                own = own_max[i]
                eq = np.exp(sq - own)
                for j in range(i):
                    ex[j] = np.exp(sxb[j] - own)
                    ey[j] = np.exp(syb[j] - own)
                ex[i] = np.exp(sxa[i] - own)
                for j in range(i + 1, N):
                    ex[j] = np.exp(sxf[j] - own)
                for j in range(i, N):
                    ey[j] = np.exp(syf[j] - own)
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
            for m in range(i):
                pb[0, m] += ex[m]
                pb[3, m] += ey[m]
            pb[1, i] += ex[i]
            for m in range(i + 1, N):
                pb[2, m] += ex[m]
            for m in range(i, N):
                pb[4, m] += ey[m]
            gbar_b[b, 0] += (Dbar + wl * before) * eq
            gbar_b[b, 1] += g1 * s_l + eq * before


def _allocate(N, dtype):
    nb = min(N_BLOCKS, N)
    return (np.zeros(nb, dtype=dtype), np.zeros((nb, 8, N), dtype=dtype), np.zeros((nb, 2), dtype=dtype),
            np.zeros((nb, 3), dtype=dtype))


def _reduce_blocks(p, g, gam, n_absent, adjoint):
    """Per-block partial sums (loss_b, pbar_b, gbar_b, gambar_b) of every block, on one thread
    below THREADS_MIN_N and split over ``_threads.count()`` threads from it on."""
    N = p.shape[0]
    nb = min(N_BLOCKS, N)
    outs = _allocate(N, p.dtype)
    workers = 1 if N < THREADS_MIN_N else min(_threads.count(), nb)
    cuts = [(k * nb) // workers for k in range(workers + 1)]
    _threads.run([(_blocks, (p, g, gam, n_absent, adjoint, cuts[k], cuts[k + 1]) + outs)
                  for k in range(workers)])
    return outs


def _reduce(p, g, gam, n_absent, adjoint):
    """(loss, ∂/∂p (N×8), ∂/∂g (2), ∂/∂γ (3)), the blocks added in block order (the same order
    for every thread count); the adjoints are zero unless ``adjoint``."""
    loss_b, pbar_b, gbar_b, gambar_b = _reduce_blocks(p, g, gam, n_absent, adjoint)
    return loss_b.sum(), pbar_b.sum(axis=0).T.copy(), gbar_b.sum(axis=0), gambar_b.sum(axis=0)


@njit(cache=True, nogil=True)
def _pieces_jac(theta, N):
    """The pieces and their first derivatives: c, Jc (4×19), g, Jg (2×8), p (N×8), Jp (N×8×8)."""
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
    return Jc, g, Jg, p, Jp


@njit(cache=True, nogil=True)
def _chain(Jc, Jg, Jp, loss_b, pbar_b, gbar_b, gambar_b):
    """(𝓛, ∇_θ𝓛) from the blocks' partial sums (added in block order) and the pieces'
    derivatives: the chain rule through φ = (α, c(θ), γ). Explicit loops: no BLAS call to compile."""
    nb, _, N = pbar_b.shape
    loss = 0.0
    gbar = np.zeros(2)
    gambar = np.zeros(3)
    dphi = np.zeros(N_PHI)
    for b in range(nb):
        loss += loss_b[b]
        for a in range(2):
            gbar[a] += gbar_b[b, a]
        for a in range(3):
            gambar[a] += gambar_b[b, a]
    for a in range(2):
        for k in range(N_PHI):
            dphi[k] += Jg[a, k] * gbar[a]
    for j in range(N):
        for a in range(8):
            pbar = pbar_b[0, a, j]
            for b in range(1, nb):
                pbar += pbar_b[b, a, j]
            for k in range(N_PHI):
                dphi[k] += Jp[j, a, k] * pbar
    out = np.zeros(19)
    for k in range(4):
        out[k] = dphi[k]
    for a in range(4):
        for k in range(19):
            out[k] += Jc[a, k] * dphi[4 + a]
    for a in range(3):
        out[16 + a] += gambar[a]
    return loss, out


def _loss_grad(theta, N, n_absent):
    """Loss and gradient in θ (length 19): pieces, blocks, chain rule (three compiled calls)."""
    Jc, g, Jg, p, Jp = _pieces_jac(theta, N)
    outs = _reduce_blocks(p, g, theta[16:].copy(), n_absent, True)
    return _chain(Jc, Jg, Jp, *outs)


def _check(theta, task):
    if not isinstance(task, Task):
        raise ValueError(f"task must be a gradflow Task, e.g. Task({task!r}), got {type(task).__name__}")
    return check_vector("theta", theta, 19), task


def loss(theta, task: Task) -> float:
    """Exact population loss 𝓛(θ) on the 19-dimensional subspace (SPEC §4); θ in NAMES order.
    (It shares the gradient's compiled pieces, so a fresh install compiles one set of kernels.)"""
    theta, task = _check(theta, task)
    with _compile.first_call("the tokens loss and gradient kernels"):
        _, g, _, p, _ = _pieces_jac(theta, task.N)
        return float(_reduce_blocks(p, g, theta[16:].copy(), float(task.L - task.N), False)[0].sum())


def loss_and_grad(theta, task: Task):
    """``(𝓛(θ), ∇_θ𝓛(θ))``."""
    theta, task = _check(theta, task)
    with _compile.first_call("the tokens loss and gradient kernels"):
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
    theta, task = _check(theta, task)
    with _compile.first_call("the tokens Hessian kernels"):
        return _hessian(theta, task)


def _hessian(theta, task, symmetrise=True):
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
    return 0.5 * (H + H.T) if symmetrise else H
