"""The paper system's key sums by quadrature (exact ends, interpolatory panels): the rule on sums
with known values, the kernels against the exact sums on random θ and along a real trajectory, the
emergence times against the exact solve, and the choice of sums."""

import numpy as np
import pytest

import gradflow as gf
from gradflow.systems.paper import PaperSystem, QUADRATURE_FROM_N, reduced
from gradflow.systems.paper import quadrature as Q


def _exact_and_rule(N, g):
    """(Σ_{j=2}^{N} g(j) in long double, the rule's sum, every node's suffix sum exact and by rule)."""
    r = Q.rule(N)
    exact = np.sum(g(np.arange(2, N + 1, dtype=np.longdouble)))
    keep = r.nodes > 1
    approx = np.sum(r.weights[keep] * g(r.nodes[keep].astype(float)))
    return float(exact), float(approx), r


@pytest.mark.parametrize("N", [4096, 65536, 2 ** 20])
def test_rule_sums_polynomials_of_degree_below_its_nodes_exactly(N):
    """On each panel the rule sums a polynomial of degree < NODES = 24 exactly (it interpolates it):
    Σ over the panel of ((j − c)/h)^k for k = 0, 11, 23, to 1e-13 relative to Σ|·|."""
    r = Q.rule(N)
    for p in range(len(r.pstart) - 1):
        s0, s1 = r.pstart[p], r.pstart[p + 1]
        if s1 - s0 == 1:
            continue
        a, b = r.bounds[p]
        j = np.arange(a, b + 1, dtype=float)
        c, h = 0.5 * (a + b), 0.5 * (b - a)
        for k in (0, 11, 23):
            exact = np.sum(((j - c) / h) ** k)
            approx = r.weights[s0:s1] @ (((r.nodes[s0:s1] - c) / h) ** k)
            assert abs(approx - exact) <= 1e-13 * np.sum(np.abs((j - c) / h) ** k)


@pytest.mark.parametrize("N", [4096, 65536, 2 ** 20])
@pytest.mark.parametrize("g", [lambda j: 1 / (2 * j - 2), lambda j: np.exp(0.3 / (2 * j - 2)) / (j + 5.0),
                               lambda j: np.cos(3 * np.log(j)) / np.sqrt(j)], ids=["c_j", "exp-rational", "oscillating"])
def test_rule_sums_smooth_summands_to_rounding(N, g):
    """Functions analytic right of j = 1 (as the kernels' summands are): the rule's sum within 1e-14
    relative of the exact sum (long double), as the stated bound (2e-15) says."""
    exact, approx, r = _exact_and_rule(N, g)
    assert abs(approx - exact) <= 1e-14 * abs(exact)
    assert Q.bound(r) < 1e-14


def test_rule_suffix_sums_inside_a_panel():
    """S gives Σ_{j > x_i} over the rest of the panel: F at every node of N = 65536 from the rule
    against the exact suffix sums of f(j) = 1/(j + 3), to 1e-14 relative."""
    N = 65536
    r = Q.rule(N)
    f = 1 / (np.arange(1, N + 1, dtype=np.longdouble) + 3)
    suffix = np.concatenate([np.cumsum(f[::-1])[::-1][1:], [0.0]]).astype(float)   # Σ_{j > k} f_j, k = 1..N
    F_after, worst = 0.0, 0.0
    fv = 1 / (r.nodes + 3.0)
    for p in range(len(r.pstart) - 2, -1, -1):
        s0, s1 = r.pstart[p], r.pstart[p + 1]
        for i in range(s0, s1):
            F = F_after + r.S[i, :s1 - s0] @ fv[s0:s1]
            worst = max(worst, abs(F - suffix[r.nodes[i] - 1]) / suffix[r.nodes[i] - 1] if r.nodes[i] < N else abs(F))
        F_after += r.weights[s0:s1] @ fv[s0:s1]
    assert worst <= 1e-14


def test_panels_cover_every_key_once():
    for N in (3009, 4096, 2 ** 20 + 7):
        b = Q.rule(N).bounds
        assert b[0, 0] == 1 and b[-1, 1] == N and np.all(b[1:, 0] == b[:-1, 1] + 1)
        assert np.all(b[:, 1] <= np.maximum(b[:, 0] * Q.RATIO, b[:, 0]) + 40 * Q.NODES)


def test_small_N_rule_is_every_key():
    r = Q.rule(1000)
    assert np.array_equal(r.nodes, np.arange(1, 1001)) and np.all(r.weights == 1.0) and not len(r.lebesgue)


@pytest.fixture(scope="module")
def trajectory():
    """θ along the exact 19-parameter solve at N = 4096 (every 40th step: before, during and after
    the emergence)."""
    r = gf.solve(4096, system="paper", sums="exact")
    return r.theta[::40]


def test_kernels_match_the_exact_sums_along_a_trajectory_and_at_random_points(trajectory):
    """Loss, gradient and Hessian by quadrature against the exact kernels at N = 4096 (panels from
    key 2049 on): the loss within 1e-13 relative plus 1e-15, each gradient and Hessian entry within
    1e-11 of the largest entry plus 1e-14. The absolute parts are rounding: both kernels sum O(1)
    terms that cancel late in training (the loss ½(1 + Σσ) falls to 1e-16, the gradient to 1e-7);
    measured: loss 1e-16, gradient 2e-15, Hessian 3e-14 at most, absolute."""
    N = 4096
    rng = np.random.default_rng(3)
    points = list(trajectory) + [rng.normal(size=19) * s for s in (0.3, 1.0, 3.0)]
    for theta in points:
        l0, g0 = reduced.loss_and_grad(theta, N)
        l1, g1 = reduced.loss_and_grad(theta, N, sums="quadrature")
        assert l1 == pytest.approx(l0, rel=1e-13, abs=1e-15)
        assert reduced.loss(theta, N, sums="quadrature") == pytest.approx(l0, rel=1e-13, abs=1e-15)
        assert np.all(np.abs(g1 - g0) <= 1e-11 * np.abs(g0).max() + 1e-14)
        H0, H1 = reduced.hessian(theta, N), reduced.hessian(theta, N, sums="quadrature")
        assert np.all(np.abs(H1 - H0) <= 1e-11 * np.abs(H0).max() + 1e-14)


def test_emergence_times_by_quadrature_agree_with_the_exact_sums():
    """The 19-parameter flow at N = 4096 with both sums at tight tolerances (rtol 1e-11): every
    Definition-1 time, t_ICL and T_loss within 1e-8 relative (measured at rtol 1e-11: ≤ 2e-10 at
    N = 8192; benchmarks/results/paper/quadrature.md has N = 65536)."""
    kw = dict(rtol=1e-11, atol=1e-13)
    a = gf.solve(4096, system="paper", sums="exact", **kw).emergence
    b = gf.solve(4096, system="paper", sums="quadrature", **kw).emergence
    for k in ("t_ICL", "T_loss"):
        assert b[k] == pytest.approx(a[k], rel=1e-8)
    for name in ("alpha3", "beta2", "gamma3"):
        for c in ("0.1", "0.5"):
            assert b["t_p"][name][c] == pytest.approx(a["t_p"][name][c], rel=1e-8)


def test_sums_choice_and_refusals(tmp_path):
    assert PaperSystem(N=QUADRATURE_FROM_N).sums == "exact"
    big = PaperSystem(N=QUADRATURE_FROM_N + 1)
    assert big.sums == "quadrature" and "quadrature" in big.describe() and "sums" not in big.sizes()
    assert PaperSystem(N=QUADRATURE_FROM_N + 1, query="uniform").sums == "exact"
    forced = PaperSystem(N=64, sums="quadrature")
    assert forced.sizes()["sums"] == "quadrature" and PaperSystem.from_sizes(**forced.sizes()) == forced
    with pytest.raises(ValueError, match="^sums='quadrature' needs query='last'"):
        PaperSystem(N=64, query="uniform", sums="quadrature")
    with pytest.raises(ValueError, match="^sums must be one of auto, exact, quadrature"):
        gf.solve(8, system="paper", sums="gauss")
    r = gf.solve(8, system="paper", sums="quadrature", t_max=5.0)
    r.save(tmp_path / "q.npz")
    assert gf.Result.load(tmp_path / "q.npz").system == r.system
