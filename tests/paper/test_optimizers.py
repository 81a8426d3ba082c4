"""Optimizers on the paper system (derivations/optimizers.md): the basis layout that makes an
elementwise rule reduce exactly, one full-weight step of Adam and of sign descent against the
reduced step, a short check() against full-weight Adam, and the refusals of the other systems."""

import numpy as np
import pytest

import gradflow as gf
from gradflow.optimizers import Adam, Momentum, Sign
from gradflow.systems.paper import PaperSystem
from gradflow.systems.paper import reference as ref
from gradflow.systems.paper.check import D_CHECK, frames_batch


def _basis(D, idx=range(19)):
    rows = []
    for k in idx:
        th = np.zeros(19)
        th[k] = 1.0
        rows.append(np.concatenate([w.ravel() for w in ref.weights(th, D)]))
    return np.array(rows)


@pytest.mark.parametrize("D, options", [(8, {}), (12, {}), (8, {"labels": "same"})])
def test_the_declared_layout_is_the_basis(D, options):
    """Each basis matrix has D entries, all ±1, and no entry is shared: PaperSystem.elementwise()
    (count D, scale 1) is what the weights are."""
    s = PaperSystem(N=3, D=D, **options)
    B = _basis(D, s.setting.indices())
    count, scale = s.elementwise()
    nz = B != 0
    np.testing.assert_array_equal(nz.sum(axis=1), count)
    assert np.all(np.abs(B[nz]) == 1.0) and np.all(scale == 1.0)
    assert nz.sum(axis=0).max() == 1                               # disjoint supports


@pytest.mark.parametrize("rule", ["adam", "sign"])
def test_one_full_weight_step_is_the_reduced_step(rule):
    """At invariant weights with a non-symmetric θ and an optimizer state in the span, one step of
    the rule on every entry of the full weights (population gradient exact over the frames) stays
    in the span (off-span at rounding) and moves θ as the reduced rule does with h = ∂𝓛/∂θ / D."""
    rng = np.random.default_rng(3)
    theta = rng.normal(0, 0.4, 19)
    E, Y, target, setting = frames_batch("last")
    W = ref.weights(theta, D_CHECK)
    _, g = ref.loss_and_grad(W, E, Y, target=target)
    s = PaperSystem(N=3, D=D_CHECK)
    _, g_theta = s.loss_and_grad(theta)
    h = g_theta / D_CHECK
    eta = 0.01
    if rule == "adam":
        opt = Adam(lr=eta, beta1=0.9, beta2=0.99, eps=1e-3)
        stepper = opt.discrete(eta)
        m_k, v_k = rng.normal(0, 0.01, 19), rng.uniform(1e-4, 1e-3, 19)
        stepper.k, stepper.m = 5, list(ref.weights(m_k, D_CHECK))
        stepper.v = [np.abs(w) for w in ref.weights(np.sqrt(v_k), D_CHECK)]
        stepper.v = [w * w for w in stepper.v]
        new = stepper.step(W, g)
        m2, v2 = 0.9 * m_k + 0.1 * h, 0.99 * v_k + 0.01 * h * h
        expected = theta - eta * (m2 / (1 - 0.9 ** 6)) / (np.sqrt(v2 / (1 - 0.99 ** 6)) + 1e-3)
    else:
        new = Sign(eps=1e-3).discrete(eta).step(W, g)
        expected = theta - eta * h / (np.abs(h) + 1e-3)
    got, off = ref.project(new, D_CHECK)
    assert off <= 1e-13
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)


def test_check_against_full_weight_adam():
    """check(optimizer=Adam): full-weight Adam at steps η, η/2, η/4 follows the solved weight flow
    at first order, off the span only by rounding. (The steps are in the asymptotic range while
    η·curvature/(√v̂ + ε) < 1: at ε = 1e-4 and η = 0.02 they are not, and the ratios leave [1.6, 2.4].)"""
    s = PaperSystem(N=3, D=8)
    report = s.check(eta=0.02, t_end=0.2, n_times=2, refinements=3, optimizer=Adam(lr=0.02, eps=1e-2))
    assert report.passed, report.summary()
    assert "full-weight adam (lr 0.02" in report.summary()


def test_weight_flow_adam_is_theta_flow_adam_with_eps_times_D():
    """The scaling the reduction implies: Adam with ε on the weights is Adam with D·ε on θ."""
    a = gf.solve(8, optimizer=Adam(eps=1e-6), flow="weights", params=["alpha3", "beta2", "gamma3"])
    b = gf.solve(8, optimizer=Adam(eps=1e-6 * 18), flow="theta", params=["alpha3", "beta2", "gamma3"])
    assert a.emergence["t_ICL"] == pytest.approx(b.emergence["t_ICL"], rel=1e-7)


def test_momentum_at_small_lr_is_gradient_flow_with_time_over_one_minus_mu():
    """At fixed μ and lr → 0 heavy ball is gradient flow with t × 1/(1 − μ) (first order in lr)."""
    gd = gf.solve(4, params=["alpha3", "beta2", "gamma3"]).emergence["t_ICL"]
    ratios = [gf.solve(4, params=["alpha3", "beta2", "gamma3"], optimizer=Momentum(lr=lr, momentum=0.5)
                       ).emergence["t_ICL"] / (0.5 * gd) - 1 for lr in (0.2, 0.1)]
    assert abs(ratios[1]) < 0.05 and ratios[0] / ratios[1] == pytest.approx(2, rel=0.1)


def test_other_systems_refuse_elementwise_rules_where_they_do_not_reduce():
    """tokens: its basis matrices overlap (found here at N = 4), so Adam and sign descent are
    refused with that reason; momentum (linear) runs. markov's full model declares its layout,
    checked against its weights."""
    task = gf.Task(4)
    B = np.array([np.concatenate([np.ravel(w) for w in gf.weights(np.eye(19)[k], task)]) for k in range(19)])
    assert ((B != 0).sum(axis=0) > 1).any()
    for rule in ("adam", "sign"):
        with pytest.raises(ValueError, match="basis matrices overlap"):
            gf.solve(system="tokens", N=4, optimizer=rule)
    assert gf.solve(system="tokens", N=4, optimizer="momentum", t_max=1.0).success
    from gradflow.systems.markov import MarkovSystem
    m = MarkovSystem(model="full", length=10, count=12)
    layout = m.layout

    def flat(theta):
        w = layout.weights(theta, c_dead=0.0)
        return np.concatenate([w.band.ravel(), w.Q.ravel(), w.K.ravel(), w.O.ravel(), w.gamma, w.beta,
                               [w.c[R] for R in sorted(w.c)], [w.a]])
    base = np.array([flat(np.eye(len(m.names))[k]) for k in range(len(m.names))])
    count, scale = m.elementwise()
    np.testing.assert_array_equal((base != 0).sum(axis=1), count)
    assert (base != 0).sum(axis=0).max() == 1 and np.all(np.abs(base[base != 0]) == scale.max())
