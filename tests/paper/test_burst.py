"""The burst members' closed-form head (gradflow/systems/paper/burst.py), against references that share
none of its numerics: a 40-digit enumeration of every placement (mpmath), the O(N) suffix sums of
B = 2, the paper's kernels at B = 1, and (tests/paper/test_family.py) the full-weight generic flow."""

import itertools

import mpmath as mp
import numpy as np
import pytest

from gradflow.systems.paper import PaperSystem, burst, reduced
from gradflow.systems.paper.reduced import NAMES

HEAD = [NAMES.index(n) for n in ("alpha3", "beta2", "gamma3")]


def enumerated_loss(theta3, N, B, query, mask="strict"):
    """𝓛 by the definition, at 40 digits: every placement S of the query's item, each key's score
    from its layer-1 weight on x_q, the read-out's error by content."""
    with mp.workdps(max(mp.mp.dps, 40)):                       # mp.diff works at more digits still
        return _enumerated(theta3, N, B, query, mask)


def _enumerated(theta3, N, B, query, mask):
    a3, b2, g3 = (mp.mpf(x) for x in theta3)
    ea = mp.e ** a3
    own = 1 if mask == "self" else 0
    free = range(1, N) if query == "last" else range(1, N + 1)
    total, count = mp.mpf(0), 0
    for P in itertools.combinations(free, B - 1 if query == "last" else B):
        S = set(P) | ({N} if query == "last" else set())
        T = Z = Q = mp.mpf(0)
        I = mp.mpf(0)
        if own:                                                  # the query, a key of its own (x_q's content)
            I = Z = mp.e ** (b2 * mp.mpf(B + 1) / (2 * N + 1))
        before = 0
        for j in range(1, N + 1):
            ey = mp.e ** (b2 * ((ea if j in S else 0) + before) / (ea + 2 * j - 2 + own))
            if own:
                ex = mp.e ** (b2 * mp.mpf(before + (j in S)) / (2 * j - 1))
            else:
                ex = mp.e ** (b2 * before / (2 * j - 2)) if j > 1 else mp.mpf(1)
            Z += ex + ey
            if j in S:
                T, I, before = T + ey, I + ex, before + 1
            else:
                Q += ex ** 2 + ey ** 2
        total += ((g3 * T / Z - 1) ** 2 + g3 ** 2 * (I ** 2 + Q) / Z ** 2) / 2
        count += 1
    return total / count


@pytest.mark.parametrize("span", [0.0, 1.0, 8.0, 30.0])
def test_the_quadrature_gives_one_over_z_and_its_square(span):
    """The rule's nodes for Z in [Z_lo, Z_hi] (here chosen by a β2 that spreads the keys' scores):
    ∫ e^{−sZ} ds = 1/Z and ∫ s e^{−sZ} ds = 1/Z² to 2e-15 relative at every Z in the range."""
    lo, hi = np.exp(-span), 1.0
    s, w1, w2 = burst._quadrature(lo, hi)
    for z in np.exp(np.linspace(-span, 0.0, 50)):
        assert np.exp(-s * z) @ w1 * z == pytest.approx(1.0, rel=2e-15, abs=0)
        assert np.exp(-s * z) @ w2 * z * z == pytest.approx(1.0, rel=2e-15, abs=0)


def test_every_placements_z_lies_inside_the_bounds():
    """Z_lo ≤ Z ≤ Z_hi for every placement (the quadrature's range rests on it), at a β2 of each sign."""
    N, B = 7, 3
    for a3, b2 in ((0.4, 6.0), (-1.0, -9.0)):
        lo, hi = burst._bounds(a3, b2, N, B)
        ea, top = np.exp(a3), max(b2, 0.0)
        for P in itertools.combinations(range(1, N), B - 1):
            S, before, Z = set(P) | {N}, 0, 0.0
            for j in range(1, N + 1):
                Z += np.exp(b2 * ((ea if j in S else 0) + before) / (ea + 2 * j - 2) - top)
                Z += np.exp(b2 * before / (2 * j - 2) - top) if j > 1 else np.exp(-top)
                before += j in S
            assert lo * (1 - 1e-14) <= Z <= hi * (1 + 1e-14)


@pytest.mark.parametrize("theta3", [[0.7, 1.9, 1.2], [8.0, 25.0, 1.0], [0.3, -30.0, 2.0], [-5.0, 60.0, 0.7]],
                         ids=["moderate", "loss-1e-12", "beta2-negative", "beta2-60"])
@pytest.mark.parametrize("N,B,query,mask", [(5, 2, "last", "strict"), (6, 3, "uniform", "strict"),
                                            (7, 4, "last", "strict"), (5, 5, "last", "strict"),
                                            (4, 4, "uniform", "strict"), (6, 3, "last", "self"),
                                            (5, 1, "uniform", "self"), (5, 5, "uniform", "self")])
def test_the_loss_and_gradient_equal_the_enumeration(theta3, N, B, query, mask):
    """Loss and gradient to 1e-13 relative against the 40-digit enumeration (the gradient by mpmath's
    differentiation of it), including a loss of 1e-12 (where expanding the square would lose it), a
    negative β2, a β2 that spreads Z over e^60, B = N (every pair holds the query's item), and the
    self mask."""
    value, grad = burst.loss_and_grad(theta3, N, B, query, mask)
    assert value == pytest.approx(float(enumerated_loss(theta3, N, B, query, mask)), rel=1e-13, abs=0)
    for k in range(3):
        def along(x, k=k):
            th = [mp.mpf(v) for v in theta3]
            th[k] = x
            return enumerated_loss(th, N, B, query, mask)
        with mp.workdps(40):
            exact = float(mp.diff(along, mp.mpf(theta3[k])))
        assert grad[k] == pytest.approx(exact, rel=1e-12, abs=1e-14 * abs(value) + 1e-300)


@pytest.mark.parametrize("theta3", [[0.7, 1.3, 0.9], [3.0, 15.0, 2.5], [-1.0, -8.0, 0.3]])
@pytest.mark.parametrize("N", [3, 64, 4096])
def test_burst_two_equals_the_suffix_sums(theta3, N):
    """B = 2, query last: the independent O(N) suffix sums, to N = 4096 (where the recursion runs
    over 4096 pairs and the quadrature's range is widest)."""
    from burst2_suffix import loss_and_grad as suffix
    value, grad = burst.loss_and_grad(theta3, N, 2, "last")
    ref_value, ref_grad = suffix(np.array(theta3), N)
    assert value == pytest.approx(ref_value, rel=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-13 * np.abs(ref_grad).max())


@pytest.mark.parametrize("N", [2, 17, 1000])
def test_the_self_mask_at_burst_one_is_its_generated_kernel(N):
    """B = 1, query last, self mask: the generated O(1) last3self_* kernel (derived by SymPy)."""
    from gradflow.systems.paper import heads
    from gradflow.systems.paper.setting import Setting
    theta3 = np.array([0.7, 1.9, 1.2])
    ref_value, ref_grad = heads.evaluate("self", "jac", theta3, Setting(N, mask="self"))
    value, grad = burst.loss_and_grad(theta3, N, 1, "last", "self")
    assert value == pytest.approx(ref_value, rel=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("query", ["last", "uniform"])
@pytest.mark.parametrize("N", [2, 17, 1000])
def test_burst_one_is_the_papers_head(query, N):
    """B = 1 is the paper's own setting: its head on the generated kernels, either query."""
    theta3 = np.array([0.7, 1.3, 0.9])
    full = np.zeros(len(NAMES))
    full[HEAD] = theta3
    ref_value, ref_grad = reduced.loss_and_grad(full, N, query, np.array(sorted(HEAD)), "exact")
    value, grad = burst.loss_and_grad(theta3, N, 1, query)
    assert value == pytest.approx(ref_value, rel=1e-13)
    np.testing.assert_allclose(grad, ref_grad[HEAD], rtol=1e-12, atol=1e-15)


def test_every_burst_member_runs_its_head_on_the_closed_form():
    """Any B ≥ 2 with rotated labels and squared error, either mask and query, and the self mask's
    uniform query; the head alone at N = 4096 passes the size check although its placements number
    10^22 (B = 8)."""
    for B, query, mask in ((2, "last", "strict"), (3, "uniform", "strict"), (8, "last", "strict"),
                           (2, "last", "self"), (1, "uniform", "self")):
        s = PaperSystem(N=4096, burst=B, query=query, mask=mask)
        assert s.head_closed_form == "burst"
        s.check_size_limits(s.head)
        with pytest.raises(ValueError, match="beyond this machine on the generic"):
            s.check_size_limits(None)
    # labels at their item's position: the rotated twin's recursion under the strict mask, none
    # with the self mask
    assert PaperSystem(N=8, burst=2, labels="same").head_closed_form == "burst"
    assert PaperSystem(N=8, burst=2, labels="same", mask="self").head_closed_form is None


def test_a_head_solve_of_burst_four_reaches_emergence():
    """A solve on the closed form (B = 4, N = 32: C(31, 3) = 4495 placements) emerges: every head
    entry has reached 0.5 at its end."""
    import gradflow as gf
    r = gf.solve(N=32, burst=4, params=["alpha3", "beta2", "gamma3"])
    assert r.status == "emerged"
    head = [r.names.index(n) for n in ("alpha3", "beta2", "gamma3")]
    assert r.theta[-1][head].min() >= 0.5
