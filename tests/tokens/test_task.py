"""The task of SPEC §1: validation, sampler, canonical and enumerated sequences."""

import math

import numpy as np
import pytest

from gradflow import Task


def test_defaults():
    t = Task(5)
    assert (t.N, t.K, t.L, t.d, t.T) == (5, 5, 6, 11, 11)


@pytest.mark.parametrize("kwargs, name", [
    ({"N": 0}, "N"), ({"N": -3}, "N"), ({"N": 2.0}, "N"), ({"N": True}, "N"), ({"N": "4"}, "N"),
    ({"N": 4, "K": 3}, "K"), ({"N": 4, "L": 3}, "L"), ({"N": 4, "K": 4.5}, "K"), ({"N": 4, "L": False}, "L"),
])
def test_bad_sizes_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must be an integer >= \d+"):
        Task(**kwargs)


def test_numpy_integers_accepted():
    assert Task(np.int64(3), K=np.int32(4)).K == 4


def _check_sequences(task, tokens, targets):
    N, K = task.N, task.K
    items, labels = tokens[:, 0:2 * N:2], tokens[:, 1:2 * N:2]
    assert np.all((items >= 0) & (items < K))
    assert np.all((labels >= K) & (labels < K + task.L))
    for row in np.concatenate([items, labels], axis=1):
        assert len(set(row.tolist())) == 2 * N          # distinct items, distinct labels
    q = tokens[:, -1]
    where = np.argmax(items == q[:, None], axis=1)
    assert np.all(items[np.arange(len(q)), where] == q)
    assert np.array_equal(labels[np.arange(len(q)), where] - K, targets)


def test_sampler_is_valid_and_deterministic():
    task = Task(4, K=7, L=9)
    tok, tgt = task.sample(500, np.random.default_rng(1))
    _check_sequences(task, tok, tgt)
    tok2, tgt2 = task.sample(500, np.random.default_rng(1))
    assert np.array_equal(tok, tok2) and np.array_equal(tgt, tgt2)
    # every query index and every item are used (uniformity is tested through the
    # Monte-Carlo check of the population loss in test_reference.py)
    assert set(tok[:, -1].tolist()) == set(range(7))


def test_sampler_rejects_bad_arguments():
    with pytest.raises(ValueError, match="^n must be"):
        Task(3).sample(0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="^rng must be"):
        Task(3).sample(3, 0)


def test_enumerate_and_canonical():
    task = Task(2, K=3, L=4)
    tok, tgt = task.enumerate()
    assert len(tgt) == task.n_sequences == math.perm(3, 2) * math.perm(4, 2) * 2
    assert len({tuple(r) for r in tok.tolist()}) == len(tgt)
    _check_sequences(task, tok, tgt)
    ctok, ctgt = task.canonical()
    _check_sequences(task, ctok, ctgt)
    assert ctok[1].tolist() == [0, 3, 1, 4, 1] and ctgt.tolist() == [0, 1]
    with pytest.raises(ValueError, match="enumeration allows at most"):
        Task(8).enumerate()
