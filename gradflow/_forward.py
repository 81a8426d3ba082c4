"""Compiled helpers of the code generator's forward mode (:func:`gradflow.codegen.forward`): the
products of a summand's partial derivatives with its primitives' derivative arrays. Generated
kernels import them (``codegen.FORWARD_IMPORT``)."""

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
def outer2(H, c, u, v, m):
    """H[:m, :m] += c·(u vᵀ + v uᵀ)."""
    for i in range(m):
        cu = c * u[i]
        cv = c * v[i]
        for l in range(m):
            H[i, l] += cu * v[l] + cv * u[l]


@njit(cache=True, nogil=True)
def cross(H, c, u, k, m):
    """H += c·(u e_kᵀ + e_k uᵀ), u supported on its first m entries."""
    for i in range(m):
        H[i, k] += c * u[i]
        H[k, i] += c * u[i]
