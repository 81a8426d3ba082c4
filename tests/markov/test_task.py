"""The n-gram Markov task (SPEC-markov §1, §3): exact prior probabilities, stationary laws, Ĩ(R)."""

import numpy as np
import pytest

from gradflow.systems.markov.mi import candidate_sets, mi_of_law, mi_samples, modified_mi, selected_set
from gradflow.systems.markov.task import MarkovTask, context_chain, stationary_contexts, stationary_law, window_law


def test_enumerated_probabilities_sum_to_one_and_match_sampling():
    """Σ_x p(x) = 1 (1e-12), and the frequencies of 200 000 sampled sequences of length 4 agree
    with the exact Dirichlet-multinomial probabilities within 4 standard errors."""
    task = MarkovTask(S=2, n=2, alpha=0.3, L=3)
    x, p = task.enumerate(4)
    assert abs(p.sum() - 1) < 1e-12
    rng = np.random.default_rng(0)
    samples, _ = task.sample(200_000, rng, length=4)
    codes = samples @ (2 ** np.arange(3, -1, -1))
    freq = np.bincount(codes, minlength=16) / len(codes)
    order = x @ (2 ** np.arange(3, -1, -1))
    se = np.sqrt(p * (1 - p) / len(codes))
    assert np.all(np.abs(freq[order] - p) <= 4 * se + 1e-12)


def test_small_alpha_makes_repeats_likely():
    """With α → 0 each context row is nearly deterministic: a sequence that repeats a transition
    is far more likely than one that breaks it (the prior, not a kernel, decides)."""
    task = MarkovTask(S=3, n=2, alpha=0.05, L=3)
    same, broken = task.log_prob([[0, 1, 0, 1]]), task.log_prob([[0, 1, 0, 2]])
    assert same[0] - broken[0] > 2.0


def test_stationary_law_is_invariant():
    task = MarkovTask(S=3, n=3, alpha=0.5, L=10)
    pi = task.kernels(1, np.random.default_rng(1))[0]
    mu = stationary_contexts(pi)
    C = task.n_contexts
    nxt = np.zeros(C)
    for c in range(C):
        for x in range(task.S):
            nxt[(c * task.S) % C + x] += mu[c] * pi[c, x]
    assert abs(mu.sum() - 1) < 1e-12 and np.max(np.abs(nxt - mu)) < 1e-12
    law = window_law(pi, task.S, task.n, 4)
    assert law.shape == (3,) * 5 and abs(law.sum() - 1) < 1e-12
    # stationarity: the law of the last n − 1 tokens equals that of the first n − 1
    assert np.max(np.abs(law.sum(axis=(0, 1, 2)) - law.sum(axis=(2, 3, 4)))) < 1e-12


def _exact_context_law(small: dict, S: int, n: int, dps: int = 60):
    """The stationary context law of the kernel with the small transition probabilities ``small`` {(c, x): p},
    each row's remaining mass on the first token not listed, in ``dps``-digit arithmetic (mpmath):
    (kernel rounded to float64, exact law as floats)."""
    import mpmath
    mpmath.mp.dps = dps
    C = S ** (n - 1)
    rows = [[mpmath.mpf(0)] * S for _ in range(C)]
    for (c, x), p in small.items():
        rows[c][x] = mpmath.mpf(p)
    for c in range(C):
        rest = next(x for x in range(S) if (c, x) not in small)
        rows[c][rest] = 1 - mpmath.fsum(rows[c])
    P = mpmath.zeros(C, C)
    for c in range(C):
        for x in range(S):
            P[c, (c * S) % C + x] += rows[c][x]
    A = P.T - mpmath.eye(C)
    for j in range(C):
        A[C - 1, j] = 1
    b = mpmath.zeros(C, 1)
    b[C - 1] = 1
    mu = mpmath.lu_solve(A, b)
    pi = np.array([[float(v) for v in r] for r in rows])
    return pi, np.array([float(v) for v in mu])


def test_stationary_law_of_a_nearly_reducible_chain_matches_60_digit_arithmetic():
    """A Dirichlet(0.1)-like kernel (S = 2, n = 3) whose rows leave their favourite context with
    probabilities 1e-14 … 1e-37: the law spans 19 orders of magnitude. GTH elimination gets every
    component to 1e-14 relative of the 60-digit answer; the least-squares solve it replaced gave
    μ ≈ [9e-4, 0.5, 0.5, 4e-14] for [5e-24, 0.5, 0.5, 5e-19]."""
    pi, exact = _exact_context_law({(0, 1): 1e-14, (1, 1): 1e-21, (2, 0): 1e-37, (3, 0): 1e-3}, 2, 3)
    mu = stationary_contexts(pi)
    assert exact.min() < 1e-23
    assert np.max(np.abs(mu - exact) / exact) < 1e-14


def test_stationary_law_of_random_small_alpha_kernels_is_componentwise_accurate():
    """Kernels drawn at α = 0.05 (S = 3, n = 3: 9 contexts) against 60-digit arithmetic, every
    component to 1e-12 relative, however small."""
    rng = np.random.default_rng(7)
    task = MarkovTask(S=3, n=3, alpha=0.05, L=10)
    smallest = 1.0
    for pi in task.kernels(4, rng):
        small = {(c, x): pi[c, x] for c in range(9) for x in range(3) if x != int(np.argmax(pi[c]))}
        pi_r, exact = _exact_context_law(small, 3, 3)
        mu = stationary_contexts(pi_r)
        smallest = min(smallest, exact.min())
        assert np.max(np.abs(mu - exact) / exact) < 1e-12
    assert smallest < 1e-20          # the draw does reach the nearly reducible regime


def test_stationary_law_refuses_bad_and_reducible_chains():
    with pytest.raises(ValueError, match="P must be a square"):
        stationary_law(np.ones((2, 3)) / 3)
    with pytest.raises(ValueError, match="non-negative"):
        stationary_law(np.array([[1.5, -0.5], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="reducible"):
        stationary_law(np.array([[1.0, 0.0], [0.0, 1.0]]))
    # a two-state chain with its closed form b/(a + b), a/(a + b) at the edge of float64
    a, b = 1e-300, 1e-10
    mu = stationary_law(np.array([[1 - a, a], [b, 1 - b]]))
    assert np.allclose(mu / np.array([b, a]) * (a + b), 1.0, rtol=1e-15, atol=0)
    assert np.allclose(context_chain(np.array([[0.25, 0.75], [0.5, 0.5]])), [[0.25, 0.75], [0.5, 0.5]])


def test_mi_of_independent_and_deterministic_laws():
    """Ĩ is 0 when the token ignores the parents in R, and Σ_z μ(z)²(1/μ(x|z) … ) for a copy."""
    S = 3
    # x_i = x_{i−1} (deterministic copy of offset 1), offset 2 independent
    pi = np.zeros((S * S, S))
    for c in range(S * S):
        pi[c, c % S] = 1.0
    law = np.zeros((S,) * 3)
    for a in range(S):
        for b in range(S):
            law[a, b, b] = 1.0 / S ** 2
    assert mi_of_law(law, (2,)) == pytest.approx(0.0, abs=1e-15)
    # copy: μ(x | z) = δ, Σ_x δ²/μ(x) − 1 = S − 1, Σ_z μ(z)² = 1/S
    assert mi_of_law(law, (1,)) == pytest.approx((S - 1) / S, rel=1e-12)
    with pytest.raises(ValueError, match="offsets"):
        mi_of_law(law, (3,))


def _paired_z(samples, a, b):
    d = samples[a] - samples[b]
    return d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))


def test_true_parents_maximise_modified_mi():
    """Trigram data (parents at offsets 1 and 2): over |R| ≤ 2 within offsets 1..3, Ĩ is largest for
    R = {1, 2}, ahead of every other set by more than 5 paired standard errors."""
    task = MarkovTask(S=3, n=3, alpha=0.3, L=100)
    mi = modified_mi(task, K=3, D=2, n_kernels=300, seed=0)
    assert len(mi) == len(candidate_sets(3, 2)) == 6
    assert selected_set(mi) == (1, 2)
    samples = mi_samples(task, K=3, D=2, n_kernels=300, seed=0)
    assert min(_paired_z(samples, (1, 2), R) for R in samples if R != (1, 2)) > 5


def test_a_smaller_set_beats_its_superset():
    """Bigram data (one parent, offset 1): adding the irrelevant offset 2 spreads μ(z_R) over S times
    more values and lowers Ĩ, so {1} beats {1, 2} (the selection is not "the more the better")."""
    task = MarkovTask(S=3, n=2, alpha=0.3, L=100)
    mi = modified_mi(task, K=2, D=2, n_kernels=300, seed=1)
    assert selected_set(mi) == (1,)
    assert _paired_z(mi_samples(task, K=2, D=2, n_kernels=300, seed=1), (1,), (1, 2)) > 5


def test_bad_task_arguments():
    for kwargs, name in (({"S": 1}, "S"), ({"n": 1}, "n"), ({"alpha": 0}, "alpha"), ({"L": 1, "n": 3}, "L")):
        with pytest.raises(ValueError, match=f"^{name} must be"):
            MarkovTask(**kwargs)
