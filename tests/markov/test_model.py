"""The markov model: reference backprop, the reduced evaluation against the reference, populations."""

import numpy as np
import pytest

from gradflow.systems.markov import population as P
from gradflow.systems.markov import reference as ref
from gradflow.systems.markov.params import Layout
from gradflow.systems.markov.reduced import evaluate
from gradflow.systems.markov.task import MarkovTask

LAYOUT = Layout(3, 2)


def _theta(seed=1, scale=0.3):
    return LAYOUT.initial() + scale * np.random.default_rng(seed).standard_normal(17)


def _sample(L=12, B=5, S=3, n=3, alpha=0.3, seed=0):
    return MarkovTask(S=S, n=n, alpha=alpha, L=L).sample(B, np.random.default_rng(seed))[0]


def test_layout_counts_17_live_parameters_and_the_authors_init():
    assert len(LAYOUT.names) == 17 and LAYOUT.subsets[0] == () and len(LAYOUT.subsets) == 7
    band, c, a = LAYOUT.unpack(LAYOUT.initial())
    assert band[0].tolist() == [3.0, 0.1, 0.1] and np.all(c == 0.01) and a == 0.01


@pytest.mark.parametrize("loss", ["ce_softmax", "nll"])
def test_reference_backprop_matches_finite_differences(loss):
    """Central differences (h = 1e-6, truncation ~1e-12, rounding ~1e-10): measured max error
    1.2e-10 against gradients of size 4e-3; bound 1e-8."""
    x, theta = _sample(), _theta()
    _, g = ref.loss_and_grad(ref.Weights.from_theta(LAYOUT, theta), x, 3, 2, loss)
    live = ref.live_gradient(LAYOUT, g)
    fd = np.empty(17)
    for k in range(17):
        e = np.zeros(17)
        e[k] = 1e-6
        fd[k] = (ref.forward(ref.Weights.from_theta(LAYOUT, theta + e), x, 3, 2, loss)
                 - ref.forward(ref.Weights.from_theta(LAYOUT, theta - e), x, 3, 2, loss)) / 2e-6
    assert np.max(np.abs(live - fd)) < 1e-8
    # the coefficients with 0 in R score 0 at the output position: their gradient is exactly 0
    assert all(g.c[R] == 0.0 for R in g.c if 0 in R)


@pytest.mark.parametrize("loss", ["ce_softmax", "nll"])
def test_reduced_equals_reference_on_the_same_sequences(loss):
    """Same sequences, same θ: loss to 1e-12 relative, gradient to 1e-12 of its largest entry
    (measured 2e-16 and 2e-15)."""
    x, theta = _sample(L=20, B=40), _theta(2)
    weights = np.random.default_rng(3).random(40)
    weights /= weights.sum()
    v0, g0 = ref.loss_and_grad(ref.Weights.from_theta(LAYOUT, theta), x, 3, 2, loss, weights=weights)
    v1, g1 = evaluate(theta, LAYOUT, P.frozen_sample(x, 3, 3, weights), loss)
    g0 = ref.live_gradient(LAYOUT, g0)
    assert abs(v1 - v0) <= 1e-12 * abs(v0)
    assert np.max(np.abs(g1 - g0)) <= 1e-12 * np.max(np.abs(g0))


def test_exact_population_is_the_probability_weighted_reference():
    """Every sequence of length L + 1 = 7 (S = 2) with its Dirichlet-multinomial probability."""
    task = MarkovTask(S=2, n=2, alpha=0.5, L=6)
    x, p = task.enumerate(7)
    theta = LAYOUT.initial()
    exact = evaluate(theta, LAYOUT, P.enumerated(task, 3), grad=False)
    assert abs(exact - ref.forward(ref.Weights.from_theta(LAYOUT, theta), x, 2, 2, weights=p)) < 1e-12
    assert abs(p.sum() - 1) < 1e-12


def test_stationary_population_is_the_mean_over_kernels_and_the_long_context_limit():
    """L → ∞ for each kernel equals the mean of the per-kernel populations (1e-13); a frozen
    sample of long sequences from one kernel approaches its stationary loss within 4 standard
    errors."""
    task = MarkovTask(S=3, n=2, alpha=1.0, L=100)
    ker = task.kernels(3, np.random.default_rng(0))
    theta = LAYOUT.initial()
    theta[-1] = 2.0                                # a sharper classifier: the loss depends on context
    whole = evaluate(theta, LAYOUT, P.stationary(ker, task, 3), grad=False)
    parts = [evaluate(theta, LAYOUT, p, grad=False) for p in P.per_kernel(P.stationary(ker, task, 3))]
    assert abs(whole - np.mean(parts)) < 1e-13
    # one kernel, sequences of 3000 tokens: keys ≈ the stationary window law
    rng = np.random.default_rng(1)
    one = ker[:1]
    L, B = 3000, 200
    x = np.empty((B, L + 1), dtype=np.int64)
    x[:, 0] = rng.integers(0, 3, B)
    for i in range(1, L + 1):
        u = rng.random(B)[:, None]
        x[:, i] = (u > np.cumsum(one[0][x[:, i - 1]], axis=1)).sum(axis=1)
    per = np.array([evaluate(theta, LAYOUT, P.frozen_sample(x[b:b + 1], 3, 3), grad=False) for b in range(B)])
    se = per.std(ddof=1) / np.sqrt(B)
    assert abs(per.mean() - parts[0]) < 4 * se + 2e-3


def test_populations_refuse_bad_tokens():
    with pytest.raises(ValueError, match="tokens"):
        P.frozen_sample(np.array([[0, 3, 1]]), 3, 3)
    with pytest.raises(ValueError, match="H"):
        evaluate(LAYOUT.initial(), LAYOUT, P.frozen_sample(_sample(), 3, 2))


def test_reference_gd_schedules_move_only_their_groups_and_follow_the_reduced_gd():
    """The authors' staged schedule (scaled down): each phase moves only its group; the reference's
    GD equals GD on the reduced loss on the same sequences (1e-12), so a reduced run is their run."""
    x = _sample(L=12, B=6)
    phases = (("c", 0.01, 3), ("band", 10.0, 3), ("a", 0.01, 3))
    ends, seen = ref.gradient_descent(LAYOUT, LAYOUT.initial(), x, 3, phases=phases, record=(3, 6))
    c, band, a = LAYOUT.c_slice, slice(0, 9), slice(16, 17)
    th0 = LAYOUT.initial()
    assert np.all(ends[0][band] == th0[band]) and np.all(ends[0][a] == th0[a]) and np.any(ends[0][c] != th0[c])
    assert np.all(ends[1][c] == ends[0][c]) and np.any(ends[1][band] != ends[0][band])
    assert np.all(ends[2][:16] == ends[1][:16]) and ends[2][16] != ends[1][16]
    assert set(seen) == {3, 6} and np.array_equal(seen[6], ends[1])
    pop = P.frozen_sample(x, 3, 3)
    theta = LAYOUT.initial()
    for groups, lr, epochs in phases:
        idx = {"c": np.arange(9, 16), "band": np.arange(9), "a": np.array([16])}[groups]
        for _ in range(epochs):
            theta[idx] -= lr * evaluate(theta, LAYOUT, pop)[1][idx]
    assert np.max(np.abs(theta - ends[2])) < 1e-12


def test_two_threads_give_the_same_bits():
    """The queries are always cut into the same chunks, summed in the same order: 1 and 2 threads
    agree bit for bit above THREADS_MIN_PAIRS (measured 1.97× faster at 900 000 pairs). 3000
    sequences: 133 533 query–key pairs once identical keys are merged."""
    from gradflow import _threads
    from gradflow.systems.markov import reduced
    x = _sample(L=100, B=3000)
    pop = P.frozen_sample(x, 3, 3)
    assert pop.size >= reduced.THREADS_MIN_PAIRS
    theta = _theta(4)
    with _threads.using(1):
        one = evaluate(theta, LAYOUT, pop)
    with _threads.using(2):
        two = evaluate(theta, LAYOUT, pop)
    assert one[0] == two[0] and np.array_equal(one[1], two[1])      # bit-identity, on purpose


def test_stationary_population_of_a_cyclic_chain_is_the_long_periodic_sequence():
    """A deterministic cycle 0 → 1 → 2 → 0 (n = 2): its L → ∞ population must give the loss of a
    long periodic sequence (its three rotations), up to the O(H/L) start of the sequence: every
    head's pattern has to read the right offsets of the stationary window (5 back at H = 3)."""
    from gradflow.systems.markov import population as P
    from gradflow.systems.markov.params import Layout
    from gradflow.systems.markov.reduced import evaluate
    from gradflow.systems.markov.task import MarkovTask
    task = MarkovTask(S=3, n=2, alpha=0.1, L=3000)
    cycle = np.array([[[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]])
    lay = Layout(3, 2)
    band = np.array([[2.0, -1.0, 0.5], [0.3, 1.5, -0.7], [-0.2, 0.4, 1.1]])
    theta = lay.pack(band, np.linspace(0.05, 0.2, lay.n_c), 3.0)
    inf = evaluate(theta, lay, P.stationary(cycle, task, 3), grad=False)
    seqs = np.array([(np.arange(3001) + r) % 3 for r in range(3)])
    long = evaluate(theta, lay, P.frozen_sample(seqs, 3, 3), grad=False)
    assert abs(inf - long) < 1e-3
    other = np.array([np.roll(np.tile([0, 1, 0, 2], 751)[:3001], r) for r in range(4)])   # another process
    assert abs(evaluate(theta, lay, P.frozen_sample(other, 3, 3), grad=False) - long) > 1e-2


def test_merged_keys_give_the_loss_and_gradient_of_every_key():
    """Keys of a sequence that the model cannot tell apart are merged with their count as weight:
    the population has fewer pairs and the same loss and gradient as the reference on the same
    sequences (1e-12 relative)."""
    x = _sample(L=60, B=30, alpha=0.1)
    pop = P.frozen_sample(x, 3, 3)
    assert pop.size < 30 * 60 and np.sum(pop.kw) == 30 * 60
    theta = _theta(7)
    value, grad = evaluate(theta, LAYOUT, pop)
    w = ref.Weights.from_theta(LAYOUT, theta)
    rv, rg = ref.loss_and_grad(w, x, 3, 2)
    want = ref.live_gradient(LAYOUT, rg)
    assert abs(value - rv) <= 1e-12 * abs(rv) and np.max(np.abs(grad - want)) <= 1e-12 * np.max(np.abs(want))
