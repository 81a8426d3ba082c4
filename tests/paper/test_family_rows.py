"""Re-solved rows of the committed family benchmark (benchmarks/results/paper/family.json): these
compare with recorded numbers (tools/mutation.py counts them as pinned), so they say that a change of
the flow shows, not that the flow is right; test_family.py has the behaviour tests."""

import json
from pathlib import Path

import numpy as np
import pytest

import gradflow as gf

FAMILY = json.loads((Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "paper" / "family.json").read_text())
ROWS = [next(r for r in FAMILY["rows"] if r["question"] == q and r["which"] == "all" and r["N"] == min(
    x["N"] for x in FAMILY["rows"] if x["question"] == q)) for q in sorted({r["question"] for r in FAMILY["rows"]})]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['question']}-N{r['N']}")
def test_family_benchmark_row_is_reproduced(row):
    """Re-solve the smallest every-parameter row of each question of the committed benchmark: the
    head's Definition-1 times and T_loss within 1e-6 relative (same method and tolerances; what is
    compared is the solve today against the recorded one, so a change of the flow shows)."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "paper"))
    from family import QUESTIONS, T_LIMIT_PER_N2
    opts, query, _ = QUESTIONS[row["question"]]
    r = gf.solve(row["N"], system="paper", query=query, **opts, t_limit=T_LIMIT_PER_N2 * row["N"] ** 2)
    assert r.status == row["status"]
    for name, t in row["t_p"].items():
        got = r.emergence["t_p"][name]["0.5"]
        assert (t is None and not np.isfinite(got)) or got == pytest.approx(t, rel=1e-6)
    assert r.emergence["T_loss"] == pytest.approx(row["T_loss"], rel=1e-6)



HEAD_ROWS = [r for r in FAMILY["rows"] if r["question"] in ("burst=4", "burst=8") and r["which"] == "head"
             and r["N"] == 32]


@pytest.mark.parametrize("row", HEAD_ROWS, ids=lambda r: f"{r['question']}-head-N{r['N']}")
def test_burst_head_row_is_reproduced(row):
    """Re-solve a burst head row of the committed benchmark (B = 4 and 8 at N = 32, on the placements
    recursion): t_ICL and T_loss within 1e-6 relative (pinned, as above)."""
    B = int(row["question"].split("=")[1])
    r = gf.solve(row["N"], system="paper", burst=B, params=row["head"], t_limit=2000.0 * row["N"] ** 2)
    assert r.status == row["status"] == "emerged"
    assert r.emergence["t_ICL"] == pytest.approx(row["t_ICL"], rel=1e-6)
    assert r.emergence["T_loss"] == pytest.approx(row["T_loss"], rel=1e-6)
