"""Stage I: the selector's flow is a replicator dynamic with fitness g_R; g_R → Ĩ(R) in the
paper's limit; the replicator law predicts the stage-I time; the flow selects argmax Ĩ, also when
a smaller set beats its superset (derivations/markov/stage1.md)."""

import numpy as np

import gradflow as gf
from gradflow.systems.markov import MarkovSystem
from gradflow.systems.markov.mi import mi_of_law
from gradflow.systems.markov.stage1 import fitness, predicted_time
from gradflow.systems.markov.task import window_law


def test_replicator_identity_and_conserved_normaliser():
    """dρ_R/dt = (4a/Z) ρ_R (g_R − ḡ) from the gradient itself (1e-12 relative), and Z = Σc² is
    conserved: c · ∂𝓛/∂c = 0 (the score is invariant under c → λc)."""
    s = MarkovSystem(length=30, count=50)
    rng = np.random.default_rng(0)
    theta = s.initial() + 0.1 * rng.standard_normal(17)
    _, g = s.loss_and_grad(theta)
    c, a = s.layout.unpack(theta)[1], theta[-1]
    Z = np.sum(c ** 2)
    rho = c ** 2 / Z
    cdot = -g[s.layout.c_slice]
    drho = 2 * c * cdot / Z
    fit = fitness(theta, s)
    expected = 4 * a / Z * rho * (fit - rho @ fit)
    assert np.max(np.abs(drho - expected)) <= 1e-12 * np.max(np.abs(expected))
    assert abs(c @ g[s.layout.c_slice]) <= 1e-14 * np.linalg.norm(c) * np.linalg.norm(g)


def test_fitness_is_the_modified_chi_square_mi_in_the_papers_limit():
    """nll with ε = 1e-12, L → ∞ (4 kernels), a = 1e-9, a copier with logits ±40 (exact copies of
    offsets 1, 2, 3): g_R = Ĩ(R) per the mean over the same kernels. Measured agreement 5.8e-8
    absolute (4e-7 relative): the layer norm's 1e-7 (u = e_t/(1 + 1e-7), twice per factor)."""
    s = MarkovSystem(population="stationary", count=4, loss="nll", eps=1e-12, alpha=0.3)
    lay = s.layout
    band = np.full((3, 3), -40.0)
    band[:, 0] = 40.0
    theta = lay.pack(band, np.full(lay.n_c, 0.01), 1e-9)
    kernels = s.task.kernels(4, np.random.default_rng(0))      # the system's own kernels (seed 0)
    mi = np.array([np.mean([mi_of_law(window_law(pi, 3, 3, 3), R) for pi in kernels]) if R else 0.0
                   for R in lay.subsets])
    g = fitness(theta, s)
    assert np.max(np.abs(g - mi)) <= 1e-6 * np.max(mi)
    assert lay.subsets[int(np.argmax(g))] == (1, 2)


def test_replicator_law_predicts_the_stage_one_time():
    """Staged stage I (only c moves, the authors' init): the share of the winner reaches ½ at the
    law's time to O(a·max s); measured 1.9464 (law) vs 1.9426 (flow), 0.20 %; bound 1 %."""
    s = MarkovSystem(count=1000)
    law = predicted_time(s.initial(), s)
    r = gf.solve(system=s, params=s.layout.c_names, t_max=3.0)
    assert law["winner"] == s.leading(r.theta[-1]) == (1, 2)
    assert abs(r.emergence["selector"] - law["t"]) <= 0.01 * law["t"]


def test_a_smaller_set_beats_its_superset_and_the_flow_selects_it():
    """Bigram data (one parent, offset 1): Ĩ({1}) > Ĩ({1, 2}) — the extra offset only dilutes
    μ(z)² — and the stage-I flow on L → ∞ selects {1}, not the larger set."""
    s = MarkovSystem(n=2, alpha=0.3, population="stationary", count=2)
    kernels = s.task.kernels(2, np.random.default_rng(0))
    mi = {R: np.mean([mi_of_law(window_law(pi, 3, 2, 3), R) for pi in kernels]) for R in [(1,), (1, 2)]}
    assert mi[(1,)] > 1.3 * mi[(1, 2)]      # measured 0.2223 vs 0.1290
    r = gf.solve(system=s, params=s.layout.c_names, t_max=1.0)
    assert r.emergence["selector"] < 1.0 and s.leading(r.theta[-1]) == (1,) and s.parents(r.theta[-1]) == (1,)
