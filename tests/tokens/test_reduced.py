"""The reduced loss of SPEC §4 against the full reference transformer of SPEC §2."""

import numpy as np
import pytest

import gradflow as gf
from gradflow import Task, reference as ref

ENUMERATED = [Task(2), Task(2, L=2), Task(2, L=6), Task(3), Task(3, L=3), Task(3, K=4, L=9)]
SYMMETRIC = [Task(N, L=L) for N in (8, 16, 32) for L in (N, N + 1, 3 * N)]


def random_theta(seed, scale=1.0):
    return scale * np.random.default_rng(seed).normal(size=19)


def reference_grad_theta(theta, task, method):
    """∇_θ𝓛 = Bᵀ vec(∇_W 𝓛) = G · project(∇_W 𝓛) (the gradient lies in span(B))."""
    loss, gW = ref.population_loss_and_grad(gf.weights(theta, task), task, method)
    coef, off = gf.project(gW, task)
    assert off < 1e-12                   # the full gradient has no component off the subspace
    return loss, gf.gram_matrix(task) @ coef


@pytest.mark.parametrize("task, method", [(t, "enumerate") for t in ENUMERATED]
                         + [(t, "symmetric") for t in SYMMETRIC], ids=str)
def test_loss_and_grad_equal_the_reference(task, method):
    """Relative error of 𝓛 ≤ 1e-10 and of ∇𝓛 ≤ 1e-8 at three random θ."""
    for seed in range(3):
        theta = random_theta(seed + 10 * task.N, scale=1.5)
        loss_ref, grad_ref = reference_grad_theta(theta, task, method)
        assert abs(gf.loss(theta, task) - loss_ref) <= 1e-10 * abs(loss_ref)
        value, g = gf.loss_and_grad(theta, task)
        assert abs(value - loss_ref) <= 1e-10 * abs(loss_ref)
        assert np.max(np.abs(g - grad_ref)) <= 1e-8 * np.max(np.abs(grad_ref))


@pytest.mark.parametrize("task", [Task(3), Task(8, L=8), Task(16, L=48), Task(5, K=7, L=9)], ids=str)
def test_hessian_equals_differences_of_grad(task):
    """Central differences of the analytic gradient (h = 1e-5, truncation error O(h²)): max error
    ≤ 1e-9 of max |H| (measured 4e-11 … 1.4e-10 over these tasks: a margin of 7×)."""
    theta = random_theta(task.N, scale=0.8)
    H = gf.hessian(theta, task)
    h = 1e-5
    fd = np.array([(gf.grad(theta + h * e, task) - gf.grad(theta - h * e, task)) / (2 * h)
                   for e in np.eye(19)])
    assert np.max(np.abs(H - fd)) <= 1e-9 * np.max(np.abs(H))
    # before symmetrising, the two halves are computed by different paths (forward-over-reverse
    # columns): they agree to rounding (measured ≤ 3e-15 of max |H|)
    from gradflow.systems.tokens.reduced import _hessian
    raw = _hessian(theta, task, symmetrise=False)
    assert np.max(np.abs(raw - raw.T)) <= 1e-12 * np.max(np.abs(raw))


@pytest.mark.parametrize("task", [Task(2), Task(4), Task(9, L=30), Task(64, K=64, L=128)], ids=str)
def test_loss_at_zero_is_log_L_and_only_gammas_move(task):
    assert gf.loss(np.zeros(19), task) == pytest.approx(np.log(task.L), rel=1e-15)
    g = gf.grad(np.zeros(19), task)
    assert np.all(g[:16] == 0)
    expected = -(task.L - task.N) / (task.L * (2 * task.N + 1))
    assert g[16] == pytest.approx(expected, rel=1e-13) and g[18] == pytest.approx(expected, rel=1e-13)


def test_gradient_at_zero_vanishes_when_L_equals_N():
    """θ = 0 is stationary at L = N (exactly in theory; here to rounding, ≤ 1e-15)."""
    assert np.max(np.abs(gf.grad(np.zeros(19), Task(6, L=6)))) <= 1e-15


@pytest.mark.parametrize("task", [Task(4), Task(6, K=9, L=13)], ids=str)
def test_project_inverts_weights(task):
    theta = random_theta(7)
    back, off = gf.project(gf.weights(theta, task), task)
    np.testing.assert_allclose(back, theta, rtol=0, atol=1e-13)
    assert off < 1e-14
    W = gf.weights(theta, task)
    W[0][0, 1] += 1.0                    # a direction outside the subspace is reported
    assert gf.project(W, task)[1] > 1e-3


def test_gram_matrix_is_the_dense_inner_product():
    task = Task(3, K=4, L=6)
    B = np.array([np.concatenate([M.ravel() for M in gf.weights(e, task)]) for e in np.eye(19)])
    np.testing.assert_allclose(gf.gram_matrix(task), B @ B.T, rtol=0, atol=1e-13)


def test_bad_theta_is_rejected():
    with pytest.raises(ValueError, match=r"theta must have shape \(19,\)"):
        gf.loss(np.zeros(18), Task(3))
    with pytest.raises(ValueError, match="theta must be finite"):
        gf.grad(np.full(19, np.nan), Task(3))


def test_results_are_deterministic():
    task = Task(100)
    theta = random_theta(3)
    a, b = gf.loss_and_grad(theta, task), gf.loss_and_grad(theta, task)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])


def test_thread_count_does_not_change_a_bit():
    """Bit-identity on purpose: the blocks and the order of their partial sums are fixed and every
    thread count runs the same compiled block kernel, so 1 and 2 threads (separate processes, set
    through GRADFLOW_THREADS, at an N above THREADS_MIN_N) agree exactly."""
    import os
    import subprocess
    import sys
    from gradflow.systems.tokens.reduced import THREADS_MIN_N
    N = max(400, THREADS_MIN_N)
    code = ("import numpy as np, gradflow as gf\n"
            f"th = np.linspace(-1, 2, 19); th[5] = {N / 2}; th[18] = {N / 3}\n"
            f"v, g = gf.loss_and_grad(th, gf.Task({N}))\n"
            "print(repr(float(v)), *map(repr, g.tolist()))")
    out = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=dict(os.environ, GRADFLOW_THREADS=str(k))).stdout for k in (1, 2)]
    assert out[0] == out[1] and len(out[0].split()) == 20


def test_blocked_shifts_after_emergence():
    """After emergence the queries' largest layer-2 scores spread over more than SHIFT_LIMIT, so
    runs of queries share exponentials shifted by their own largest score rather than the global
    one (and isolated queries use their own): still exact against the reference."""
    task = Task(24)
    theta = np.zeros(19)
    theta[[2, 5, 18]] = [3.0, 4000.0, 60.0]
    from gradflow.systems.tokens.reduced import SHIFT_LIMIT, _pieces_jac
    _, g, _, p, _ = _pieces_jac(theta, task.N)
    own = np.array([max([g[0]] + [p[j, 0] for j in range(i)] + [p[j, 3] for j in range(i)] + [p[i, 1]]
                        + [p[j, 2] for j in range(i + 1, task.N)] + [p[j, 4] for j in range(i, task.N)])
                    for i in range(task.N)])
    top = max(own.max(), g[0], p[:, :5].max())
    assert np.sum(top - own > SHIFT_LIMIT) >= 3            # the global shift would underflow these
    loss_ref, grad_ref = reference_grad_theta(theta, task, "symmetric")
    value, grad = gf.loss_and_grad(theta, task)
    assert abs(value - loss_ref) <= 1e-10 * abs(loss_ref)
    assert np.max(np.abs(grad - grad_ref)) <= 1e-8 * np.max(np.abs(grad_ref))


def test_task_must_be_a_task():
    with pytest.raises(ValueError, match="^task must be a gradflow Task"):
        gf.loss(np.zeros(19), 8)


@pytest.mark.parametrize("values", [
    {"alpha1": 800.0, "alpha2": -30.0, "alpha3": -700.0, "alpha4": 760.0, "beta2": 3.0, "gamma3": 5.0},
    {"alpha3": 1.0, "beta2": 2000.0, "gamma3": 5.0, "gamma2": -2.0},
], ids=["layer1-exponents-800", "layer2-spread-1800"])
def test_stable_at_extreme_parameters(values):
    """Exponents of ±800 overflow naive forms (the kernels shift them), and layer-2 scores that
    spread by more than 600 make the reduction's shared shift unsafe for some queries (they are
    recomputed with their own shift): 𝓛 to 1e-10 and ∇𝓛 to 1e-8 of the reference, finite Hessian."""
    task = Task(8)
    theta = np.zeros(19)
    for name, v in values.items():
        theta[gf.NAMES.index(name)] = v
    loss_ref, grad_ref = reference_grad_theta(theta, task, "symmetric")
    value, g = gf.loss_and_grad(theta, task)
    assert np.isfinite(value) and abs(value - loss_ref) <= 1e-10 * abs(loss_ref)
    assert np.max(np.abs(g - grad_ref)) <= 1e-8 * np.max(np.abs(grad_ref))
    assert np.all(np.isfinite(gf.hessian(theta, task)))
