"""The paper system's reduced loss against its full-weight reference (SPEC-paper)."""

import numpy as np
import pytest

from gradflow.systems.paper import reduced as red
from gradflow.systems.paper import reference as ref


@pytest.mark.parametrize("N", [2, 3, 5, 8, 16])
@pytest.mark.parametrize("query", ["last", "uniform"])
def test_reduced_loss_and_gradient_equal_the_full_model(N, query):
    """𝓛 and ∇_θ𝓛 (the generated kernels, derived with N symbolic) against the full model on the
    canonical sequences, the gradient projected on the basis: 1e-12 relative (measured ≤ 9e-16)."""
    rng = np.random.default_rng(N + (query == "uniform"))
    D = ref.check_D(N, None)
    for scale in (0.3, 1.5):
        theta = rng.normal(size=19) * scale
        loss_ref, grad_ref = ref.theta_gradient(theta, N, D, query)
        value, grad = red.loss_and_grad(theta, N, query)
        assert abs(value - loss_ref) <= 1e-12 * abs(loss_ref)
        assert abs(red.loss(theta, N, query) - loss_ref) <= 1e-12 * abs(loss_ref)
        assert np.max(np.abs(grad - grad_ref)) <= 1e-12 * np.max(np.abs(grad_ref))


def test_loss_is_the_same_in_every_frame_at_invariant_weights():
    """Orthonormal contents and positions: every frame of a sequence gives the same loss when W is
    invariant, so the population loss is the canonical one (1e-12), and Monte Carlo agrees."""
    N, D = 4, 10
    rng = np.random.default_rng(5)
    theta = rng.normal(size=19) * 0.8
    W = ref.weights(theta, D)
    E, Y = ref.random_frames(N, D, np.full(6, N), rng)
    losses = 0.5 * np.sum((ref.forward(W, E)["y"] - Y) ** 2, axis=1)
    assert np.max(np.abs(losses - red.loss(theta, N, "last"))) <= 1e-12
    mean, se = ref.monte_carlo_loss(W, N, "uniform", 400, rng)
    assert abs(mean - red.loss(theta, N, "uniform")) <= 4 * se + 1e-12
    assert se > 1e-3                                  # uniform queries differ: the comparison has teeth


def test_the_full_model_depends_on_the_frame_for_non_invariant_weights():
    N, D = 3, 8
    rng = np.random.default_rng(1)
    W = [M + 0.3 * rng.normal(size=M.shape) for M in ref.weights(rng.normal(size=19), D)]
    E, Y = ref.random_frames(N, D, np.full(4, N), rng)
    losses = 0.5 * np.sum((ref.forward(W, E)["y"] - Y) ** 2, axis=1)
    assert np.ptp(losses) > 1e-3


def test_backprop_matches_central_differences():
    """h = 1e-6: relative error ≤ 1e-5 on entries with |∂| > 1e-3 (measured ≤ 3e-7)."""
    N, D = 3, 8
    rng = np.random.default_rng(2)
    W = [M + 0.1 * rng.normal(size=M.shape) for M in ref.weights(rng.normal(size=19) * 0.5, D)]
    E, Y = ref.random_frames(N, D, np.array([1, 2, 3]), rng)
    _, g = ref.loss_and_grad(W, E, Y)
    h = 1e-6
    for m in range(3):
        big = np.argwhere(np.abs(g[m]) > 1e-3)
        for idx in big[rng.choice(len(big), size=min(15, len(big)), replace=False)]:
            idx = tuple(idx)
            Wp = [X.copy() for X in W]
            Wm = [X.copy() for X in W]
            Wp[m][idx] += h
            Wm[m][idx] -= h
            fd = (ref.loss_and_grad(Wp, E, Y)[0] - ref.loss_and_grad(Wm, E, Y)[0]) / (2 * h)
            assert abs(fd - g[m][idx]) <= 1e-5 * abs(fd)


def test_three_parameter_kernel_equals_the_general_evaluation():
    """The SymPy-generated closed form (query last, only α3, β2, γ3) against the O(N) evaluation,
    including scores that would overflow a naive form (1e-12 relative)."""
    from gradflow.systems.paper import _kernels
    for N, vals in ((3, (0.7, -1.3, 2.1)), (64, (2.0, 30.0, 1.0)), (5000, (8.0, 9000.0, 1.5)),
                    (10, (-700.0, 800.0, 0.5))):
        theta = np.zeros(19)
        theta[red.HEAD_INDEX] = vals
        full_value, full_grad = red.loss_and_grad(theta, N, "last")          # general kernel, all 19
        value, grad = red.loss_and_grad(theta, N, "last", free=red.HEAD_INDEX)
        assert abs(value - full_value) <= 1e-12 * abs(full_value)
        assert np.max(np.abs(grad[red.HEAD_INDEX] - full_grad[red.HEAD_INDEX])) <= 1e-12 * max(np.max(np.abs(full_grad)), 1e-300) + 1e-300
        assert np.all(grad[red.OTHERS] == 0)                                  # not wanted: not computed
        H = np.zeros((1, 3, 3))
        _kernels.last3_hess(np.array(vals), float(N), np.zeros(1), np.zeros((1, 3)), H)
        H_full = red.hessian(theta, N, "last")[np.ix_(red.HEAD_INDEX, red.HEAD_INDEX)]
        # the general kernel's rounding grows as ε·(1 + max|∂s/∂θ|)², ∂s/∂α3 = β2 a(1 − a) ≤ β2/4:
        # at β2 = 9000 (a saturated softmax) that is 1e-8; measured 2e-9
        kappa = (1 + abs(vals[1]) / 4) ** 2
        assert np.max(np.abs(H[0] - H_full)) <= 1e-15 * kappa * max(np.max(np.abs(H_full)), 1e-300) + 1e-300


def test_uniform_query_head_kernel_equals_the_general_evaluation():
    """Uniform query, only α3, β2, γ3 nonzero: the generated O(N) head kernel (suffix sums with a
    running shift) against the generated O(N²) general kernel, loss, gradient and Hessian: 1e-12
    relative (measured 3.1e-16, 4.6e-15, 6.7e-15), including a large β2 (shifted exponents; there the Hessian's
    rounding grows as ε·(1 + β2/4)², see reduced.hessian); with another parameter nonzero the
    O(N²) path is used and refused above UNIFORM_N_MAX."""
    head = np.ix_(red.HEAD_INDEX, red.HEAD_INDEX)
    for N, vals in ((2, (0.3, -0.8, 1.2)), (7, (1.5, 2.5, 0.9)), (33, (-2.0, 60.0, 1.1)), (100, (4.0, 700.0, 1.0))):
        theta = np.zeros(19)
        theta[red.HEAD_INDEX] = vals
        value, g = red.loss_and_grad(theta, N, "uniform", free=red.HEAD_INDEX)     # the head kernel
        slow, g_slow = red.loss_and_grad(theta, N, "uniform")                       # all 19: the general one
        assert abs(red.loss(theta, N, "uniform") - slow) <= 1e-12 * abs(slow)
        assert abs(value - slow) <= 1e-12 * abs(slow)
        # at β2 = 700 the gradient is ~1e-129 (saturated softmax): compared with a 1e-100 floor
        assert np.max(np.abs(g[red.HEAD_INDEX] - g_slow[red.HEAD_INDEX])) <= 1e-12 * max(np.max(np.abs(g_slow)), 1e-100)
        assert np.all(g[red.OTHERS] == 0)
        H = red.hessian(theta, N, "uniform", free=red.HEAD_INDEX)
        H_slow = red.hessian(theta, N, "uniform")[head]
        kappa = (1 + abs(vals[1]) / 4) ** 2
        assert np.max(np.abs(H[head] - H_slow)) <= 1e-15 * kappa * max(np.max(np.abs(H_slow)), 1e-100)
        assert not np.any(np.delete(H, red.HEAD_INDEX, axis=0))
    theta = np.zeros(19)
    theta[red.NAMES.index("beta1")] = 0.1
    with pytest.raises(ValueError, match="^N must be at most 4096 with query='uniform'"):
        red.loss(theta, 5000, "uniform")


@pytest.mark.parametrize("N", [2, 3, 6])
@pytest.mark.parametrize("query", ["last", "uniform"])
def test_hessian_equals_the_complex_step_of_the_full_model(N, query):
    """The generated Hessian against the full model's projected gradient differentiated by the
    complex step (θ + 1e-40i·e_k: exact to rounding, no truncation error): 1e-12 of the largest
    entry (measured ≤ 1.7e-16), at random θ with all 19 entries nonzero."""
    theta = np.random.default_rng(N).normal(size=19) * 0.8
    D = ref.check_D(N, None)
    H_ref = np.zeros((19, 19))
    for k in range(19):
        z = theta.astype(complex)
        z[k] += 1e-40j
        H_ref[:, k] = ref.theta_gradient(z, N, D, query)[1].imag / 1e-40
    H = red.hessian(theta, N, query)
    assert np.max(np.abs(H - H_ref)) <= 1e-12 * np.max(np.abs(H_ref))
    assert np.array_equal(H, H.T)


def test_only_some_parameters_can_move():
    """At any θ the loss does not depend on α2 or β5 … β8 (the query's fresh position is
    orthogonal to every key; distinct positions are orthogonal): their gradient is exactly 0."""
    rng = np.random.default_rng(3)
    for query in ("last", "uniform"):
        _, g = red.loss_and_grad(rng.normal(size=19), 6, query)
        dead = [red.NAMES.index(n) for n in ("alpha2", "beta5", "beta6", "beta7", "beta8")]
        assert np.all(g[dead] == 0) and np.all(np.delete(g, dead) != 0)


@pytest.mark.parametrize("query", ["last", "uniform"])
def test_hessian_kernel_value_and_gradient_equal_the_gradient_kernel(query):
    """The Hessian kernel (forward mode) also returns 𝓛 and ∇𝓛: they equal the gradient kernel's
    (reverse mode), 1e-13 relative (measured ≤ 3.5e-16), at random θ with all entries nonzero."""
    kernels, eff = red._effective()
    for N in (3, 17):
        phi = eff.phi(np.random.default_rng(N).normal(size=19) * 0.8)
        queries = red._queries(N, query)
        g_rev, g_fwd, h = np.zeros(eff.n), np.zeros(eff.n), np.zeros((eff.n, eff.n))
        v_rev = kernels.loss19_jac(phi, N, queries, g_rev)
        v_fwd = kernels.loss19_hess(phi, N, queries, g_fwd, h)
        assert abs(v_fwd - v_rev) <= 1e-13 * abs(v_rev)
        assert abs(kernels.loss19_val(phi, N, queries) - v_rev) <= 1e-13 * abs(v_rev)
        assert np.max(np.abs(g_fwd - g_rev)) <= 1e-13 * np.max(np.abs(g_rev))
