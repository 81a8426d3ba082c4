"""Optimizers on the markov system: its parameters are the simplified model's own weights, so Adam on
every tensor entry of the reference is its flow (check); the staged schedule is gradient descent's."""

import pytest

import gradflow as gf
from gradflow.optimizers import Adam
from gradflow.systems.markov import MarkovSystem


def test_check_against_full_tensor_adam():
    """Adam on every entry of the full-tensor reference at steps η, η/2, η/4 follows the solved Adam
    flow at first order; the dead coefficients (0 ∈ R) never move (their gradient is 0, so is
    Adam's step)."""
    report = MarkovSystem(length=10, count=12).check(optimizer=Adam(lr=0.02, eps=1e-3), t_end=0.5, eta=0.005)
    assert report.passed, report.summary()
    assert report.dead_moved == 0.0 and "under adam (lr 0.02" in report.summary()


def test_the_staged_schedule_refuses_other_optimizers():
    with pytest.raises(ValueError, match="solved segment by segment"):
        gf.solve(system="markov", schedule="staged", length=10, count=12, optimizer="adam")
    # a given t_max solves one flow of every parameter: allowed
    r = gf.solve(system="markov", schedule="staged", length=10, count=12, optimizer="sign", t_max=0.05)
    assert r.success and r.optimizer == {"name": "sign", "eps": 1e-8}
