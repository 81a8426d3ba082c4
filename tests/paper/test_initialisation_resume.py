"""The initialisation benchmark keeps what it has measured: runs already in its JSON are reused when
their case is unchanged, a corrupt or foreign file is ignored rather than fatal, and the document is
assembled from whatever has finished (benchmarks/paper/initialisation.py)."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "paper"))
import initialisation as init  # noqa: E402

sys.path.pop(0)


def _row(N, sigma, seed, group="coupled"):
    return {"group": group, "N": N, "sigma": sigma, "seed": seed, "T_beta": 1.0, "T_alpha": 2.0, "off_span": [0.0],
            "steps": 1, "sequences": 8, "seconds": 0.5}


def test_runs_of_an_unchanged_case_are_kept_and_of_a_changed_one_dropped(tmp_path):
    done = [_row(3, None, 0), _row(3, 0.1, 0), _row(4, None, 0), _row(4, 0.1, 1)]
    doc = init._assemble(done, 1.0, 1)
    assert [(c["meta"]["group"], c["meta"]["N"]) for c in doc["cases"]] == [("coupled", 3), ("coupled", 4)]
    assert doc["meta"]["solve_seconds"] == pytest.approx(2.0)
    doc["cases"][1]["meta"]["t_end"] += 1.0                      # the N = 4 case changed since
    path = tmp_path / "initialisation.json"
    path.write_text(json.dumps(doc))
    kept = init._previous(path)
    assert {(r["group"], r["N"], r["sigma"], r["seed"]) for r in kept} == {("coupled", 3, None, 0), ("coupled", 3, 0.1, 0)}


def test_a_file_from_before_the_groups_is_read_as_the_product_group(tmp_path):
    """Runs written before the coupled group existed (no group anywhere) are the product group's:
    kept as such, and assembled as the product group's cases beside the coupled group's."""
    doc = init._assemble([_row(3, None, 0, "product"), _row(3, 0.1, 2, "product")], 1.0, 1)
    for case in doc["cases"]:
        del case["meta"]["group"]
        for r in [case["zero"]] + case["rows"]:
            del r["group"]
    path = tmp_path / "initialisation.json"
    path.write_text(json.dumps(doc))
    kept = init._previous(path)
    assert {(r["group"], r["N"], r["sigma"], r["seed"]) for r in kept} == {("product", 3, None, 0), ("product", 3, 0.1, 2)}
    both = init._assemble(kept + [_row(3, None, 0)], 1.0, 1)
    assert [c["meta"]["group"] for c in both["cases"]] == ["coupled", "product"]


def test_the_comparison_pairs_runs_by_seed():
    """|T_coupled − T_product| / T0 is taken between runs of the same σ and seed only; a run that
    did not reach 0.5 leaves the row without numbers."""
    runs = [_row(3, None, 0), _row(3, None, 0, "product"),
            dict(_row(3, 0.1, 0), T_beta=1.1), dict(_row(3, 0.1, 0, "product"), T_beta=1.05),
            dict(_row(3, 0.1, 1), T_alpha=2.2),                          # seed 1: coupled only
            dict(_row(3, 0.3, 0), T_alpha=None), _row(3, 0.3, 0, "product")]
    rows = init.comparison(init._assemble(runs, 1.0, 1))
    assert [(r["sigma"], r["seeds"]) for r in rows] == [(0.1, 1), (0.3, 1)]
    assert rows[0]["gap"] == pytest.approx(0.05) and rows[0]["coupled"] == pytest.approx(0.1)
    assert rows[0]["product"] == pytest.approx(0.05)
    assert rows[1]["gap"] is None


def test_a_case_without_its_zero_start_is_not_assembled():
    doc = init._assemble([_row(4, 0.1, 0)], 1.0, 1)
    assert doc["cases"] == []


@pytest.mark.parametrize("text", ["{not json", json.dumps({"zero": {}, "rows": []})])
def test_a_corrupt_or_old_file_is_ignored(tmp_path, text):
    path = tmp_path / "initialisation.json"
    path.write_text(text)
    assert init._previous(path) == []
    assert init._previous(tmp_path / "absent.json") == []
