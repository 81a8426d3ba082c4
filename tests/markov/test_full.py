"""The authors' full model (gradflow.systems.markov.full): its reference against finite
differences, the relabelling symmetry and its invariant space, the reduced flow against the
reference, check() against GD on every weight."""

import numpy as np
import pytest

import gradflow as gf
from gradflow.systems.markov import MarkovSystem
from gradflow.systems.markov import full as F
from gradflow.systems.markov.task import MarkovTask


def _random_weights(rng, H=3, S=3, D=2) -> F.FullWeights:
    """Weights off the invariant space, none of them at a special value."""
    w = F.initial_weights(H, S, D)
    return F.FullWeights(w.band + rng.normal(0, 0.3, w.band.shape), rng.normal(0, 0.5, w.Q.shape),
                         rng.normal(0, 0.5, w.K.shape), rng.normal(0, 0.5, w.O.shape), 1 + rng.normal(0, 0.2, S),
                         rng.normal(0, 0.2, S), {R: 0.3 + 0.1 * k for k, R in enumerate(w.c)}, 1.7)


@pytest.mark.parametrize("loss", ["ce_softmax", "nll"])
def test_reference_backprop_matches_finite_differences(loss):
    """Every weight (108 at S = H = 3), off the invariant space: central differences, step 1e-6."""
    rng = np.random.default_rng(3)
    tokens = MarkovTask(S=3, n=3, L=8).sample(5, rng)[0]
    w = _random_weights(rng)
    _, g = F.loss_and_grad(w, tokens, 3, loss)
    flat, grad = w.flat(), g.flat()
    fd = np.empty_like(flat)
    for k in range(flat.size):
        e = np.zeros_like(flat)
        e[k] = 1e-6
        fd[k] = (F.loss_and_grad(F.unflatten(flat + e, 3, 3, 2), tokens, 3, loss, want_grad=False)
                 - F.loss_and_grad(F.unflatten(flat - e, 3, 3, 2), tokens, 3, loss, want_grad=False)) / 2e-6
    assert np.max(np.abs(fd - grad)) < 1e-8 * max(1.0, np.max(np.abs(grad)))


@pytest.mark.parametrize("S", [3, 4])
def test_invariant_space_dimensions(S):
    """Derived numerically from the group's generators: per head Q, K, O in span{I, J − I} (2 each),
    γ and β constant (1 each); band, c and a are not moved by a relabelling."""
    dims = {k: v.shape[1] for k, v in F.invariant_basis(3, S, 2).items()}
    assert dims == {"band": 9, "Q": 6, "K": 6, "O": 6, "gamma": 1, "beta": 1, "c": 11, "a": 1}


def test_the_span_is_what_the_layout_parametrises():
    """θ → weights lands in the invariant space, θ round-trips, and the layout's metric is the Gram
    matrix of θ's directions in the full weights."""
    lay = F.FullLayout()
    basis = F.invariant_basis()
    theta = lay.initial() + np.random.default_rng(0).normal(0, 0.3, len(lay.names))
    w = lay.weights(theta)
    assert F.off_span(w) < 1e-15 and np.allclose(lay.theta_of(w), theta, rtol=0, atol=1e-15)
    blocks = F._blocks(3, 3, 2)
    flat = w.flat()
    for name in ("Q", "K", "O", "gamma", "beta"):
        v = flat[blocks[name]]
        B = basis[name]
        assert np.linalg.norm(v - B @ (B.T @ v)) < 1e-12
    J = np.array([lay.weights(np.eye(len(theta))[k]).flat() - lay.weights(np.zeros(len(theta))).flat()
                  for k in range(len(theta))]).T
    live = np.abs(J).sum(axis=1) > 0
    assert np.allclose(J[live].T @ J[live], lay.metric(), rtol=0, atol=1e-12)


def test_relabelling_symmetry_and_gd_staying_in_the_space():
    """At invariant weights every relabelled copy of a sample has the same loss; GD from the authors'
    initialisation on the relabelling-averaged sample never leaves the space (20 steps: rounding),
    on the plain sample it does (a finite sample is not symmetric)."""
    rng = np.random.default_rng(1)
    tokens = MarkovTask(S=3, n=3, L=10).sample(12, rng)[0]
    perms = F.permutations(3)
    w0 = F.initial_weights()
    losses = [F.loss_and_grad(w0, np.array(p)[tokens], 3, want_grad=False) for p in perms]
    assert np.ptp(losses) < 1e-14
    orbit = np.concatenate([np.array(p)[tokens] for p in perms])
    w, plain = w0, w0
    for _ in range(20):
        w = w.step(F.loss_and_grad(w, orbit, 3)[1], 0.5)
        plain = plain.step(F.loss_and_grad(plain, tokens, 3)[1], 0.5)
    assert F.off_span(w) < 1e-11 and F.off_span(plain) > 1e-2
    # the relabelling of non-invariant weights moves them, and moves them back
    wr = _random_weights(rng)
    back = F.relabel(F.relabel(wr, (1, 2, 0)), (2, 0, 1))
    assert np.allclose(back.flat(), wr.flat(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("loss", ["ce_softmax", "nll"])
@pytest.mark.parametrize("population", ["sample", "exact"])
def test_reduced_equals_the_reference_on_the_same_sequences(loss, population):
    """The extended-pattern evaluation against the reference's loss and its gradient pulled back
    to θ (and the selector rates), at the authors' start and at random θ: 1e-12 relative."""
    s = MarkovSystem(model="full", length=6 if population == "exact" else 10, count=12, loss=loss, population=population)
    if population == "exact":
        tokens, weights = s.task.enumerate(s.task.L + 1)
    else:
        tokens, weights = s.tokens, None
    lay = s.layout
    rng = np.random.default_rng(5)
    for theta in (s.initial(), s.initial() + rng.normal(0, 0.5, len(lay.names))):
        value, grad = s.loss_and_grad(theta)
        w = lay.weights(theta)
        ref_value, ref_grad = F.loss_and_grad(w, tokens, 3, loss, s.eps, weights)
        assert abs(value - ref_value) <= 1e-12 * abs(ref_value)
        want = lay.pull_back(ref_grad)
        assert np.max(np.abs(grad - want)) <= 1e-12 * np.max(np.abs(want))
        _, rates = s.loss_and_rates(theta)
        _, ref_rates = F.loss_and_grad(w, tokens, 3, loss, s.eps, weights, rates=True)
        assert np.allclose(rates[lay.c_slice], [ref_rates.c[R] for R in lay.subsets], rtol=1e-12, atol=1e-15)


def test_check_against_gd_on_every_weight():
    report = MarkovSystem(model="full", length=10, count=12).check()
    assert report.passed, report.summary()
    assert report.off_span < 1e-12 and report.dead_moved == 0.0


def test_full_model_solves_and_refuses_what_it_does_not_have():
    s = MarkovSystem(model="full", length=20, count=60)
    r = gf.solve(system=s, flow="weights", t_max=2.0)
    assert r.success and r.log_params == s.layout.c_names and len(r.names) == 37
    assert "full model" in r.summary()
    with pytest.raises(ValueError, match="population must be 'sample' or 'exact' for model='full'"):
        MarkovSystem(model="full", population="stationary")
    with pytest.raises(ValueError, match="schedule must be 'joint' for model='full'"):
        MarkovSystem(model="full", schedule="staged")
    with pytest.raises(ValueError, match="train is the simplified model's"):
        s.train(0.1, 2, 1)
    with pytest.raises(ValueError, match="^model must be one of simplified, full"):
        MarkovSystem(model="fullest")
