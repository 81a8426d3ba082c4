"""The README's tokens numbers can be recomputed: re-solve the small rows of the committed
scaling study and compare with the JSON the README is rendered from.

Same method and tolerances as the study (LSODA, rtol 1e-6, atol 1e-10), so the only differences
are rounding, amplified by the integrator's step selection: measured ≤ 6.3e-7 relative since the
block kernel sums in another order than the kernel that wrote the JSON (9e-8 before). The bound
5e-6 is 10× below the 4 significant digits the README prints (5e-5) and 8× above that."""

import json
from pathlib import Path

import numpy as np
import pytest

import gradflow as gf

DATA = json.loads((Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "tokens" /
                   "scaling.json").read_text())
PARAMS = {"19": None, "3": ("alpha3", "beta2", "gamma3")}
ROWS = [x for x in DATA["runs"] if x["N"] <= 16]


@pytest.mark.parametrize("row", ROWS, ids=lambda x: f"N{x['N']}-L{x['L']}-{x['flow']}-{x['system']}")
def test_scaling_row_is_reproduced(row):
    m = DATA["meta"]
    r = gf.solve(row["N"], system="tokens", L=row["L"], flow=row["flow"], params=PARAMS[row["system"]],
                 method=m["method"], rtol=m["rtol"], atol=m["atol"], t_limit=row["t_limit"])
    assert r.status == row["status"]
    assert r.emergence["T"] == pytest.approx(row["T"], rel=5e-6)
    assert r.emergence["T_tenth"] == pytest.approx(row["T_tenth"], rel=5e-6)
    for name in ("alpha3", "beta2", "gamma3"):
        for c, value in row["t_p"][name].items():
            assert (np.isnan(r.emergence["t_p"][name][c]) if value is None
                    else r.emergence["t_p"][name][c] == pytest.approx(value, rel=5e-6))
    assert list(r.order) == row["order"]


def test_the_rows_cover_every_configuration():
    assert len(ROWS) == 3 * 8            # N = 4, 8, 16 × 2 flows × 2 systems × 2 rules for L
