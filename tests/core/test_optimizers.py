"""Optimizers as flows (gradflow.optimizers): each against a closed form on a toy system, each
against its own discrete rule (first order in the step), the reduction on the weight flow, the
refusals, and the state through save/load, sweeps and the CLI."""

import json

import numpy as np
import pytest
from scipy.linalg import expm
from toys import Bowl, Cup, Quadratic, Scheduled, Slope

import gradflow as gf
from gradflow import optimizers as opts
from gradflow.optimizers import Adam, Momentum, Sign

TIMES = np.array([0.05, 0.3, 1.0, 2.5])


@pytest.mark.parametrize("flow", ["theta", "weights"])
@pytest.mark.parametrize("optimizer", [Adam(lr=0.01, beta1=0.5, beta2=0.9, eps=1e-3), Sign(eps=1e-3)])
def test_adam_and_sign_on_a_constant_gradient(flow, optimizer):
    """With h constant, Adam's corrected moments are h and h² from t = 0 (a missing or wrong bias
    correction would change them), so θ(t) = −t h/(|h| + ε)/scale, to the tolerance; r, whose h is
    1e-9 (far below ε), moves at 1e-6 of unit speed, s (h = 0) not at all."""
    s = Slope()
    r = gf.solve(system=s, optimizer=optimizer, flow=flow, t_max=TIMES[-1], rtol=1e-11, atol=1e-13)
    h = s.update_gradient(flow)
    exact = -TIMES[:, None] * h / (np.abs(h) + optimizer.eps) / s.steps_scale(flow)
    np.testing.assert_allclose(r.theta_at(TIMES), exact, rtol=1e-9, atol=1e-12)
    assert np.all(r["s"] == 0.0)
    p_half = 0.5 / (abs(h[0]) / (abs(h[0]) + optimizer.eps) / s.steps_scale(flow)[0])
    assert r.emergence["t_p"]["p"]["0.5"] == pytest.approx(p_half, rel=1e-9)


@pytest.mark.parametrize("flow", ["theta", "weights"])
def test_momentum_on_a_constant_gradient(flow):
    s = Slope()
    opt = Momentum(lr=0.2, momentum=0.7)
    r = gf.solve(system=s, optimizer=opt, flow=flow, t_max=TIMES[-1], rtol=1e-11, atol=1e-13)
    h = s.G if flow == "theta" else s.G / (s.COUNT * s.SCALE ** 2)        # (G)⁻¹ g: the metric is diagonal
    exact = s.momentum(TIMES[:, None], h, 0.2, 0.7)
    np.testing.assert_allclose(r.theta_at(TIMES), exact, rtol=1e-9, atol=1e-12)
    # its state is the velocity b = −dθ/dt, starting at h (PyTorch's first buffer)
    np.testing.assert_allclose(r.state[0], h, rtol=1e-15)
    np.testing.assert_allclose(r.state, -r.dtheta, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("flow", ["theta", "weights"])
def test_momentum_on_the_coupled_quadratic(flow):
    """Momentum is linear: on 𝓛 = ½θᵀAθ − bᵀθ its flow is y' = K(y − y*) with y = (θ, b),
    K = [[0, −I], [MA/η, −(1−μ)/η I]] (M = I or G⁻¹), closed-form through expm, from a
    non-symmetric start."""
    q = Quadratic(coupled=1)
    lr, mu = 0.3, 0.8
    theta0 = np.array([0.3, -0.2, 0.7])
    r = gf.solve(system=q, optimizer=Momentum(lr=lr, momentum=mu), flow=flow, theta0=theta0, t_max=4.0,
                 rtol=1e-11, atol=1e-13)
    M = np.eye(3) if flow == "theta" else np.linalg.inv(q.G)
    K = np.block([[np.zeros((3, 3)), -np.eye(3)], [M @ q.A / lr, -(1 - mu) / lr * np.eye(3)]])
    y0 = np.concatenate([theta0 - q.star, M @ (q.A @ theta0 - q.B)])
    for t in (0.5, 2.0, 4.0):
        exact = q.star + (expm(K * t) @ y0)[:3]
        np.testing.assert_allclose(r.theta_at(t), exact, rtol=1e-8, atol=1e-10)


def test_sign_threshold_times_on_the_uncoupled_quadratic():
    """On 𝓛 = Σ ½a_k θ_k² − b_kθ_k, u = θ* − θ follows u' = −a u/(a u + ε): the time to θ = c is
    u0 − u + (ε/a) ln(u0/u) (u0 = θ*, u = θ* − c): ε's regularisation shows in the log term."""
    q = Bowl(coupled=0)
    eps = 0.3
    r = gf.solve(system=q, optimizer=Sign(eps=eps), t_max=6.0, rtol=1e-11, atol=1e-13)
    for k, name in enumerate(q.names):
        a, star = q.DIAG[k], q.B[k] / q.DIAG[k]
        u0, u = star, star - 0.5
        assert r.emergence["t_p"][name]["0.5"] == pytest.approx(u0 - u + eps / a * np.log(u0 / u), rel=1e-8)


def _discrete(system, opt, eta, t_end, theta0):
    rule, th = opt.discrete(eta), [np.array(theta0, dtype=float)]
    for _ in range(int(round(t_end / eta))):
        _, g = system.loss_and_grad(th[0])
        th = rule.step(th, [g])
    return th[0]


@pytest.mark.parametrize("opt, eta", [(Adam(lr=0.05, beta1=0.8, beta2=0.95, eps=1e-2), 0.05),
                                      (Momentum(lr=0.1, momentum=0.6), 0.05), (Sign(eps=0.05), 0.01)],
                         ids=["adam", "momentum", "sign"])
def test_discrete_rule_converges_to_the_flow_at_first_order(opt, eta):
    """The optimizer's own rule at steps η, η/2, η/4 (its rates held at the flow's) approaches the
    solved flow with errors halving. (Sign descent's regularised flow is stiff with rate a/ε ≈ 60
    here: its steps are in the asymptotic range once η·a/ε < 1.)"""
    q = Bowl(coupled=1)
    theta0 = np.array([0.1, -0.4, 0.2])
    r = gf.solve(system=q, optimizer=opt, theta0=theta0, t_max=2.0, rtol=1e-12, atol=1e-14)
    errors = [np.max(np.abs(_discrete(q, opt, eta / 2 ** k, 2.0, theta0) - r.theta[-1])) for k in range(3)]
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all((ratios > 1.8) & (ratios < 2.2)), (errors, ratios)


def test_discrete_rules_are_the_library_rules_at_their_learning_rate():
    """At η = lr: Adam is PyTorch's (m, v averages, bias correction), momentum PyTorch's SGD
    (buffer μb + g, first buffer g), written out here by hand on two steps."""
    g1, g2 = np.array([0.3, -2.0]), np.array([0.1, 0.5])
    a = Adam(lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8).discrete(0.1)
    w = a.step(a.step([np.zeros(2)], [g1]), [g2])[0]
    m1, v1 = 0.1 * g1, 0.01 * g1 ** 2
    w1 = -0.1 * (m1 / 0.1) / (np.sqrt(v1 / 0.01) + 1e-8)
    m2, v2 = 0.9 * m1 + 0.1 * g2, 0.99 * v1 + 0.01 * g2 ** 2
    np.testing.assert_allclose(w, w1 - 0.1 * (m2 / (1 - 0.81)) / (np.sqrt(v2 / (1 - 0.99 ** 2)) + 1e-8), rtol=1e-14)
    m = Momentum(lr=0.1, momentum=0.9).discrete(0.1)
    w = m.step(m.step([np.zeros(2)], [g1]), [g2])[0]
    np.testing.assert_allclose(w, -0.1 * g1 - 0.1 * (0.9 * g1 + g2), rtol=1e-14)


def test_gd_is_unchanged_and_hyperparameters_are_validated():
    a = gf.solve(system=Quadratic(), t_max=2.0)
    b = gf.solve(system=Quadratic(), t_max=2.0, optimizer="gd")
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.optimizer is None and a.state is None and "optimizer" not in a.metadata()
    for bad, match in [(dict(name="adam", lr=0), "^lr must be a finite number > 0"),
                       (dict(name="adam", beta1=1.0), r"^beta1 must be a number in \[0, 1\)"),
                       (dict(name="adam", beta2=-0.1), r"^beta2 must be"),
                       (dict(name="momentum", momentum=1), r"^momentum must be a number in \[0, 1\)"),
                       (dict(name="sign", eps=float("inf")), "^eps must be a finite number > 0"),
                       (dict(name="gd", lr=0.1), "optimizer 'gd' takes no 'lr'"),
                       (dict(name="adamw"), "^optimizer must be one of gd, momentum, adam, sign"),
                       ("rmsprop", "^optimizer must be one of")]:
        with pytest.raises(ValueError, match=match):
            gf.solve(system=Quadratic(), t_max=1.0, optimizer=bad)
    # a value exactly at the edge of its range
    assert Adam(beta1=0.0).beta1 == 0.0 and Momentum(momentum=0.0).momentum == 0.0
    with pytest.raises(ValueError, match="set them on the instance"):
        opts.make(Adam(), lr=0.1)


def test_elementwise_optimizers_need_a_declared_layout():
    """A system with a metric and no elementwise layout (the coupled quadratic, tokens) refuses Adam
    and sign descent on both flows, naming why; momentum (linear) runs. A scheduled system refuses
    any optimizer but gd for its schedule."""
    for optimizer in ("adam", "sign"):
        with pytest.raises(ValueError, match="declares no elementwise layout"):
            gf.solve(system=Quadratic(), t_max=1.0, optimizer=optimizer)
    assert gf.solve(system=Quadratic(), t_max=1.0, optimizer="momentum", flow="weights").success
    with pytest.raises(ValueError, match="solved segment by segment"):
        gf.solve(system=Scheduled(), optimizer="momentum")


def test_state_and_optimizer_survive_save_and_load(tmp_path):
    opt = Adam(lr=0.02, beta1=0.7, beta2=0.9, eps=1e-4)
    r = gf.solve(system=Bowl(), optimizer=opt, flow="theta", t_max=1.5, theta0=[0.2, 0.0, -0.1])
    assert r.state_names == ("m[x]", "m[y]", "m[z]", "v[x]", "v[y]", "v[z]") and r.state.shape == (len(r.t), 6)
    assert np.all(r.state_of("v[y]") >= 0) and "adam (lr 0.02" in r.summary()
    path = r.save(tmp_path / "adam")
    back = gf.Result.load(path)
    assert back.optimizer == opt.spec() and back.state_names == r.state_names
    np.testing.assert_array_equal(back.state, r.state)
    np.testing.assert_allclose(back.dtheta, r.dtheta, rtol=1e-15)
    np.testing.assert_allclose(back.theta_at(0.77), r.theta_at(0.77), rtol=1e-6)
    assert opts.make(back.optimizer) == opt
    assert back.save(tmp_path / "again.npz").read_bytes() == path.read_bytes()
    with pytest.raises(KeyError, match="this result's optimizer state: m"):
        back.state_of("b[x]")


def test_a_sweep_over_optimizers(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    runs = {"system": "bowl", "t_max": 1.0, "optimizer": ["gd", "momentum", {"name": "adam", "eps": 1e-3}]}
    with ThreadPoolExecutor(2) as pool:
        rows = gf.sweep(runs, tmp_path, executor=pool, progress=False)
    assert all(r["status"] in ("emerged", "t_max") for r in rows)
    assert rows[2]["inputs"]["optimizer"] == {"name": "adam", "eps": 1e-3}
    stored = [json.loads(f.read_text()) for f in (tmp_path / "runs").glob("*.json")]
    assert len(stored) == 3 and len({r["final_loss"] for r in rows}) == 3
    with pytest.raises(ValueError, match="^beta2 must be"):
        gf.sweep({"system": "bowl", "t_max": 1.0, "optimizer": [{"name": "adam", "beta2": 2}]}, tmp_path / "bad",
                 progress=False)
    # an instance is stored as its spec
    with ThreadPoolExecutor(1) as pool:
        rows = gf.sweep([{"system": "bowl", "t_max": 1.0, "optimizer": Sign(eps=0.5)}], tmp_path / "inst",
                        executor=pool, progress=False)
    assert rows[0]["inputs"]["optimizer"] == {"name": "sign", "eps": 0.5}


@pytest.mark.parametrize("flow", ["theta", "weights"])
@pytest.mark.parametrize("optimizer", [Adam(lr=0.05, beta1=0.8, beta2=0.95, eps=1e-2), Momentum(lr=0.1, momentum=0.6),
                                       Sign(eps=0.05)], ids=["adam", "momentum", "sign"])
def test_analytic_jacobian_matches_difference_quotients(flow, optimizer):
    """The optimizer flow's Jacobian (optimizer partials × the system's Hessian) against central
    differences of its right-hand side, at a non-symmetric point with a live state."""
    from gradflow.flows import make_flow
    sys_ = Cup() if flow == "weights" else Bowl()
    fl = make_flow(sys_, optimizer, flow, None, [0.3, -0.7, 0.1], "auto")
    y = fl.y0 + np.linspace(0.01, 0.02, len(fl.y0)) * (np.arange(len(fl.y0)) % 3 - 0.7)
    y[fl.n:] = np.abs(y[fl.n:]) + 0.05            # a positive second moment
    t = 0.37
    J = fl.jac(t, y)
    step = 1e-6
    fd = np.array([(fl.rhs(t, y + step * e) - fl.rhs(t, y - step * e)) / (2 * step) for e in np.eye(len(y))]).T
    np.testing.assert_allclose(J, fd, rtol=1e-6, atol=1e-6 * np.max(np.abs(fd)))


def test_cli_optimizer_and_hyper(tmp_path, capsys):
    """--optimizer and --hyper on solve (the result saved with its state) and sweep; a bad value
    is one line and exit 2 before any work."""
    from gradflow.cli import main
    out = tmp_path / "r.npz"
    assert main(["solve", "--system", "paper", "--N", "4", "--optimizer", "sign", "--hyper", "eps=1e-4",
                 "--flow", "weights", "--quiet", "--out", str(out)]) == 0
    assert "under sign (eps 0.0001)" in capsys.readouterr().out
    assert gf.Result.load(out).optimizer == {"name": "sign", "eps": 1e-4}
    for argv, message in ((["--optimizer", "adam", "--hyper", "beta2=1"], "beta2 must be a number in [0, 1)"),
                          (["--hyper", "lr=0.1"], "optimizer 'gd' takes no 'lr'")):
        with pytest.raises(SystemExit) as stop:
            main(["solve", "--system", "paper", "--N", "4", "--quiet", *argv])
        assert stop.value.code == 2 and message in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["sweep", "--system", "paper", "--N", "4", "--optimizer", "gd,sign", "--hyper", "lr=1",
              "--out", str(tmp_path / "store")])
    assert stop.value.code == 2 and "taken by none of the optimizers gd, sign" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()


def test_state_tolerances_follow_the_scale_the_step_needs():
    """The integrator's absolute tolerance per entry of y (derivations/optimizers.md §4): atol for θ;
    Adam's m to atol·ε (the step moves by at most δm/ε) and v to atol·ε² (√v near 0 needs v to ε²,
    else a v below atol·ε carries an error of order ε in √v, 10 % of the step where |h| = ε/10);
    momentum's b to atol·max|h(θ0)|. A contract, not a computed value: the tolerances are what the
    error control can promise, and no smooth toy flow shows a looser one (its local errors stay far
    below any tolerance)."""
    from gradflow.flows import make_flow
    fl = make_flow(Bowl(), Adam(eps=1e-6), "theta", None, [0.3, -0.2, 0.1], "auto")
    np.testing.assert_array_equal(fl.atol(1e-10), np.concatenate([np.full(3, 1e-10), np.full(3, 1e-16),
                                                                   np.full(3, 1e-22)]))
    fl = make_flow(Bowl(), Momentum(), "theta", None, [0.3, -0.2, 0.1], "auto")
    top = np.max(np.abs(Bowl().loss_and_grad(np.array([0.3, -0.2, 0.1]))[1]))
    np.testing.assert_allclose(fl.atol(1e-10), np.concatenate([np.full(3, 1e-10), np.full(3, 1e-10 * top)]),
                               rtol=1e-15)


def test_an_optimizer_result_as_labelled_tables():
    """to_xarray carries the state with its names; to_frame and events_table say which optimizer."""
    pytest.importorskip("xarray")
    r = gf.solve(system=Bowl(), optimizer=Momentum(lr=0.2, momentum=0.5), t_max=1.0, theta0=[0.1, 0.0, 0.3])
    ds = r.to_xarray()
    np.testing.assert_array_equal(ds["state"].sel(entry="b[y]").values, r.state_of("b[y]"))
    assert json.loads(ds.attrs["optimizer"]) == {"name": "momentum", "lr": 0.2, "momentum": 0.5}
    assert r.to_frame().attrs["optimizer"] == {"name": "momentum", "lr": 0.2, "momentum": 0.5}
    assert "state" not in gf.solve(system=Bowl(), t_max=1.0).to_xarray()
