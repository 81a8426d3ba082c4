"""solve(), Result and check(): the flows of SPEC §5 and the emergence of SPEC §6."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import gradflow as gf
from gradflow.systems.tokens.check import check
from gradflow.systems.tokens.subspace import gram_matrix, index

HEAD = ("alpha3", "beta2", "gamma3")


@pytest.fixture(scope="module")
def n8():
    return gf.solve(8, system="tokens", method="Radau")      # Radau: the analytic-Jacobian path


def test_solve_reports_emergence(n8):
    r = n8
    assert r.status == "emerged" and r.success and r.flow == "theta" and r.params == gf.NAMES
    T = r.emergence["T"]
    # T is a root of 𝓛(θ(t)) = ½ log N on the dense output (tolerance 1e-9 absolute)
    assert abs(gf.loss(r.theta_at(T), r.task) - 0.5 * np.log(8)) < 1e-9
    assert abs(gf.loss(r.theta_at(r.emergence["T_tenth"]), r.task) - 0.1 * np.log(8)) < 1e-9
    for name in HEAD:
        for c in ("0.1", "1"):
            assert abs(r.theta_at(r.emergence["t_p"][name][c])[index(name)] - float(c)) < 1e-9
    assert r.emergence["T"] < r.emergence["T_tenth"] <= r.t[-1]
    assert np.all(np.diff(r.loss) <= 1e-15)          # gradient flow never increases the loss
    assert r.loss[0] == pytest.approx(np.log(9), rel=1e-15)
    assert r.stats["nfev"] > 0 and r.stats["njev"] > 0 and r.stats["n_steps"] > 10


@pytest.mark.parametrize("flow", ["theta", "weights"])
@pytest.mark.parametrize("N", [4, 8, 16])
def test_order_is_gamma3_beta2_alpha3(N, flow):
    r = gf.solve(N, system="tokens", flow=flow)
    assert r.order == ("gamma3", "beta2", "alpha3")


def test_three_parameter_solve_equals_frozen_full_system():
    """params=(α3, β2, γ3) against the 19-dimensional right-hand side with the other 16
    components of the gradient set to zero, integrated independently (DOP853, rtol 1e-12):
    θ agrees to 1e-6 absolute at 30 times and T(N) to 1e-7 relative."""
    task = gf.Task(8)
    r = gf.solve(8, system="tokens", params=HEAD, rtol=1e-11, atol=1e-13)
    mask = np.zeros(19)
    mask[[index(n) for n in HEAD]] = 1.0
    ref = solve_ivp(lambda t, y: -mask * gf.grad(y, task), (0, r.t[-1]), np.zeros(19), method="DOP853",
                    rtol=1e-12, atol=1e-14, dense_output=True)
    ts = np.linspace(0, r.t[-1], 30)
    assert np.max(np.abs(ref.sol(ts).T - r.theta_at(ts))) < 1e-6
    assert np.all(r.theta[:, mask == 0] == 0)
    # the emergence time of the reference integration, by bisection on its dense output
    from scipy.optimize import brentq
    T_ref = brentq(lambda t: gf.loss(ref.sol(t), task) - 0.5 * np.log(8), 0, r.t[-1], xtol=1e-12)
    assert abs(r.emergence["T"] - T_ref) < 1e-7 * T_ref


def test_weight_flow_is_preconditioned_by_the_gram_matrix():
    task = gf.Task(5, L=8)
    from gradflow.flows import Flow
    from gradflow.systems.tokens import TokensSystem
    fl = Flow(TokensSystem(5, L=8), "weights")
    theta = np.random.default_rng(0).normal(size=19)
    np.testing.assert_allclose(gram_matrix(task) @ fl.rhs(0, theta), -gf.grad(theta, task), rtol=1e-12,
                               atol=1e-15)
    # the analytic Jacobian matches differences of the right-hand side (h = 1e-6, 1e-6 relative)
    h = 1e-6
    fd = np.array([(fl.rhs(0, theta + h * e) - fl.rhs(0, theta - h * e)) / (2 * h) for e in np.eye(19)]).T
    J = fl.jac(0, theta)
    assert np.max(np.abs(J - fd)) < 1e-6 * np.max(np.abs(J))


@pytest.mark.parametrize("flow", ["theta", "weights"])
def test_four_conserved_beta_combinations_and_15_dimensions(flow):
    """derivations/README.md §5: v·θ is conserved by the θ-flow and (Gv)·θ by the weight flow
    for the four v below, and the trajectory from θ = 0 spans exactly 19 − 4 = 15 dimensions."""
    N, L = 8, 12
    r = gf.solve(N, system="tokens", L=L, flow=flow)
    V = np.zeros((4, 19))
    V[0, [index("beta3"), index("beta7"), index("beta11")]] = [-1, 1, 1]
    V[1, [index("beta4"), index("beta8"), index("beta12")]] = [-1, 1, 1]
    V[2, [index("beta9"), index("beta11")]] = [N, 1]
    V[3, [index("beta10"), index("beta12")]] = [N, 1]
    if flow == "weights":
        V = V @ gram_matrix(r.task)
    scale = np.max(np.abs(r.theta)) * np.max(np.abs(V))
    assert np.max(np.abs(r.theta @ V.T)) < 1e-12 * scale
    s = np.linalg.svd(r.theta, compute_uv=False)
    assert np.sum(s > 1e-12 * s[0]) == 15
    assert s[14] > 1e-9 * s[0]                      # the 15th direction is really used


def test_methods_agree():
    T = {m: gf.solve(8, system="tokens", method=m, rtol=1e-10, atol=1e-12).emergence["T"] for m in ("Radau", "BDF", "LSODA")}
    assert max(T.values()) - min(T.values()) < 1e-6 * T["Radau"]


def test_t_max_is_respected():
    r = gf.solve(6, system="tokens", t_max=50.0)
    assert r.status == "t_max" and r.t[-1] == 50.0 and np.isnan(r.emergence["T"])


def test_t_limit_reports_not_emerged():
    r = gf.solve(8, system="tokens", t_limit=50.0)
    assert r.status == "not_emerged" and not r.success and r.t[-1] == 50.0


def test_stationary_start_is_reported_not_integrated():
    r = gf.solve(6, system="tokens", L=6)
    assert r.status == "stationary" and not r.success and "stationary" in r.message
    assert len(r.t) == 1 and r.order == ()
    theta0 = np.zeros(19)
    theta0[index("gamma3")] = 0.1                   # a perturbed start does move
    assert gf.solve(6, system="tokens", L=6, theta0=theta0, t_max=10.0).status == "t_max"


def test_save_load_round_trip(n8, tmp_path):
    path = n8.save(tmp_path / "r8")
    assert path.suffix == ".npz"
    back = gf.Result.load(path)
    for key in ("t", "theta", "loss", "dtheta"):
        assert np.array_equal(getattr(back, key), getattr(n8, key))
    timed = {k: v for k, v in n8.stats.items() if k != "wall_seconds"}
    assert back.task == n8.task and back.order == n8.order and back.stats == timed
    assert gf.Result.load(n8.save(tmp_path / "timed.npz", timings=True)).stats == n8.stats
    assert back.emergence["T"] == n8.emergence["T"] and np.isnan(back.emergence["t_p"]["alpha1"]["1"]) == \
        np.isnan(n8.emergence["t_p"]["alpha1"]["1"])
    # after loading, θ(t) comes from the cubic Hermite interpolant of the saved steps and their
    # exact derivatives; against Radau's own dense output it differs by 2.5e-9 of max |θ| (measured)
    ts = np.linspace(0, n8.t[-1], 57)
    assert np.max(np.abs(back.theta_at(ts) - n8.theta_at(ts))) < 2e-8 * np.max(np.abs(n8.theta))


def test_save_load_round_trip_lsoda(tmp_path):
    """LSODA keeps no derivative at the steps: it is evaluated when saving, exactly."""
    r = gf.solve(6, system="tokens", method="LSODA")
    back = gf.Result.load(r.save(tmp_path / "l6.npz"))
    assert np.array_equal(back.dtheta, r.dtheta)
    k = len(r.t) // 2
    np.testing.assert_allclose(r.dtheta[k], -gf.grad(r.theta[k], r.task), rtol=1e-14, atol=1e-18)


def test_plot_writes_a_figure(n8, tmp_path):
    fig = n8.plot(tmp_path / "n8.png")
    assert (tmp_path / "n8.png").stat().st_size > 10_000
    assert len(fig.axes) == 2


@pytest.mark.parametrize("kwargs, match", [
    ({"N": 1}, "^N must be an integer >= 2"), ({"N": 4.0}, "^N must be"), ({"N": 4, "L": 3}, "^L must be"),
    ({"flow": "adam"}, "^flow must be one of"), ({"method": "Euler"}, "^method must be one of"),
    ({"params": ("alpha3", "delta")}, "unknown pseudo-parameter 'delta'"), ({"params": "alpha3"}, "^params must"),
    ({"rtol": 0}, "^rtol must be"), ({"atol": -1}, "^atol must be"), ({"t_max": -5}, "^t_max must be"), ({"t_limit": 0}, "^t_limit must be"),
    ({"theta0": np.zeros(3)}, r"^theta0 must have shape \(19,\)"), ({"margin": 0.5}, "^margin must be"),
])
def test_invalid_input(kwargs, match):
    args = {"N": 4} | kwargs
    with pytest.raises(ValueError, match=match):
        gf.solve(**args, system="tokens")


def test_check_against_reference_with_every_sequence():
    """Reference GD with the gradient summed over all 432 sequences (nothing assumed about the
    weights): off-subspace ≤ 1e-9 and errors halve with η (ratios in [1.6, 2.4])."""
    rep = check(3, t_end=180.0, n_times=6, method="enumerate")
    assert max(rep.off_subspace) <= 1e-9
    assert all(1.6 <= r <= 2.4 for r in rep.rates) and rep.passed
    assert rep.errors[-1] < 0.02
    # Richardson extrapolation removes GD's first-order error: second order remains (measured
    # ratio 3.946, error 1.4e-4): the flow agrees with GD's η → 0 limit to ~1e-4, not just 0.016
    assert all(3.0 <= r <= 5.0 for r in rep.extrapolated_rates)
    assert rep.extrapolated_errors[-1] < 3e-4


def test_check_default_symmetric_reference():
    rep = check(4, eta=1.0, t_end=400.0, n_times=8)
    assert rep.passed and rep.errors[0] > rep.errors[1] > rep.errors[2]
    assert "PASSED" in rep.summary()


def test_results_saved_before_systems_existed_still_load():
    """tests/tokens/data/result_v0.1_N5.npz was written by gradflow 0.1 (no "system" in its
    metadata): solve(5, method="LSODA", t_max=60)."""
    from pathlib import Path
    old = gf.Result.load(Path(__file__).parent / "data" / "result_v0.1_N5.npz")
    assert old.system.name == "tokens" and old.task == gf.Task(5) and old.status == "t_max"
    assert old.emergence["t_p"]["gamma3"]["0.1"] == pytest.approx(6.65654198958123, rel=1e-12)
    # the same solve today: the block kernel adds in another order than 0.1's, and LSODA carries
    # those rounding differences forward (measured 2.9e-12 relative)
    new = gf.solve(5, system="tokens", method="LSODA", t_max=60.0)
    np.testing.assert_allclose(new.theta[-1], old.theta[-1], rtol=1e-10, atol=1e-14)


def test_bad_files_and_paths_raise_clean_errors(tmp_path, n8):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="is not a saved gradflow Result"):
        gf.Result.load(bad)
    with pytest.raises(ValueError, match=r"^path must end in \.npz"):
        n8.save(tmp_path / "x.txt")
    with pytest.raises(OSError, match="is a directory"):
        n8.save(tmp_path)
    with pytest.raises(OSError, match="does not exist"):
        n8.plot(tmp_path / "missing" / "x.png")


def test_sizes_beyond_the_machine_are_refused_before_work():
    import time
    start = time.perf_counter()
    with pytest.raises(ValueError, match="beyond this machine.*GiB.*h"):
        gf.solve(10**9, system="tokens")
    assert time.perf_counter() - start < 1.0
