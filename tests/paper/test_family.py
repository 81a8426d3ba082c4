"""The paper setting as a family (mask, label position, loss, burstiness): each member's invariant
space, its reduced loss and gradient against the full-weight reference, the generic path against
the generated kernels, GD on the full weights against the solved flow, and the refusals."""

import numpy as np
import pytest

import gradflow as gf
from gradflow.systems.paper import PaperSystem, generic, reduced
from gradflow.systems.paper import reference as ref
from gradflow.systems.paper import symmetry as sym
from gradflow.systems.paper.reduced import NAMES
from gradflow.systems.paper.setting import Setting

OPTIONS = [{"mask": "self"}, {"labels": "same"}, {"loss": "ce"}, {"burst": 2}, {"burst": 3, "query": "uniform"},
           {"mask": "self", "labels": "same", "loss": "ce", "query": "uniform"}]


def _ids(o):
    return ",".join(f"{k}={v}" for k, v in o.items())


def test_without_the_M_pairing_the_fixed_space_is_2_8_4_and_spanned_by_the_I_blocks():
    """Labels at their item's position: the positions' law is invariant under all of O(D), so the
    fixed weights (three Haar-random elements at D = 6, positions orthogonal) have dimensions 2, 8,
    4 (14 in all); they are the I-blocks of the 19 (the M-blocks α3, β6, β8, β10, β12 leave)."""
    rng = np.random.default_rng(1)
    Q = np.linalg.qr(rng.normal(size=(3, 6, 6)))[0]
    U = np.linalg.qr(rng.normal(size=(3, 6, 6)))[0]
    space = sym.fixed_space(list(zip(Q, U)))
    assert {k: len(v) for k, v in space.items()} == {"W1": 2, "W2": 8, "W3": 4}
    kept = Setting(4, labels="same").indices()
    assert [NAMES[k] for k in np.setdiff1d(np.arange(19), kept)] == ["alpha3", "beta6", "beta8", "beta10", "beta12"]
    for k in kept:                          # each kept basis matrix lies in the fixed space
        theta = np.zeros(19)
        theta[k] = 1.0
        for name, W in zip(("W1", "W2", "W3"), ref.weights(theta, 6)):
            if np.linalg.norm(W):
                v = W.ravel() / np.linalg.norm(W)
                assert np.linalg.norm(v - space[name].T @ (space[name] @ v)) <= 1e-12


@pytest.mark.parametrize("opts", [{"mask": "self"}, {"loss": "ce"}, {"burst": 3}], ids=_ids)
def test_options_that_keep_the_data_law_keep_the_19(opts):
    """Mask, loss and burstiness change neither the content nor the position law's group: the 19
    pseudo-parameters stay, and the head is α3, β2, γ3."""
    s = PaperSystem(N=4, **opts)
    assert s.names == NAMES and s.head == ("alpha3", "beta2", "gamma3")
    assert PaperSystem(N=4, labels="same").head == ("alpha2", "beta2", "gamma3")


@pytest.mark.parametrize("N,query", [(3, "last"), (8, "last"), (8, "uniform"), (16, "last")])
def test_generic_path_equals_the_generated_kernels_at_the_paper_setting(N, query):
    """The reference-backed flow and the generated kernels on the paper's own setting, at a
    non-symmetric θ with every pseudo-parameter nonzero: loss and gradient within 1e-12 relative
    (measured 3e-16)."""
    theta = np.random.default_rng(N).normal(size=19) * 0.7
    l0, g0 = reduced.loss_and_grad(theta, N, query)
    l1, g1 = generic.loss_and_grad(theta, Setting(N, query), 2 * N + 2)
    assert l1 == pytest.approx(l0, rel=1e-12)
    assert np.max(np.abs(g1 - g0)) <= 1e-12 * np.max(np.abs(g0))


def _random_frames(E, Y, setting, D, rng):
    """The canonical sequences in random frames of the setting's group (contents O(D); positions
    U(D/2) with the M-structure, O(D) without)."""
    n = len(E)
    Q = np.linalg.qr(rng.normal(size=(n, D, D)))[0]
    if setting.labels == "same":
        U = np.linalg.qr(rng.normal(size=(n, D, D)))[0]
    else:
        U = sym._as_real(np.linalg.qr(rng.normal(size=(n, D // 2, D // 2)) + 1j * rng.normal(size=(n, D // 2, D // 2)))[0])
    E = E.copy()
    E[..., :D] = np.einsum("bij,btj->bti", Q, E[..., :D])
    E[..., D:] = np.einsum("bij,btj->bti", U, E[..., D:])
    return E, np.einsum("bij,bj->bi", Q, Y)


@pytest.mark.parametrize("opts", OPTIONS, ids=_ids)
def test_reduced_loss_is_the_full_model_in_every_frame(opts):
    """At invariant weights (a non-symmetric θ in the setting's space) every sequence of the
    population, in random frames of the setting's group, has its canonical sequence's loss: the
    full model on the rotated batch gives the generic path's loss within 1e-12 relative."""
    N = 4
    s = PaperSystem(N=N, **opts)
    theta = np.random.default_rng(7).normal(size=len(s.names)) * 0.8
    full = np.zeros(19)
    full[s.setting.indices()] = theta
    E, Y, target = s.setting.batch(s.D)
    Er, Yr = _random_frames(E, Y, s.setting, s.D, np.random.default_rng(3))
    value = ref.loss_and_grad(ref.weights(full, s.D), Er, Yr, mask=s.setting.mask, loss=s.setting.loss, target=target)[0]
    assert value == pytest.approx(s.loss(theta), rel=1e-12)


@pytest.mark.parametrize("opts", OPTIONS, ids=_ids)
def test_gradient_is_the_loss_derivative(opts):
    """∂𝓛/∂θ of the generic path against the complex-step derivative of its own loss (every
    operation of the reference is analytic): 1e-10 relative to the largest entry."""
    s = PaperSystem(N=4, **opts)
    theta = np.random.default_rng(11).normal(size=len(s.names)) * 0.6
    _, g = s.loss_and_grad(theta)
    h = 1e-30
    fd = np.array([generic.loss_and_grad(theta + 1j * h * np.eye(len(theta))[k], s.setting, s.D)[0].imag / h
                   for k in range(len(theta))])
    assert np.max(np.abs(fd - g)) <= 1e-10 * np.max(np.abs(g))


@pytest.mark.parametrize("opts,eta,t_end", [({"mask": "self"}, 8.0, 96.0), ({"labels": "same"}, 4.0, 64.0),
                                            ({"loss": "ce"}, 8.0, 96.0), ({"burst": 2}, 2.0, 48.0)],
                         ids=lambda x: _ids(x) if isinstance(x, dict) else str(x))
def test_gd_on_the_full_weights_follows_the_flow(opts, eta, t_end):
    """GD on the three full matrices at N = 3, the gradient averaged over the finite frame group
    (16384 frames without the M-structure): the off-span residual at rounding, the error first
    order in η and second order after Richardson extrapolation (the check's own criteria; η is
    small enough for the asymptotic ratios: at η = 8 the labels-same and burst runs give first-order
    ratios 2.05–2.11 but extrapolated ones 5.7)."""
    rep = PaperSystem(N=3, **opts).check(eta=eta, t_end=t_end, n_times=3, refinements=3)
    assert rep.passed, rep.summary()


@pytest.mark.parametrize("opts", OPTIONS[:4], ids=_ids)
def test_each_member_solves_with_its_own_head(opts):
    r = gf.solve(6, system="paper", **opts, t_max=30.0)
    assert r.status in ("t_max", "emerged") and r.loss[-1] < r.loss[0]
    assert set(r.system.head) <= set(r.names) and len(r.names) == (14 if opts.get("labels") == "same" else 19)


def test_cross_entropy_starts_at_ln_2N_and_its_loss_time_is_half_of_it():
    s = PaperSystem(N=5, loss="ce")
    assert s.loss(np.zeros(19)) == pytest.approx(np.log(10), rel=1e-14)
    assert s.criteria()[0].level == pytest.approx(0.5 * np.log(10))


@pytest.mark.parametrize("kw,message", [
    ({"mask": "diag"}, "^mask must be one of strict, self"),
    ({"labels": "left"}, "^labels must be one of rotated, same"),
    ({"loss": "hinge"}, "^loss must be one of mse, ce"),
    ({"burst": 0}, "^burst must be an integer >= 1"),
    ({"burst": 9}, "^burst must be at most N = 8"),
    ({"burst": 2, "loss": "ce"}, "^burst must be 1 with loss='ce'"),
    ({"mask": "self", "sums": "quadrature"}, "^sums='quadrature' is the paper setting's kernels'"),
    ({"burst": 8, "N": 40, "labels": "same", "mask": "self"}, "^burst = 8 at N = 40 averages over"),
    ({"burst": 8, "N": 40, "labels": "same"}, "^N = 40 with {'labels': 'same', 'burst': 8} is beyond this machine"),
    ({"burst": 8, "N": 40}, "^N = 40 with {'burst': 8} is beyond this machine on the generic"),
])
def test_refusals_name_the_argument(kw, message):
    sizes = {"N": 8, **kw}
    with pytest.raises(ValueError, match=message):
        gf.solve(system="paper", **sizes)


def test_cli_refuses_a_bad_option_before_work(capsys):
    from gradflow.cli import main
    with pytest.raises(SystemExit) as stop:
        main(["solve", "--mask", "diag"])
    assert stop.value.code == 2 and "argument --mask: invalid choice: 'diag'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["solve", "--N", "8", "--burst", "9"])
    assert stop.value.code == 2 and "burst must be at most N = 8" in capsys.readouterr().err


def test_a_member_round_trips_through_save(tmp_path):
    r = gf.solve(4, system="paper", labels="same", mask="self", t_max=5.0)
    r.save(tmp_path / "m.npz")
    back = gf.Result.load(tmp_path / "m.npz")
    assert back.system == r.system and back.names == r.names and back.system.sizes()["labels"] == "same"
    np.testing.assert_allclose(back.theta, r.theta, rtol=0, atol=0)


def test_a_flow_that_runs_off_to_infinity_ends_as_not_emerged():
    """Cross-entropy with every pseudo-parameter free and the uniform query: the flow drives the
    read-out to infinity (the elimination circuit, derivations/paper/family.md §5) and never reaches
    t_ICL; the solver's steps grow until t overflows. The solve ends as "not_emerged" with that
    said, and the loss kept its relative precision on the way down (positive, falling, far below
    what ½·(1 + …)-style cancellation could represent)."""
    r = gf.solve(3, system="paper", loss="ce", query="uniform")
    assert r.status == "not_emerged" and "runs off to infinity" in r.message
    assert 0 < r.loss[-1] < 1e-100 and np.all(np.diff(r.loss) <= 1e-12 * r.loss[:-1])


def test_masks_reach_what_they_say():
    """The reference's masks themselves: strictly causal layer 1 leaves the first token without a
    key (its row is 0) and the query reads the 2N tokens before it; mask "self" gives the first
    token itself (weight 1) and the query 2N + 1 keys, its own row included with positive weight."""
    N, D = 3, 8
    E, Y, _ = Setting(N).batch(D)
    W = ref.weights(np.random.default_rng(0).normal(size=19), D)
    strict, self_ = ref.forward(W, E, "strict"), ref.forward(W, E, "self")
    assert np.all(strict["A1"][:, 0] == 0) and strict["A2"].shape[1] == 2 * N
    assert np.all(self_["A1"][:, 0, 0] == 1.0) and self_["A2"].shape[1] == 2 * N + 1
    assert np.all(self_["A2"][:, -1] > 0) and np.all(np.diagonal(self_["A1"], axis1=1, axis2=2) > 0)


@pytest.mark.parametrize("N,B,query", [(6, 1, "last"), (6, 3, "last"), (6, 6, "last"), (5, 2, "uniform"), (5, 1, "uniform")])
def test_burst_placements_are_every_subset_once(N, B, query):
    """Query last: the last pair and every (B − 1)-subset of the first N − 1, once each (C(N − 1, B − 1));
    uniform: every B-subset of the N pairs (C(N, B); B = 1: each pair as the query). Each canonical
    sequence carries the query's item exactly B times, and its target is that item's label."""
    from math import comb
    s = Setting(N, query, burst=B)
    rows = s.placements()
    assert len(rows) == len({r[0] for r in rows}) == (comb(N - 1, B - 1) if query == "last" else comb(N, B))
    assert all(len(P) == B and q in P and (query != "last" or P[-1] == N - 1) for P, q in rows)
    E, Y, target = s.batch(2 * N + 2)
    for b, (P, q) in enumerate(rows):
        items = E[b, 0:-1:2, :2 * N + 2].argmax(axis=1)
        assert np.sum(items == q) == B and np.argmax(Y[b]) == N + q and target[b] == 2 * q + 1


@pytest.mark.parametrize("N", [3, 6])
@pytest.mark.parametrize("options", [{"labels": "same"}, {"mask": "self"}, {"loss": "ce"}, {"burst": 2},
                                     {"burst": 3, "query": "uniform"}, {"mask": "self", "query": "uniform"},
                                     {"mask": "self", "burst": 2}, {"loss": "ce", "query": "uniform"},
                                     {"loss": "ce", "mask": "self"}, {"loss": "ce", "mask": "self", "query": "uniform"},
                                     {"labels": "same", "loss": "ce"}, {"labels": "same", "loss": "ce", "query": "uniform"},
                                     {"labels": "same", "burst": 2}, {"labels": "same", "burst": 3, "query": "uniform"}],
                         ids=["labels=same", "mask=self", "loss=ce", "burst=2", "burst=3,uniform", "mask=self,uniform",
                              "mask=self,burst=2", "loss=ce,uniform", "loss=ce,mask=self", "loss=ce,mask=self,uniform",
                              "labels=same,loss=ce", "labels=same,loss=ce,uniform", "labels=same,burst=2",
                              "labels=same,burst=3,uniform"])
def test_members_heads_in_closed_form_equal_the_generic_flow(N, options):
    """Labels at their item's position (the paper's kernels with α3 := α2), the self mask and
    cross-entropy (the generated last3self_*, last3ce_* kernels) and burst B (gradflow's burst: the
    placements by a recursion over the pairs inside a quadrature), with only the head non-zero: loss, gradient and Hessian equal the
    generic reference-backed flow (its Hessian by differences) at a non-symmetric head point; with any
    other pseudo-parameter non-zero the generic flow is used."""
    s = PaperSystem(N=N, **options)
    head = [s.names.index(n) for n in s.head]
    free = np.array(sorted(head))
    theta = np.zeros(len(s.names))
    theta[head] = [0.7, -0.4, 1.3]
    assert s._member_head(theta, free) is not None
    value, g = s.loss_and_grad(theta, free=free)
    ref_value, ref_g = generic.loss_and_grad(theta, s.setting, s.D)
    assert value == pytest.approx(ref_value, rel=1e-12) and s.loss(theta) == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(g[head], ref_g[head], rtol=1e-11, atol=1e-14)
    H = s.hessian(theta, free=free)[np.ix_(head, head)]
    fd = np.array([(generic.loss_and_grad(theta + 1e-5 * e, s.setting, s.D)[1]
                    - generic.loss_and_grad(theta - 1e-5 * e, s.setting, s.D)[1])[head] / 2e-5
                   for e in np.eye(len(theta))[head]]).T
    np.testing.assert_allclose(H, fd, rtol=1e-7, atol=1e-9)
    theta[s.names.index("beta1")] = 0.2
    assert s._member_head(theta, free) is None
    assert s.loss(theta) == pytest.approx(generic.loss(theta, s.setting, s.D), rel=1e-15)


def test_which_members_have_a_closed_form_head():
    assert PaperSystem(N=4, labels="same", query="uniform").head_closed_form == "papers"
    assert PaperSystem(N=4, mask="self").head_closed_form == "self"
    assert PaperSystem(N=4, loss="ce").head_closed_form == "ce"
    assert PaperSystem(N=4, burst=2).head_closed_form == "burst"
    assert PaperSystem(N=4, burst=3, query="uniform").head_closed_form == "burst"
    assert PaperSystem(N=4, mask="self", query="uniform").head_closed_form == "burst"
    assert PaperSystem(N=4, burst=2, mask="self").head_closed_form == "burst"
    assert PaperSystem(N=4, loss="ce", query="uniform").head_closed_form == "ce_sum"
    assert PaperSystem(N=4, loss="ce", mask="self").head_closed_form == "ce_sum"
    assert PaperSystem(N=4, loss="ce", mask="self", query="uniform").head_closed_form == "ce_sum"
    # labels at their item's position under the strict mask: the rotated twin's closed form
    assert PaperSystem(N=4, loss="ce", labels="same").head_closed_form == "ce"
    assert PaperSystem(N=4, loss="ce", labels="same", query="uniform").head_closed_form == "ce_sum"
    assert PaperSystem(N=4, burst=3, labels="same").head_closed_form == "burst"
    for options in ({"mask": "self", "labels": "same"}, {"mask": "self", "labels": "same", "loss": "ce"},
                    {"mask": "self", "labels": "same", "burst": 2}, {}):
        assert PaperSystem(N=4, **options).head_closed_form is None


def test_the_size_limit_knows_which_members_head_runs_on_the_papers_kernels():
    """labels='same' at N = 4096: the head alone is within the paper's limits (its kernels), every
    pseudo-parameter free is refused before work (the generic flow's 2e10 flops); the self mask's
    and the burst members' heads likewise (either query: the self mask's uniform query on the
    placements recursion), and cross-entropy's with either query and mask, also with labels at
    their item's position (strict mask: the rotated twin's closed form); with the self mask as
    well, that member has none."""
    s = PaperSystem(N=4096, labels="same")
    s.check_size_limits(("alpha2", "beta2", "gamma3"))
    with pytest.raises(ValueError, match="beyond this machine on the generic"):
        s.check_size_limits(None)
    with pytest.raises(ValueError, match="beyond this machine on the generic"):
        gf.solver.validate(4096, labels="same", params=["alpha2", "beta2", "gamma3", "beta1"])
    PaperSystem(N=4096, mask="self").check_size_limits(("alpha3", "beta2", "gamma3"))
    PaperSystem(N=4096, burst=2).check_size_limits(("alpha3", "beta2", "gamma3"))      # 4095 placements, O(N)
    with pytest.raises(ValueError, match="beyond this machine on the generic"):
        PaperSystem(N=4096, burst=2).check_size_limits(None)
    PaperSystem(N=4096, mask="self", query="uniform").check_size_limits(("alpha3", "beta2", "gamma3"))
    PaperSystem(N=4096, loss="ce", query="uniform").check_size_limits(("alpha3", "beta2", "gamma3"))
    PaperSystem(N=4096, loss="ce", mask="self").check_size_limits(("alpha3", "beta2", "gamma3"))
    PaperSystem(N=4096, loss="ce", labels="same").check_size_limits(("alpha2", "beta2", "gamma3"))
    with pytest.raises(ValueError, match="beyond this machine on the generic"):
        PaperSystem(N=4096, loss="ce", labels="same", mask="self").check_size_limits(("alpha2", "beta2", "gamma3"))


@pytest.mark.parametrize("N", [3, 50])
def test_summed_cross_entropy_heads_last_query_term_is_the_generated_kernel(N):
    """ce_head's strict-mask term for the query at the last pair is the generated last3ce_* loss
    (the other terms, and the self mask, are checked against the full-weight generic flow above);
    at θ = 0 every member's loss is ln 2N."""
    from gradflow.systems.paper import ce_head, heads
    theta3 = np.array([0.7, 1.9, 1.2])
    expected = heads.evaluate("ce", "val", theta3, Setting(N, loss="ce"))
    assert ce_head.loss(theta3, N, "last", "strict") == pytest.approx(expected, rel=1e-14)
    for query in ("last", "uniform"):
        for mask in ("strict", "self"):
            assert ce_head.loss(np.zeros(3), N, query, mask) == pytest.approx(np.log(2 * N), rel=1e-14)
