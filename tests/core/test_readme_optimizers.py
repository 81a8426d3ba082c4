"""The optimizers results page is rendered from the benchmark JSON, and one of its rows solves
again to the committed numbers."""

import json
from pathlib import Path

import pytest

import gradflow as gf

LAWS = Path(__file__).resolve().parents[2] / "benchmarks/results/optimizers/laws.json"


def test_optimizers_block_matches_the_benchmark_json():
    from readme_block import assert_system_block_rendered
    assert_system_block_rendered("optimizers")


def test_an_adam_row_is_reproduced():
    """The head under Adam at N = 1024 (PyTorch's defaults, weight flow) solved again: T_β, T_α and
    the order equal the committed JSON to 1e-6 relative. (A recorded-number test: it protects the
    committed table, not the optimizer, whose behaviour tests/core/test_optimizers.py checks.)"""
    rows = json.loads(LAWS.read_text())["rows"]
    row = next(r for r in rows if r["N"] == 1024 and r["which"] == "head" and r["optimizer"] == {
        "name": "adam", "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8})
    r = gf.solve(1024, optimizer=row["optimizer"], flow="weights", params=["alpha3", "beta2", "gamma3"], margin=4.0)
    assert r.emergence["t_p"]["beta2"]["0.5"] == pytest.approx(row["t_p"]["beta2"], rel=1e-6)
    assert r.emergence["t_p"]["alpha3"]["0.5"] == pytest.approx(row["t_p"]["alpha3"], rel=1e-6)
    assert list(r.order) == row["order"]
