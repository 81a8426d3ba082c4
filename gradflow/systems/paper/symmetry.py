"""The symmetry of SPEC-paper, numerically: the weights fixed by the frame rotations, and finite
groups of frames that average exactly.

The data law is invariant under content rotations Q ∈ O(D) and position rotations U ∈ U(D/2)
(real matrices commuting with M). They act on the weights by W1 ↦ g1 W1 g1ᵀ (g1 = diag(Q, U)),
W2 ↦ g2 W2 g2ᵀ (g2 = diag(Q, U, Q, U)), W3 ↦ Q W3 g3ᵀ (g3 = diag(Q, U) four times).

* :func:`fixed_space` computes, per matrix, the weights fixed by a set of group elements (the null
  space of g ⊗ g − I, stacked), from random Haar elements (generic: they generate a dense subgroup)
  or from the finite groups below; SPEC-paper expects dimensions 3, 12 and 4.
* :func:`finite_frames` is a finite group with the same fixed space at D = 2^n (D = 8: N ≤ 3;
  D = 16: N ≤ 7): the real Pauli group 2^{1+2n} (order 2·4^n, absolutely irreducible on R^D) for
  contents and the complex Pauli group on C^{D/2} (order 4^n, irreducible and not self-conjugate
  (its centre acts by i), so as real D×D matrices commuting with M it fixes only span{I, M}) for
  positions. At invariant weights the population gradient is the average over these frames (8192
  at D = 8, 131072 at D = 16); the average is computed through the full model on every frame,
  with nothing projected.
"""

from __future__ import annotations

import itertools

import numpy as np

from .reference import complex_structure


def _as_real(Uc: np.ndarray) -> np.ndarray:
    """A complex n×n matrix as the real 2n×2n matrix acting on pairs (e_{2k}, e_{2k+1}) with i ↦ M."""
    n = Uc.shape[-1]
    U = np.zeros(Uc.shape[:-2] + (2 * n, 2 * n))
    U[..., 0::2, 0::2], U[..., 1::2, 1::2] = Uc.real, Uc.real
    U[..., 1::2, 0::2], U[..., 0::2, 1::2] = Uc.imag, -Uc.imag
    return U


def _kron_all(factors):
    out = np.ones((1, 1))
    for f in factors:
        out = np.kron(out, f)
    return out


def finite_frames(D: int = 8):
    """(contents (2·4^n, D, D), positions (4^n, D, D)), D = 2^n ≥ 4: the two finite groups of the
    module docstring (D = 8: 128 and 64)."""
    n = int(round(np.log2(D)))
    if D < 4 or 2 ** n != D:
        raise ValueError(f"D must be a power of 2 >= 4 for the finite frame groups, got {D}")
    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    Z = np.diag([1.0, -1.0])
    real = [np.eye(2), X, Z, Z @ X]
    contents = [sign * _kron_all(f) for sign in (1.0, -1.0) for f in itertools.product(real, repeat=n)]
    Xc, Zc, Yc = X.astype(complex), Z.astype(complex), np.array([[0, -1j], [1j, 0]])
    pauli = [np.eye(2, dtype=complex), Xc, Yc, Zc]
    positions = [_as_real(phase * _kron_all(f)) for phase in (1, 1j, -1, -1j)
                 for f in itertools.product(pauli, repeat=n - 1)]
    return np.array(contents), np.array(positions)


def _dic3():
    """The 12 elements of the dicyclic group Dic3 = ⟨a, x | a⁶ = 1, x² = a³, x a x⁻¹ = a⁻¹⟩ as pairs
    (ρ(g), χ(g)): ρ its real two-dimensional irreducible representation (through Dic3/⟨a³⟩ = S3:
    a ↦ rotation by 2π/3, x ↦ reflection; absolutely irreducible), χ its linear character a ↦ −1,
    x ↦ i (not real). Dic3 is the smallest group with both."""
    c, s = np.cos(2 * np.pi / 3), np.sin(2 * np.pi / 3)
    R, F = np.array([[c, -s], [s, c]]), np.diag([1.0, -1.0])
    return [(np.linalg.matrix_power(R, k) @ np.linalg.matrix_power(F, j), (-1) ** k * 1j ** j)
            for k in range(6) for j in range(2)]


def coupled_frames(D: int = 8):
    """(contents (24·(D/2)², D, D), positions (same count, D, D)): the frames (Q_g, U_g) of the group
    G = P × Dic3, P the real Pauli group on R^{D/2} (D = 2^n ≥ 8), acting by
    Q_g = A ⊗ ρ(h) and U_g = χ(h) A (complex D/2 × D/2, as a real D × D matrix commuting with M)
    for g = (A, h). Its fixed space on (W1, W2, W3) is the full rotation groups':

    * Q is absolutely irreducible (a tensor product of absolutely irreducible representations of
      the two factors), so W ↦ Q W Qᵀ fixes only multiples of I;
    * U is irreducible over C and not equivalent to its conjugate (χ is not real), so W ↦ U W Uᵀ
      fixes exactly span{I, M};
    * Q (real dimension D) and U (complex dimension D/2) share no component, so the mixed blocks
      W ↦ Q W Uᵀ fix nothing.

    Pairs are returned aligned: frame g is (contents[g], positions[g])."""
    n = int(round(np.log2(D)))
    if D < 8 or 2 ** n != D:
        raise ValueError(f"D must be a power of 2 >= 8 for the coupled frame group, got {D}")
    A_all, _ = finite_frames(D // 2)
    dic3 = _dic3()
    Q = np.array([np.kron(A, rho) for A in A_all for rho, _ in dic3])
    U = np.array([_as_real(chi * A.astype(complex)) for A in A_all for _, chi in dic3])
    return Q, U


def _actions(Q, U):
    g1 = np.block([[Q, np.zeros_like(Q)], [np.zeros_like(Q), U]])
    Z = np.zeros((2 * len(Q), 2 * len(Q)))
    g2 = np.block([[g1, Z], [Z, g1]])
    g3 = np.block([[g2, np.zeros_like(g2)], [np.zeros_like(g2), g2]])
    return {"W1": (g1, g1), "W2": (g2, g2), "W3": (Q, g3)}


def fixed_space(elements, tol: float = 1e-9) -> dict:
    """{matrix: orthonormal basis (k × size) of the weights fixed by every (Q, U) in ``elements``}."""
    out = {}
    for name in ("W1", "W2", "W3"):
        rows = []
        for Q, U in elements:
            left, right = _actions(Q, U)[name]
            rows.append(np.kron(left, right) - np.eye(left.shape[0] * right.shape[0]))
        A = np.vstack(rows)
        _, s, Vt = np.linalg.svd(A)
        out[name] = Vt[np.sum(s > tol * s[0]):]
    return out


def random_elements(D: int, n: int, rng: np.random.Generator):
    """``n`` Haar-random (Q, U), U commuting with the complex structure M of R^D."""
    Q = np.linalg.qr(rng.normal(size=(n, D, D)))[0]
    Zc = rng.normal(size=(n, D // 2, D // 2)) + 1j * rng.normal(size=(n, D // 2, D // 2))
    U = _as_real(np.linalg.qr(Zc)[0])
    M = complex_structure(D)
    assert np.allclose(U @ M, M @ U)
    return list(zip(Q, U))


def basis_in_fixed_space(space: dict, D: int) -> float:
    """Largest distance of a (normalised) basis matrix B_k from the fixed space of its matrix."""
    from .reference import weights
    worst = 0.0
    for k in range(19):
        theta = np.zeros(19)
        theta[k] = 1.0
        for name, W in zip(("W1", "W2", "W3"), weights(theta, D)):
            v = W.ravel() / max(np.linalg.norm(W), 1e-300)
            if np.linalg.norm(W) == 0:
                continue
            B = space[name]
            worst = max(worst, float(np.linalg.norm(v - B.T @ (B @ v))))
    return worst
