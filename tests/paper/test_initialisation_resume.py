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


def _row(N, sigma, seed):
    return {"N": N, "sigma": sigma, "seed": seed, "T_beta": 1.0, "T_alpha": 2.0, "off_span": [0.0],
            "steps": 1, "sequences": 8, "seconds": 0.5}


def test_runs_of_an_unchanged_case_are_kept_and_of_a_changed_one_dropped(tmp_path):
    done = [_row(3, None, 0), _row(3, 0.1, 0), _row(4, None, 0), _row(4, 0.1, 1)]
    doc = init._assemble(done, 1.0, 1)
    assert [c["meta"]["N"] for c in doc["cases"]] == [3, 4]
    assert doc["meta"]["solve_seconds"] == pytest.approx(2.0)
    doc["cases"][1]["meta"]["t_end"] += 1.0                      # the N = 4 case changed since
    path = tmp_path / "initialisation.json"
    path.write_text(json.dumps(doc))
    kept = init._previous(path)
    assert {(r["N"], r["sigma"], r["seed"]) for r in kept} == {(3, None, 0), (3, 0.1, 0)}


def test_a_case_without_its_zero_start_is_not_assembled():
    doc = init._assemble([_row(4, 0.1, 0)], 1.0, 1)
    assert doc["cases"] == []


@pytest.mark.parametrize("text", ["{not json", json.dumps({"zero": {}, "rows": []})])
def test_a_corrupt_or_old_file_is_ignored(tmp_path, text):
    path = tmp_path / "initialisation.json"
    path.write_text(text)
    assert init._previous(path) == []
    assert init._previous(tmp_path / "absent.json") == []
