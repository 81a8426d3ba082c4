"""The n-gram Markov task (SPEC-markov §1, §3): exact prior probabilities, stationary laws, Ĩ(R)."""

import numpy as np
import pytest

from gradflow.systems.markov.mi import candidate_sets, mi_of_law, mi_samples, modified_mi, selected_set
from gradflow.systems.markov.task import MarkovTask, stationary_contexts, window_law


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
