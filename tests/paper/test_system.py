"""The paper system through the core: symmetry, solve, emergence (Definition 1), check, benchmark rows."""

import json
from pathlib import Path

import numpy as np
import pytest

import gradflow as gf
from gradflow.systems.paper import symmetry as sym
from gradflow.systems.paper.derive import limit_constants

ROOT = Path(__file__).resolve().parents[2]


def test_fixed_weights_are_3_12_4_and_spanned_by_the_basis():
    """The weights fixed by three Haar-random (content, position) rotations at D = 6: dimensions
    3, 12, 4 (SPEC-paper §3), and every basis matrix lies in that space (≤ 1e-12; measured 2e-15)."""
    space = sym.fixed_space(sym.random_elements(6, 3, np.random.default_rng(0)))
    assert {k: len(v) for k, v in space.items()} == {"W1": 3, "W2": 12, "W3": 4}
    assert sym.basis_in_fixed_space(space, 6) <= 1e-12


def test_finite_frame_groups_have_the_same_fixed_space():
    """The real Pauli group fixes only multiples of I on R^8; the complex Pauli group, as real
    matrices, fixes only span{I, M}: their averages are the full groups' projections."""
    from gradflow.systems.paper.reference import complex_structure
    C, P = sym.finite_frames()
    assert len(C) == 128 and len(P) == 64
    M = complex_structure(8)
    assert np.allclose(np.einsum("gij,jk->gik", P, M), np.einsum("ij,gjk->gik", M, P))
    for group, dim in ((C, 1), (P, 2)):
        A = np.vstack([np.kron(g, g) - np.eye(64) for g in group[::5]])
        s = np.linalg.svd(A, compute_uv=False)
        assert np.sum(s < 1e-9 * s[0]) == dim


def test_finite_frame_groups_at_d16_fix_the_19_dimensional_span():
    """D = 16 (N ≤ 7, the initialisation benchmark's N = 4): 512 contents and 256 positions, each a
    group (closed under products), whose joint fixed space on W1, W2, W3 has dimensions 3, 12, 4
    and holds the basis matrices; D not a power of 2 is refused. (At D = 16 the fixed space's
    null-space computation would need 2 GiB per element for W2: the dimension comes from the
    characters instead.)"""
    from gradflow.systems.paper.reference import complex_structure
    C, P = sym.finite_frames(16)
    assert len(C) == 512 and len(P) == 256
    for group in (C, P):
        keys = {(g.round(12) + 0.0).tobytes() for g in group}        # + 0.0: no signed zeros
        assert len(keys) == len(group)
        rng = np.random.default_rng(0)
        for a, b in rng.integers(0, len(group), size=(20, 2)):
            assert ((group[a] @ group[b]).round(12) + 0.0).tobytes() in keys
    M = complex_structure(16)
    assert np.allclose(np.einsum("gij,jk->gik", P, M), np.einsum("ij,gjk->gik", M, P))
    # the fixed space's dimension is the character inner product (1/|G|) Σ_g χ_L(g) χ_R(g) of the
    # action W ↦ L W Rᵀ (G = contents × positions; g1 = diag(Q, U) has trace tr Q + tr U) ...
    tq, tu = np.trace(C, axis1=1, axis2=2), np.trace(P, axis1=1, axis2=2)
    t1 = (tq[:, None] + tu[None, :]).ravel()
    tqq = np.repeat(tq, len(tu))
    dims = {"W1": np.mean(t1 * t1), "W2": np.mean((2 * t1) ** 2), "W3": np.mean(tqq * 4 * t1)}
    assert {k: round(v, 9) for k, v in dims.items()} == {"W1": 3, "W2": 12, "W3": 4}
    # ... and each basis matrix is fixed by every element (Q, I) and (I, U), hence by the product
    # group, so the 19 basis matrices span it
    from gradflow.systems.paper.reference import weights
    I = np.eye(16)
    for Q, U in [(c, I) for c in C] + [(I, u) for u in P]:
        acts = sym._actions(Q, U)
        for k in range(19):
            for name, W in zip(("W1", "W2", "W3"), weights(np.eye(19)[k], 16)):
                left, right = acts[name]
                assert np.allclose(left @ W @ right.T, W, atol=1e-13)
    with pytest.raises(ValueError, match="D must be a power of 2"):
        sym.finite_frames(12)


@pytest.mark.parametrize("D", [8, 16])
def test_coupled_frames_average_onto_the_19_dimensional_span(D):
    """The coupled group (contents A ⊗ ρ(h), positions χ(h) A) is a group of 24·(D/2)² orthogonal
    frames, positions commuting with M, and its average of W ↦ g·W is the orthogonal projection on
    the span of the 19 basis matrices (to 1e-12), on random weights of all three matrices: the
    same fixed space as the full rotation groups at a fraction of the product group's frames."""
    from gradflow.systems.paper import reference as ref
    Q, U = sym.coupled_frames(D)
    assert len(Q) == len(U) == 24 * (D // 2) ** 2
    I = np.eye(D)
    assert np.allclose(np.einsum("gij,gkj->gik", Q, Q), I) and np.allclose(np.einsum("gij,gkj->gik", U, U), I)
    M = ref.complex_structure(D)
    assert np.allclose(U @ M, M @ U)
    keys = {(np.concatenate([q, u]).round(12) + 0.0).tobytes() for q, u in zip(Q, U)}
    assert len(keys) == len(Q)
    rng = np.random.default_rng(1)
    for a, b in rng.integers(0, len(Q), size=(30, 2)):
        assert (np.concatenate([Q[a] @ Q[b], U[a] @ U[b]]).round(12) + 0.0).tobytes() in keys
    W = [rng.normal(size=s) for s in ((2 * D, 2 * D), (4 * D, 4 * D), (D, 8 * D))]
    mean = [np.zeros_like(w) for w in W]
    for q, u in zip(Q, U):
        acts = sym._actions(q, u)
        for k, name in enumerate(("W1", "W2", "W3")):
            left, right = acts[name]
            mean[k] += left @ W[k] @ right.T / len(Q)
    theta, _ = ref.project(W, D)
    for got, want in zip(mean, ref.weights(theta, D)):
        assert np.abs(got - want).max() <= 1e-12
    with pytest.raises(ValueError, match="D must be a power of 2 >= 8"):
        sym.coupled_frames(4)


def test_coupled_frames_fixed_dimensions_at_d32():
    """D = 32 (N = 8): the fixed space's dimensions by characters, (1/|G|) Σ_g χ_L(g) χ_R(g), are
    3, 12 and 4 (to 1e-9), and every basis matrix is fixed by the group's generators' images."""
    Q, U = sym.coupled_frames(32)
    tq, tu = np.trace(Q, axis1=1, axis2=2), np.trace(U, axis1=1, axis2=2)
    t1 = tq + tu
    dims = {"W1": np.mean(t1 * t1), "W2": np.mean((2 * t1) ** 2), "W3": np.mean(tq * 4 * t1)}
    assert {k: round(v, 9) for k, v in dims.items()} == {"W1": 3, "W2": 12, "W3": 4}
    from gradflow.systems.paper.reference import weights
    basis = [weights(np.eye(19)[k], 32) for k in range(19)]
    for g in np.random.default_rng(2).integers(0, len(Q), size=12):
        acts = sym._actions(Q[g], U[g])
        for Ws in basis:
            for name, W in zip(("W1", "W2", "W3"), Ws):
                left, right = acts[name]
                assert np.allclose(left @ W @ right.T, W, atol=1e-13)


def test_coupled_and_product_groups_give_the_same_gradient_at_invariant_weights():
    """N = 3, D = 8, an asymmetric θ: the mean loss and gradient over the 384 coupled frames equal
    those over the 8192 product frames (1e-13 relative); the coupled group is refused without the
    M-structure, and an unknown group is refused by name."""
    from gradflow.systems.paper import reference as ref
    from gradflow.systems.paper.check import frames_batch
    W = ref.weights(np.random.default_rng(1).normal(size=19) * 0.5, 8)
    out = {}
    for group in ("product", "coupled"):
        E, Y, target, _ = frames_batch("last", N=3, D=8, group=group)
        out[group] = (len(E), *ref.loss_and_grad(W, E, Y, target=target))
    assert (out["product"][0], out["coupled"][0]) == (8192, 384)
    assert out["coupled"][1] == pytest.approx(out["product"][1], rel=1e-13)
    scale = max(np.abs(g).max() for g in out["product"][2])
    for a, b in zip(out["product"][2], out["coupled"][2]):
        assert np.abs(a - b).max() <= 1e-13 * scale
    with pytest.raises(ValueError, match="labels='rotated'"):
        frames_batch("last", {"labels": "same"}, N=3, D=8, group="coupled")
    with pytest.raises(ValueError, match="group"):
        frames_batch("last", N=3, D=8, group="pauli")


@pytest.fixture(scope="module")
def three64():
    return gf.solve(64, system="paper", params=("alpha3", "beta2", "gamma3"))


def test_default_system_is_the_paper(three64):
    r = gf.solve(8)
    assert r.system.name == "paper" and r.system.query == "last" and r.status == "emerged"
    from gradflow.result import json_ready                           # NaN -> None, so == compares them
    assert json_ready(gf.solve(8).emergence) == json_ready(r.emergence)      # deterministic


def test_definition_1_times_and_order(three64):
    """Query last, 3 parameters: γ3 → β2 → α3, each time a root of θ_p = c on the dense output."""
    r = three64
    assert r.order == ("gamma3", "beta2", "alpha3") and r.status == "emerged"
    for name in ("gamma3", "beta2", "alpha3"):
        for c in ("0.5", "0.1"):
            t = r.emergence["t_p"][name][c]
            assert abs(r.theta_at(t)[r.names.index(name)] - float(c)) < 1e-9
    assert r.emergence["t_ICL"] == pytest.approx(r.emergence["t_p"]["alpha3"]["0.5"], rel=1e-9)
    assert abs(r.system.loss(r.theta_at(r.emergence["T_loss"])) - 0.25) < 1e-9


def test_gamma_time_is_2_ln2_N(three64):
    """With β2 = 0 exactly, dγ3/dt = (1 − γ3)/(2N): T_γ = 2N ln 2 up to the O(1/N) effect of β2
    (measured 1.9e-6 relative at N = 64)."""
    C = limit_constants()
    assert three64.emergence["t_p"]["gamma3"]["0.5"] / 64 == pytest.approx(C["C_gamma(0.5)"][1], rel=1e-4)
    assert three64.emergence["t_p"]["gamma3"]["0.1"] / 64 == pytest.approx(C["C_gamma(0.1)"][1], rel=1e-4)


def test_beta_alpha_constants_are_approached_at_large_N():
    """T_β/N² → 4√(π/2) erf(1/(2√2)) and T_α/N² → 4√(π/2) erf(1/√2) with O(1/N) corrections
    (measured gaps 2.0e-4 and 9.7e-5 at N = 4096): 3 significant digits at N = 4096."""
    r = gf.solve(4096, system="paper", params=("alpha3", "beta2", "gamma3"))
    C = limit_constants()
    assert r.emergence["t_p"]["beta2"]["0.5"] / 4096 ** 2 == pytest.approx(C["C_beta(0.5)"][1], rel=1e-3)
    assert r.emergence["t_p"]["alpha3"]["0.5"] / 4096 ** 2 == pytest.approx(C["C_alpha(0.5)"][1], rel=1e-3)


def test_weight_flow_is_the_theta_flow_with_time_times_D():
    a = gf.solve(6, system="paper", params=("alpha3", "beta2", "gamma3"), rtol=1e-10, atol=1e-12)
    b = gf.solve(6, system="paper", params=("alpha3", "beta2", "gamma3"), flow="weights", rtol=1e-10, atol=1e-12)
    D = b.system.D
    for name in ("gamma3", "beta2", "alpha3"):
        assert b.emergence["t_p"][name]["0.5"] == pytest.approx(D * a.emergence["t_p"][name]["0.5"], rel=1e-7)


def test_check_against_full_weight_gd_with_exact_frame_average():
    """GD on the full matrices, gradient averaged over all 8192 frames by backprop (no projection),
    η = 4, 2, 1 to t = 24: off-span ≤ 1e-12 (measured ≤ 1.0e-15), errors halve with η (measured
    2.053, 2.026) and quarter after Richardson extrapolation (measured 4.44; error 1.3e-4)."""
    from gradflow.systems.paper import PaperSystem
    rep = PaperSystem(3).check(eta=4.0, t_end=24.0, n_times=2)
    assert max(rep.off_span) <= 1e-12
    assert rep.passed and all(1.8 <= r <= 2.3 for r in rep.rates)
    assert rep.extrapolated_errors[-1] < 1e-3


def test_uniform_query_solves():
    r = gf.solve(8, system="paper", query="uniform", params=("alpha3", "beta2", "gamma3"))
    assert r.status == "emerged" and r.order == ("gamma3", "beta2", "alpha3")


def test_bad_sizes():
    with pytest.raises(ValueError, match="^query must be one of last, uniform"):
        gf.solve(8, system="paper", query="first")
    with pytest.raises(ValueError, match="^N must be an integer >= 2"):
        gf.solve(1, system="paper")
    with pytest.raises(ValueError, match="^D must be an integer >= 10"):
        gf.solve(4, system="paper", D=6)


DATA = json.loads((ROOT / "benchmarks" / "results" / "paper" / "theorem2.json").read_text())
ROWS = [x for x in DATA["runs"] if x["N"] <= 16 and x["query"] == "last"]


@pytest.mark.parametrize("row", ROWS, ids=lambda x: f"{x['query']}-{x['system']}-N{x['N']}")
def test_theorem2_row_is_reproduced(row):
    """Re-solve the small rows of the committed benchmark: 1e-6 relative (same method and
    tolerances; differences are rounding), far below the 5 digits the README prints."""
    r = gf.solve(row["N"], system="paper", query=row["query"],
                 params=None if row["system"] == "19" else ("alpha3", "beta2", "gamma3"))
    assert list(r.order) == row["order"]
    for name in ("gamma3", "beta2", "alpha3"):
        for c in ("0.5", "0.1"):
            assert r.emergence["t_p"][name][c] == pytest.approx(row["t_p"][name][c], rel=1e-6)
    assert r.emergence["T_loss"] == pytest.approx(row["T_loss"], rel=1e-6)


def test_cli_solves_the_paper_by_default(tmp_path, capsys):
    from gradflow.cli import main
    out = tmp_path / "p.npz"
    assert main(["solve", "--N", "6", "--params", "alpha3,beta2,gamma3", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("paper:") and "order of the head (by the time each reaches 0.5, t_p(0.5)): gamma3 -> beta2 -> alpha3" in text
    back = gf.Result.load(out)
    assert back.system.name == "paper" and back.system.query == "last" and back.system.D == 14
    with pytest.raises(SystemExit) as exit_:
        main(["solve", "--query", "first"])
    assert exit_.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_uniform_law_row_is_reproduced():
    """Re-solve the N = 64 row of benchmarks/results/paper/uniform_law.json (three-parameter head,
    uniform query) to the printed 4 digits (1e-6 relative)."""
    import json
    from pathlib import Path
    rows = json.loads((Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "paper"
                       / "uniform_law.json").read_text())["runs"]
    row = next(x for x in rows if x["N"] == 64)
    r = gf.solve(64, query="uniform", params=("alpha3", "beta2", "gamma3"))
    assert list(r.order) == row["order"]
    for key, (p, lev) in {"beta2(0.5)": ("beta2", "0.5"), "alpha3(0.5)": ("alpha3", "0.5"),
                          "gamma3(0.5)": ("gamma3", "0.5")}.items():
        assert r.emergence["t_p"][p][lev] == pytest.approx(row["T"][key], rel=1e-6)
    assert r.emergence["T_loss"] == pytest.approx(row["T"]["T_loss"], rel=1e-6)
