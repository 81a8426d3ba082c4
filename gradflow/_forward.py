"""Compiled helpers of the code generator's forward mode (:func:`gradflow.codegen.forward`): the
products of a summand's partial derivatives with its primitives' derivative arrays. Generated
kernels import the ones they call (``codegen.forward_import``)."""

from numba import njit


@njit(cache=True, nogil=True)
def axpy(y, c, x, m):
    """y[:m] += c·x[:m]."""
    for i in range(m):
        y[i] += c * x[i]


@njit(cache=True, nogil=True)
def axpy2(Y, c, X, m):
    """Y[:m, :m] += c·X[:m, :m]."""
    for i in range(m):
        for l in range(m):
            Y[i, l] += c * X[i, l]


@njit(cache=True, nogil=True)
def outer1(H, c, u, m):
    """H[:m, :m] += c·u uᵀ."""
    for i in range(m):
        cu = c * u[i]
        for l in range(m):
            H[i, l] += cu * u[l]


@njit(cache=True, nogil=True)
def cross(H, c, u, k, m):
    """H += c·(u e_kᵀ + e_k uᵀ), u supported on its first m entries."""
    for i in range(m):
        H[i, k] += c * u[i]
        H[k, i] += c * u[i]


@njit(cache=True, nogil=True)
def quad2(H, c00, c01, c11, u0, u1, m):
    """H[:m, :m] += Σ_ab c_ab u_a u_bᵀ for two vectors (c symmetric): one pass over H."""
    for i in range(m):
        w0 = c00 * u0[i] + c01 * u1[i]
        w1 = c01 * u0[i] + c11 * u1[i]
        for l in range(m):
            H[i, l] += w0 * u0[l] + w1 * u1[l]


@njit(cache=True, nogil=True)
def quad4(H, c00, c01, c02, c03, c11, c12, c13, c22, c23, c33, u0, u1, u2, u3, m):
    """H[:m, :m] += Σ_ab c_ab u_a u_bᵀ for four vectors (c symmetric): one pass over H."""
    for i in range(m):
        a0, a1, a2, a3 = u0[i], u1[i], u2[i], u3[i]
        w0 = c00 * a0 + c01 * a1 + c02 * a2 + c03 * a3
        w1 = c01 * a0 + c11 * a1 + c12 * a2 + c13 * a3
        w2 = c02 * a0 + c12 * a1 + c22 * a2 + c23 * a3
        w3 = c03 * a0 + c13 * a1 + c23 * a2 + c33 * a3
        for l in range(m):
            H[i, l] += w0 * u0[l] + w1 * u1[l] + w2 * u2[l] + w3 * u3[l]
