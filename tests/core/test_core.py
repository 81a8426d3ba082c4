"""The core (solve, criteria, Result, flows) on toy systems with closed-form flows: no transformer.

Tolerances: the solver's global error is a small multiple of its rtol, so solved states are
compared with the closed form to 30·rtol relative (measured: at most 4e-9 at rtol 1e-10 over the
trajectories below) and emergence times to 30·rtol relative.
"""

import numpy as np
import pytest
from scipy.optimize import brentq

import gradflow as gf
from toys import Plateau, Quadratic

RTOL = 1e-10


@pytest.mark.parametrize("flow", ["theta", "weights"])
@pytest.mark.parametrize("method", ["LSODA", "RK45", "DOP853", "Radau", "BDF"])
def test_linear_flow_matches_the_matrix_exponential(flow, method):
    q = Quadratic(coupled=1)
    r = gf.solve(system=q, flow=flow, method=method, rtol=RTOL, atol=1e-13)
    assert r.status == "emerged", r.message
    times = np.linspace(0, r.t[-1], 23)
    exact = np.array([q.exact(s, flow) for s in times])
    err = np.max(np.abs(r.theta_at(times) - exact)) / np.max(np.abs(exact))
    assert err < 30 * RTOL * (1 if method != "BDF" else 100), err      # BDF's order is lower (≤ 5)


def test_threshold_times_are_closed_form():
    q = Quadratic(coupled=0)
    r = gf.solve(system=q, rtol=RTOL, atol=1e-13)
    for k, name in enumerate(q.names):
        exact = -np.log(1 - 0.5 / q.star[k]) / q.DIAG[k]
        assert r.emergence["t_p"][name]["0.5"] == pytest.approx(exact, rel=30 * RTOL)
    # order by t_p(0.5): a_k larger and θ*_k closer to 0.5 first: exact times 0.231, 0.288, 0.516
    assert r.order == ("x", "y", "z")
    # loss crossing: brentq on the closed-form loss of the closed-form trajectory
    exact_T = brentq(lambda s: q.loss(q.exact(s)) - 0.5 * q.c, 0, r.t[-1], xtol=1e-15)
    assert r.emergence["T"] == pytest.approx(exact_T, rel=30 * RTOL)


def test_plateau_without_hessian_uses_difference_jacobians_or_explicit_methods():
    for method in ("LSODA", "Radau", "RK45"):
        r = gf.solve(system="plateau", method=method, rtol=RTOL, atol=1e-13)
        assert r.status == "emerged" and r.stats["njev"] >= 0
        for c in (0.5, 0.9):
            assert r.emergence["t_p"]["w"][f"{c:g}"] == pytest.approx(Plateau.time_to(c), rel=30 * RTOL)


def test_a_criterion_met_at_the_start_reports_time_zero():
    q = Quadratic(coupled=0)
    start_loss = q.loss(np.zeros(3))
    r = gf.solve(system=q, criteria=[gf.LossBelow("already", start_loss + 1.0),
                                     gf.Crosses("always", lambda th: 1.0)])
    assert r.emergence["already"] == 0.0 and r.emergence["always"] == 0.0


def test_user_criterion_of_theta():
    q = Quadratic(coupled=0)
    crit = gf.Crosses("x_plus_y_is_2", lambda th: th[0] + th[1] - 2.0)
    r = gf.solve(system=q, criteria=[crit], rtol=RTOL, atol=1e-13)
    exact = brentq(lambda s: q.exact(s)[:2].sum() - 2.0, 0, r.t[-1], xtol=1e-15)
    assert r.emergence["x_plus_y_is_2"] == pytest.approx(exact, rel=30 * RTOL)


def test_weight_flow_restriction_uses_the_inverse_of_the_sub_block():
    """dθ_S/dt = −(G_SS)⁻¹∇_S𝓛, not −(G⁻¹)_SS∇_S𝓛 (they differ when G couples S to the rest)."""
    q = Quadratic(coupled=1)
    r = gf.solve(system=q, flow="weights", params=("x", "y"), t_max=3.0, rtol=RTOL, atol=1e-13)
    assert np.allclose(r.theta[-1], q.exact(3.0, "weights", free=[0, 1]), rtol=30 * RTOL, atol=0)
    wrong = np.linalg.inv(q.G)[:2, :2]
    g = q.loss_and_grad(np.zeros(3))[1][:2]
    assert not np.allclose(-wrong @ g, -np.linalg.inv(q.G[:2, :2]) @ g, rtol=1e-3)


def test_staged_solve_continues_from_where_it_stopped():
    q = Quadratic(coupled=1)
    first = gf.solve(system=q, params=("x",), t_max=2.0, rtol=RTOL, atol=1e-13)
    assert np.all(first.theta[:, 1:] == 0)                     # held parameters do not move
    mid = q.exact(2.0, free=[0])
    np.testing.assert_allclose(first.theta[-1], mid, rtol=30 * RTOL)
    second = gf.solve(system=q, params=("y", "z"), theta0=first.theta[-1], t_max=5.0, rtol=RTOL, atol=1e-13)
    assert np.all(second.theta[:, 0] == first.theta[-1, 0])
    np.testing.assert_allclose(second.theta[-1], q.exact(5.0, theta0=mid, free=[1, 2]), rtol=30 * RTOL)
    assert np.isnan(second.emergence["t_p"]["x"]["0.5"])       # fixed: no time reported


def test_save_load_round_trip(tmp_path):
    q = Quadratic(coupled=1)
    r = gf.solve(system=q, method="LSODA", rtol=RTOL, atol=1e-13)
    back = gf.Result.load(r.save(tmp_path / "q.npz"))
    assert back.system == q and back.flow == r.flow and back.order == r.order
    for key in ("t", "theta", "loss", "dtheta"):
        np.testing.assert_array_equal(getattr(back, key), getattr(r, key))
    assert back.emergence == r.emergence
    # the loaded Result interpolates with cubic Hermite pieces: O(h⁴) between steps
    ts = np.linspace(0, r.t[-1], 41)
    assert np.max(np.abs(back.theta_at(ts) - r.theta_at(ts))) < 1e-4


def test_stationary_start_and_t_limit():
    q = Quadratic(coupled=1)
    r = gf.solve(system=q, theta0=q.star)
    assert r.status == "stationary" and len(r.t) == 1
    r = gf.solve(system=q, t_limit=0.05)
    assert r.status == "not_emerged" and r.t[-1] == 0.05 and "t_limit" in r.message


@pytest.mark.parametrize("hessian", [True, False])
def test_a_start_by_a_slow_saddle_escapes_and_a_stationary_point_stays(hessian):
    """A gradient below STATIONARY_TOL is not enough to call θ0 stationary: from x = 10⁻¹⁰ by the
    saddle of Escape (rate 10⁻⁶, ‖∇𝓛‖ = 10⁻¹⁶) the flow escapes at the closed-form time (1e-8
    relative, with atol below the start); at the saddle itself, at the minimum, and two float64
    spacings off the minimum, the start is stationary. With and without the analytic Hessian (the
    Jacobian by differences)."""
    from gradflow.solver import STATIONARY_TOL
    from toys import Escape
    system = Escape() if hessian else type("EscapeNoHessian", (Escape,), {"hessian": None})()
    eps = 1e-10
    assert abs(system.loss_and_grad(np.array([eps, 0.0]))[1]).max() <= STATIONARY_TOL
    r = gf.solve(system=system, theta0=[eps, 0.0], rtol=1e-10, atol=1e-3 * eps * 1e-10)
    assert r.status == "emerged"
    assert r.emergence["t_p"]["x"]["0.5"] == pytest.approx(Escape.time_to(0.5, eps), rel=1e-8)
    assert r.loss[0] == pytest.approx(system.loss(np.array([eps, 0.0])), rel=1e-15)
    for x0 in (0.0, 1.0, 1.0 + 2 * np.spacing(1.0)):
        r = gf.solve(system=system, theta0=[x0, 0.0])
        assert r.status == "stationary" and len(r.t) == 1


def test_a_system_instance_excludes_size_arguments():
    with pytest.raises(ValueError, match="size arguments"):
        gf.solve(system=Quadratic(), coupled=0)
    with pytest.raises(ValueError, match="^system must be one of"):
        gf.solve(system="nope")
    with pytest.raises(ValueError, match="unknown size argument"):
        gf.solve(system="quadratic", N=4)
    with pytest.raises(ValueError, match="^flow must be 'theta'"):
        gf.solve(system="plateau", flow="weights")


def test_a_schedule_runs_its_segments_from_the_systems_initial_point():
    """System.segments: x alone for t = 1, then y, z for t = 2, from System.initial(); θ matches
    the closed-form restricted flows (1e-7), each event at its first time over the segments,
    the boundary kept once."""
    from toys import Scheduled
    sys_ = Scheduled()
    r = gf.solve(system=sys_, rtol=1e-10, atol=1e-12)
    first = sys_.exact(1.0, theta0=sys_.initial(), free=[0])
    second = sys_.exact(2.0, theta0=first, free=[1, 2])
    assert np.max(np.abs(r.theta_at(1.0) - first)) < 1e-7
    assert np.max(np.abs(r.theta[-1] - second)) < 1e-7 and abs(r.t[-1] - 3.0) < 1e-12
    assert np.all(np.diff(r.t) > 0) and r.stats["segments"] == [[["x"], 1.0], [["y", "z"], 2.0]]
    # x reaches 0.5 inside segment 1 (closed form from 0.1: 1 − e^{−3t} scaled), y inside segment 2
    tx = -np.log((1.0 - 0.5) / (1.0 - 0.1)) / 3.0
    ty = 1.0 - np.log((2.0 - 0.5) / (2.0 - 0.1)) / 1.0
    assert abs(r.emergence["t_p"]["x"]["0.5"] - tx) < 1e-7 and abs(r.emergence["t_p"]["y"]["0.5"] - ty) < 1e-7
    assert r.order[:2] == ("x", "y")


def test_a_gradient_that_disagrees_with_the_loss_fails_fast():
    """A gradient flow never increases 𝓛: a system whose gradient has the wrong sign (the flow
    climbs) ends as "failed" within a few steps, naming the rise, instead of running on."""
    class Climbing(Quadratic):
        name = "climbing"

        def loss_and_grad(self, theta, free=None):
            value, g = super().loss_and_grad(theta, free)
            return value, -g
    r = gf.solve(system=Climbing(), t_max=50.0)
    assert r.status == "failed" and "the loss rose" in r.message and r.stats["n_steps"] < 50


def test_max_steps_message_says_whether_the_loss_has_settled():
    """A run stopped by max_steps before its criterion reports how much the loss still moved since
    half its time (a flow that has settled above the threshold says so)."""
    import gradflow as gf
    r = gf.solve(64, system="tokens", L=10 ** 6, max_steps=500, progress=False)
    assert r.status == "max_steps"
    assert "the loss moved by" in r.message and "raise max_steps or set t_max" in r.message
    settled = gf.solve(64, system="tokens", L=10 ** 9, max_steps=6000, progress=False)
    assert "it may have settled without the stop criterion (loss fell below 0.1 log N) being met" in settled.message


def test_log_coordinates_follow_a_parameter_far_below_atol():
    """ln|a| = ln 0.3 − 100 t to 1e-9 relative down to −3·10⁴ (a itself underflows to −0.0 at
    t ≈ 7.4 and keeps its sign before that); b grows with its rate. Integrated as it is
    (coords="linear"), a stalls near atol and its logarithm is off by thousands."""
    from toys import Decay
    s = Decay()
    r = gf.solve(system=s, t_max=300.0)
    assert r.log_params == ("a", "b")
    exact = s.exact_log_abs(r.t)
    assert np.max(np.abs(r.log_abs("a") - exact[:, 0]) / np.abs(exact[:, 0])) < 1e-9
    assert np.max(np.abs(r.log_abs("b") - exact[:, 1])) < 1e-8
    assert r.log_abs("a")[-1] < -2.9e4
    alive = r.t < 7.0
    assert np.all(r["a"][alive] < 0) and np.all(r["a"][~alive] <= 0)
    assert np.allclose(r["x"], 1 - np.exp(-r.t), atol=1e-8)
    # the dense output and dθ/dt in θ's own coordinates
    assert np.isclose(r.theta_at(0.01)[0], -0.3 * np.exp(-1.0), rtol=1e-7)
    assert np.allclose(r.dtheta[:5, 0], -100 * r.theta[:5, 0], rtol=1e-12)
    # a log parameter that starts at exactly 0 stays there, integrated linearly (its rate times 0)
    zero = gf.solve(system=s, theta0=[0.0, 0.02, 0.0], t_max=1.0)
    assert zero.log_params == ("b",) and np.all(zero["a"] == 0.0)
    assert np.isclose(zero.log_abs("b")[-1], np.log(0.02) + 0.5, rtol=1e-9)
    lin = gf.solve(system=s, t_max=300.0, coords="linear")
    assert lin.log_params == ()
    assert np.abs(lin.log_abs("a")[-1] - s.exact_log_abs(300.0)[0]) > 1e3


def test_log_coordinates_survive_save_load_and_segments(tmp_path):
    from toys import Decay
    r = gf.solve(system=Decay(), t_max=20.0)
    back = gf.Result.load(r.save(tmp_path / "d.npz"))
    assert back.log_params == r.log_params
    assert np.array_equal(back.log_abs_theta, r.log_abs_theta)
    # a schedule carries ln|a| and its sign across segments, also once a has underflowed to −0.0
    # (it is free for 8 + 5)
    st = gf.solve(system=Decay(staged=1))
    assert len(st.stats["segments"]) == 3
    assert np.isclose(st.log_abs("a")[-1], np.log(0.3) - 100 * 13.0, rtol=1e-9)
    assert np.isclose(st.log_abs("b")[-1], np.log(0.02) + 0.5 * 5.0, rtol=1e-9)
    assert st.theta[-1, 0] == 0.0 and np.signbit(st.theta[-1, 0]) and st.log_params == ("a", "b")


def test_coords_is_validated():
    from toys import Decay
    with pytest.raises(ValueError, match="coords must be one of auto, linear"):
        gf.solve(system=Decay(), t_max=1.0, coords="log")


def test_every_system_reports_its_events_in_one_vocabulary():
    """events["emergence"] is the main event under one name for every system; every criterion
    and every threshold of a free parameter is there too; the summary says what each is."""
    for r, main in ((gf.solve(6, params=("alpha3", "beta2", "gamma3")), "t_ICL"),
                    (gf.solve(6, system="tokens"), "T"),
                    (gf.solve(system="markov", count=30, length=12, t_max=200.0), "stages_done")):
        assert r.main_event == main
        ev = r.events
        assert ev["emergence"] == r.emergence[main] or (np.isnan(ev["emergence"]) and np.isnan(r.emergence[main]))
        assert all(c.key in ev for c in r.system.criteria() if not isinstance(c, gf.ParamReaches))
        assert all(k.startswith("t_") and k[2:].split("(")[0] in r.params for k in ev
                   if "(" in k)
        text = r.summary()
        assert f"emergence = {ev['emergence']:.6g}   ({main}: " in text and "order of the head (by " in text
        assert len(repr(r).splitlines()) <= 4
