"""The README's markov numbers are rendered from the benchmark JSON, and a few of them re-solved."""

import json
from pathlib import Path

import numpy as np

import gradflow as gf
from gradflow.systems.markov import MarkovSystem
from gradflow.systems.markov.stage1 import predicted_time

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "benchmarks" / "results" / "markov" / "study.json"


def test_markov_block_matches_the_benchmark_json():
    from readme_block import assert_system_block_rendered
    assert_system_block_rendered("markov")


def test_a_selection_row_is_reproduced():
    """Re-solve one row of the committed selection table (S = 3, n = 2, α = 0.3, ce_softmax): the
    selected set, T_I of the flow and of the law to the printed 4 digits (1e-3 relative)."""
    d = json.loads(STUDY.read_text())
    row = next(r for r in d["selection"]["rows"] if (r["S"], r["n"], r["alpha"]) == (3, 2, 0.3))
    st = d["selection"]["settings"]
    s = MarkovSystem(S=3, n=2, alpha=0.3, length=st["L"], count=st["count"], seed=st["seed"])
    law = predicted_time(s.initial(), s)
    r = gf.solve(system=s, params=s.layout.c_names, t_max=2 * row["ce_softmax"]["T_flow"])
    assert list(s.leading(r.theta[-1])) == row["ce_softmax"]["flow_selected"]
    assert np.isclose(r.emergence["selector"], row["ce_softmax"]["T_flow"], rtol=1e-3)
    assert np.isclose(law["t"], row["ce_softmax"]["T_law"], rtol=1e-6)


def test_markov_usage_example_runs(tmp_path, monkeypatch):
    """The getting-started page's second python block runs and its comments hold."""
    import re
    readme = (ROOT / "docs" / "getting-started.md").read_text()
    code = re.findall(r"```python\n(.*?)```", readme, re.S)[1]
    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(compile(code, "README.md", "exec"), ns)
    assert ns["m"].order == ("selector", "classifier", "copier") and ns["parents"] == (1, 2)
    assert ns["st"].order == ("selector", "copier", "classifier") and len(ns["st"].stats["segments"]) == 3
    assert ns["inf"].system.leading(ns["inf"].theta[-1]) == (1, 2)
    assert ns["law"]["winner"] == (1, 2) and abs(ns["law"]["t"] - ns["st"].emergence["selector"]) < 0.01 * ns["law"]["t"]
    assert ns["full"].success and len(ns["full"].names) == 37 and ns["full"].flow == "weights"
