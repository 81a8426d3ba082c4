"""The README's paper numbers are rendered from the benchmark JSON."""


def test_paper_block_matches_the_benchmark_json():
    from readme_block import assert_system_block_rendered
    assert_system_block_rendered("paper")


def test_an_ablation_row_is_reproduced():
    """head + γ4 at N = 1024 (benchmarks/paper/ablation.py) solved again: T_β and T_α equal the
    committed JSON to 1e-6 relative, and the order is γ3 → α3 → β2."""
    import json
    from pathlib import Path

    import pytest

    import gradflow as gf
    d = json.loads((Path(__file__).resolve().parents[2] / "benchmarks/results/paper/ablation.json").read_text())
    row = d["analysis"]["head + gamma4"]
    r = gf.solve(1024, params=tuple(row["params"]), progress=False)
    assert r.emergence["t_p"]["beta2"]["0.5"] == pytest.approx(row["T"]["beta2"][0], rel=1e-6)
    assert r.emergence["t_p"]["alpha3"]["0.5"] == pytest.approx(row["T"]["alpha3"][0], rel=1e-6)
    assert r.order == ("gamma3", "alpha3", "beta2")
