"""Labelled data out: Result.to_frame, events_table, to_xarray, to_csv, and a sweep store as a
DataFrame — each checked against the Result's own arrays, and round-tripped where saved."""

import csv

import numpy as np
import pytest

import gradflow as gf
from gradflow import sweeps as sw

P3 = ("alpha3", "beta2", "gamma3")


@pytest.fixture(scope="module")
def held():
    """A solve with parameters held (so that free and held columns differ)."""
    return gf.solve(8, params=P3)


def test_to_frame_holds_t_loss_and_every_parameter(held):
    frame = held.to_frame()
    assert list(frame.columns) == ["t", "loss", *held.names]
    assert np.array_equal(frame["t"].to_numpy(), held.t) and np.array_equal(frame["loss"].to_numpy(), held.loss)
    assert np.array_equal(frame[list(held.names)].to_numpy(), held.theta)
    assert frame.attrs["system"] == "paper" and frame.attrs["sizes"]["N"] == 8 and frame.attrs["status"] == "emerged"
    assert np.all(frame["alpha1"] == 0.0) and frame["beta2"].iloc[-1] > 0.5        # held, free


def test_events_table_lists_every_event_of_the_free_parameters(held):
    events = held.events_table()
    assert set(events["kind"]) == {"loss", "crosses", "parameter"}
    assert set(events.loc[events["kind"] == "parameter", "parameter"]) == set(P3)
    row = events.set_index("event").loc["t_beta2(0.5)"]
    assert row["time"] == held.emergence["t_p"]["beta2"]["0.5"] and row["level"] == 0.5
    for key, time in held.events.items():
        if key != "emergence":
            assert events.set_index("event").loc[key, "time"] == time or np.isnan(time)


def test_to_xarray_is_labelled_by_time_and_parameter(held):
    ds = held.to_xarray()
    assert ds["theta"].dims == ("t", "param") and list(ds["param"].values) == list(held.names)
    assert float(ds["theta"].sel(param="gamma3").isel(t=-1)) == held["gamma3"][-1]
    assert np.array_equal(ds["dtheta"].values, held.dtheta) and ds.attrs["system"] == "paper"


def test_to_csv_round_trips_every_number(held, tmp_path):
    path = held.to_csv(tmp_path / "r")
    assert path.suffix == ".csv"
    with open(path) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["t", "loss", *held.names] and len(rows) == len(held.t) + 1
    back = np.array(rows[1:], dtype=float)
    assert np.array_equal(back[:, 0], held.t) and np.array_equal(back[:, 2:], held.theta)   # repr: exact
    with pytest.raises(ValueError, match="must end in .csv"):
        held.to_csv(tmp_path / "r.txt")


def test_a_store_as_a_frame_has_one_row_per_run(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:
        rows = sw.sweep({"N": [4, 8], "params": [P3, ("beta2", "gamma3")]}, tmp_path, executor=pool, progress=False)
    frame = sw.load(tmp_path)
    assert len(frame) == 4 and set(frame["key"]) == {r["key"] for r in rows}
    for r in rows:
        got = frame.set_index("key").loc[r["key"]]
        assert got["N"] == r["inputs"]["N"] and got["status"] == r["status"]
        assert got["t_beta2(0.5)"] == r["emergence"]["t_p"]["beta2"]["0.5"]
        assert got["order"] == " -> ".join(r["order"])
