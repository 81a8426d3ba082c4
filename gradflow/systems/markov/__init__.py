"""markov: the second seed paper's generalized induction head (Chen, Sheen, Wang, Yang 2024;
specs/SPEC-markov.md) solved as a gradient flow.

n-gram Markov chains with a fresh Dirichlet kernel per sequence (:mod:`.task`); the authors'
simplified two-attention-layer model, whose live weights are the parameters (:mod:`.params`:
the H × H layer-1 band, the selector coefficients c_R with 0 ∉ R, the classifier weight a; 17 at
H = 3, D = 2); its full-tensor reference (:mod:`.reference`); the reduced loss, exact for a frozen
sample, the exact finite-L population or the L → ∞ stationary limit (:mod:`.population`,
:mod:`.reduced`); the modified χ² mutual information (:mod:`.mi`) and the stage-I law
(:mod:`.stage1`).

Stages (our definitions; the paper's three stages, measured on any schedule):
* ``selector``: some subset R holds half of the selector's weight, c_R²/Σc² ≥ ½;
* ``copier``: the heads of the leading subset have, on average, halved their initial attention
  error 1 − σ on their parent offset (h + 1 for head h);
* ``classifier``: a ≥ 1 (100 × its initial 0.01);
``stages_done``: all three. The schedule ``joint`` trains everything at once; ``staged`` is the
authors' (c for t = 2000, then the band for t = 5·10⁸ — lr 10⁵ × 5000 epochs —, then a for
t = 5000), solved as three segments.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ..._validate import check_int
from ...criteria import Crosses
from ...system import Size, System
from . import population as pop_mod
from .params import Layout
from .reference import LOSSES
from .task import MAX_ENUMERATED, MarkovTask

POPULATIONS = ("sample", "exact", "stationary")
MODELS = ("simplified", "full")
SCHEDULES = ("joint", "staged")
HEAD = ("selector", "copier", "classifier")
#: flow time of each staged segment: lr × epochs of the authors' staged schedule
STAGED_TIMES = {"c": 1.0 * 2000, "band": 1e5 * 5000, "a": 1.0 * 5000}
#: measured on this 2-core machine: seconds per query–key pair and subset of one evaluation, and
#: per entry of the pattern tables' product (H·P²·S, P patterns per head)
PAIR_SECONDS, TABLE_SECONDS = 1.2e-8, 3.5e-9
#: what one evaluation may cost: memory (a third of this machine's 24 GiB) and time
MAX_BYTES, MAX_EVAL_SECONDS = 8 * 2 ** 30, 10.0


def _own_offset_weight(row: np.ndarray) -> float:
    """softmax(row)[0]: a head's attention on its own offset."""
    e = np.exp(row - row.max())
    return float(e[0] / e.sum())


class MarkovSystem(System):
    """SPEC-markov with S symbols, n-gram order n, Dirichlet α, context length L; the model's H
    heads and selector degree D; the loss (ε for nll); the population (``sample``: ``count``
    sequences drawn with ``seed``; ``exact``: every sequence, ``count`` unused; ``stationary``:
    L → ∞ over ``count`` kernels drawn with ``seed``); the schedule."""

    name = "markov"
    head = HEAD
    sizes_spec = (Size("S", 3, 2, "number of symbols"),
                  Size("n", 3, 2, "n-gram order (n - 1 parents)"),
                  Size("alpha", 0.1, 0, "Dirichlet concentration of each kernel row", kind="float"),
                  Size("length", 100, 2, "context length L (inputs before the target; the authors' L)"),
                  Size("H", 3, 1, "layer-1 heads (each attends to H offsets)"),
                  Size("degree", 2, 1, "largest selector subset |R| (the authors' D)"),
                  Size("loss", "ce_softmax", 0, "ce_softmax (the authors' code) or nll (-log(y+eps))", LOSSES),
                  Size("eps", 1e-2, 0, "the nll loss's eps", kind="float"),
                  Size("population", "sample", 0, "sample (frozen sequences), exact (every sequence) "
                       "or stationary (L -> infinity over kernels)", POPULATIONS),
                  Size("count", 9000, 1, "sequences (sample) or kernels (stationary)"),
                  Size("seed", 0, 0, "seed of the sample or the kernels"),
                  Size("schedule", "joint", 0, "joint (all parameters) or staged (c, then band, then a)",
                       SCHEDULES),
                  Size("model", "simplified", 0, "simplified (the authors' simplified model) or full (their "
                       "TwoLayerTransformer: content scores, value maps, LayerNorm; on its invariant space)",
                       MODELS))
    param_word = "parameter"
    #: sizes renamed so that no option means two things across systems (paper's D, tokens' L)
    renamed = {"L": "length", "D": "degree"}
    commands = {"mi": "gradflow.systems.markov.cli:mi_command"}
    check_sizes = {"length": 10, "count": 12}
    train_sizes = {"length": 10, "count": 12}
    order_level = 0.5
    stop_key, primary_key = "stages_done", "stages_done"

    def __init__(self, S=3, n=3, alpha=0.1, length=100, H=3, degree=2, loss="ce_softmax", eps=1e-2,
                 population="sample", count=9000, seed=0, schedule="joint", model="simplified"):
        sizes = self.validate_sizes(dict(S=S, n=n, alpha=alpha, length=length, H=H, degree=degree, loss=loss, eps=eps,
                                         population=population, count=count, seed=seed, schedule=schedule,
                                         model=model))
        if sizes["length"] < sizes["n"]:
            raise ValueError(f"length must be an integer >= n = {sizes['n']}, got {sizes['length']}")
        self._sizes = sizes
        check_int("H", sizes["H"], 1, 6)
        check_int("degree", sizes["degree"], 1, sizes["H"])
        self.full = sizes["model"] == "full"
        if self.full:
            if sizes["population"] == "stationary":
                raise ValueError("population must be 'sample' or 'exact' for model='full' (its L → ∞ "
                                 "population is not built)")
            if sizes["schedule"] == "staged":
                raise ValueError("schedule must be 'joint' for model='full' (the staged schedule is the "
                                 "simplified model's)")
            from .full import FullLayout
            self.layout = FullLayout(sizes["H"], sizes["degree"], sizes["S"])
            self.metric = self.layout.metric        # the weight flow is GD on the full weights
        else:
            self.layout = Layout(sizes["H"], sizes["degree"])          # checks H ≤ 6
        self.names = self.layout.names
        # ∂𝓛/∂c_R = c_R r_R: the losing coefficients shrink by hundreds of orders of magnitude and
        # are integrated as ln|c_R| (gradflow.flows), so their shares follow their exact rates
        self.log_params = self.layout.c_names
        self.task = MarkovTask(S=sizes["S"], n=sizes["n"], alpha=sizes["alpha"], L=sizes["length"])
        self.loss_name, self.eps = sizes["loss"], sizes["eps"]
        if sizes["population"] == "exact" and sizes["S"] ** (sizes["length"] + 1) > MAX_ENUMERATED:
            raise ValueError(f"length must keep S^(length+1) <= {MAX_ENUMERATED} for population='exact'; "
                             f"S^(L+1) = {sizes['S'] ** (sizes['length'] + 1)}")

    def sizes(self) -> dict:
        return dict(self._sizes)

    def describe(self) -> str:
        s = self._sizes
        return (f"S = {s['S']}, n = {s['n']}, alpha = {s['alpha']:g}, L = {s['length']}, H = {s['H']}, "
                f"D = {s['degree']}, {s['loss']}, {self._population_label()}, {s['schedule']}"
                + (", full model" if self.full else ""))

    def _population_label(self) -> str:
        """What the population is, from the sizes alone (building it may be what is refused)."""
        s = self._sizes
        if s["population"] == "sample":
            return f"{s['count']} sequences"
        if s["population"] == "exact":
            return f"exact population, L = {s['length']}"
        return f"L → ∞, {s['count']} kernels"

    # -- the population ------------------------------------------------------------------
    @cached_property
    def population(self) -> pop_mod.Population:
        s = self._sizes
        rng = np.random.default_rng(s["seed"])
        if s["population"] == "sample":
            pop = pop_mod.frozen_sample(self.tokens, s["S"], s["H"], label=self._population_label())
        elif s["population"] == "exact":
            pop = pop_mod.enumerated(self.task, s["H"])
        else:
            return pop_mod.stationary(self.task.kernels(s["count"], rng), self.task, s["H"])
        if self.full:
            from .full_reduced import extend
            return extend(pop)
        return pop

    @cached_property
    def tokens(self) -> np.ndarray:
        """The frozen sample (population ``sample``): ``count`` sequences of L + 1 tokens."""
        s = self._sizes
        if s["population"] != "sample":
            raise ValueError(f"population must be 'sample' to have tokens, got {s['population']!r}")
        return self.task.sample(s["count"], np.random.default_rng(s["seed"]))[0]

    def check(self, eta: float | None = None, t_end: float = 2.0, n_times: int = 4, refinements: int = 3,
              progress: bool = False, optimizer="gd"):
        """The solved flow against GD on the full-tensor reference (see :mod:`.check`), or the
        ``optimizer``'s rule against its flow; ``eta`` defaults to 0.02 (0.01 for the full model,
        whose first steps at 0.02 are not yet in Euler's asymptotic regime: measured error ratio
        3.9 instead of 2)."""
        from .check import check
        eta = (0.01 if self.full else 0.02) if eta is None else eta
        return check(self, eta=eta, t_end=t_end, n_times=n_times, refinements=refinements, progress=progress,
                     optimizer=optimizer)

    def train(self, eta: float, steps: int, every: int, progress: bool = True):
        """Full-batch GD on the full-tensor reference over the frozen sample, all parameters at
        step ``eta`` (the authors' joint schedule); records every ``every`` steps."""
        if self.full:
            raise ValueError("train is the simplified model's; for model='full' use check() (GD on the full "
                             "reference) or gradflow.systems.markov.full.loss_and_grad")
        from .train import train
        return train(self, eta, steps, every, progress)

    def work(self) -> float:
        """Query–key pairs × subsets of one evaluation (estimated before the population exists)."""
        s = self._sizes
        nR = self.layout.n_c
        if s["population"] == "sample":
            return s["count"] * s["length"] * nR
        if s["population"] == "exact":
            return s["S"] ** (s["length"] + 1) * s["length"] * nR
        K = pop_mod.window_back(s["n"], s["H"])
        return s["count"] * s["S"] ** (2 * K + 1) * nR

    def cost(self) -> tuple:
        """(bytes, seconds) of one evaluation, estimated from the sizes alone: the population's
        tables (and, for a sample, the kernels it is drawn with), the pattern tables G_h and their
        gradients (H·P² each), and the time by :data:`PAIR_SECONDS` and :data:`TABLE_SECONDS`. An
        upper bound: the keys a sequence holds twice are merged, which the sizes cannot tell
        (measured 1.6–15× fewer pairs, an evaluation 3–15× below the estimate:
        benchmarks/results/markov/cost.md)."""
        s = self._sizes
        S, H, L = s["S"], s["H"], s["length"]
        P = float(sum(S ** m for m in range(H + 1))) * ((S + 1) if self.full else 1)   # (extended) patterns
        tables = 4 * H * P * P * 8 + 2 * H * P * S * 8
        if s["population"] == "sample":
            keys = s["count"] * L
            data = s["count"] * (L + 1) * 8 + s["count"] * float(S) ** s["n"] * 8
        elif s["population"] == "exact":
            keys = float(S) ** (L + 1) * L
            data = float(S) ** (L + 1) * (L + 1) * 8
        else:
            keys = s["count"] * float(S) ** (pop_mod.window_back(s["n"], H) + 1)
            data = keys * 8
        memory = tables + data + keys * (H + 3) * 8
        return memory, self.work() * PAIR_SECONDS + H * P * P * S * TABLE_SECONDS

    def check_size_limits(self, params=None) -> None:
        memory, seconds = self.cost()
        if memory > MAX_BYTES or seconds > MAX_EVAL_SECONDS:
            raise ValueError(f"this markov setting ({self.describe()}) is beyond this machine: one evaluation "
                             f"needs about {memory / 2 ** 30:.3g} GiB and {seconds:.3g} s, and a solve 10^3-10^4 "
                             f"evaluations; the limits are {MAX_BYTES / 2 ** 30:.0f} GiB and "
                             f"{MAX_EVAL_SECONDS:g} s per evaluation (reduce S, H, L or count)")

    def cost_note(self) -> str:
        """A line for a solve that will take long ("" when it will not)."""
        seconds = self.cost()[1]
        if seconds * 1e3 < 30:
            return ""
        return (f"markov: about {seconds:.2g} s per evaluation; a solve needs 10^3-10^4 of them "
                f"(about {seconds * 1e3 / 60:.0f}-{seconds * 1e4 / 60:.0f} min)")

    # -- the reduced loss ----------------------------------------------------------------
    def elementwise(self):
        """The simplified model's parameters are its own weights: (1, 1). The full model's
        directions (band, c, a: one weight; a diagonal or γ, β: S entries 1; an off-diagonal
        S(S − 1) entries 1) have disjoint supports: count = the metric's diagonal, scale 1."""
        if not self.full:
            return super().elementwise()
        count = np.diag(self.layout.metric()).astype(np.float64)
        return count, np.ones(len(count))

    def initial(self) -> np.ndarray:
        return self.layout.initial()

    def _evaluate(self):
        if self.full:
            from .full_reduced import evaluate
        else:
            from .reduced import evaluate
        return evaluate

    def loss(self, theta) -> float:
        return self._evaluate()(theta, self.layout, self.population, self.loss_name, self.eps, grad=False)

    def loss_and_grad(self, theta, free=None):
        return self._evaluate()(theta, self.layout, self.population, self.loss_name, self.eps)

    def loss_and_rates(self, theta, free=None):
        """As :meth:`loss_and_grad`, with (∂𝓛/∂c_R)/c_R in the selector entries (``log_params``)."""
        return self._evaluate()(theta, self.layout, self.population, self.loss_name, self.eps, rates=True)

    def segments(self) -> tuple:
        if self._sizes["schedule"] != "staged":
            return ()
        lay = self.layout
        return ((lay.c_names, STAGED_TIMES["c"]), (lay.band_names, STAGED_TIMES["band"]),
                (("a",), STAGED_TIMES["a"]))

    # -- stages ----------------------------------------------------------------------------
    def leading(self, theta) -> tuple:
        """The subset R (components) with the largest share c_R²/Σc²."""
        return self.layout.subsets[int(np.argmax(self.layout.shares(theta)))]

    def parents(self, theta) -> tuple:
        """The selected parent set: the offsets the leading subset's heads attend to most."""
        band = self.layout.unpack(theta)[0]
        return tuple(sorted(c + int(np.argmax(band[c - 1])) for c in self.leading(theta)))

    def _selector(self, theta) -> float:
        return float(np.max(self.layout.shares(theta)) - 0.5)

    def _copier(self, theta) -> float:
        R = self.leading(theta)
        if not R:
            return -1.0
        band = self.layout.unpack(theta)[0]
        s0 = self._sigma0
        gains = [(_own_offset_weight(band[c - 1]) - s0[c - 1]) / (1 - s0[c - 1]) for c in R]
        return float(np.mean(gains) - 0.5)

    @cached_property
    def _sigma0(self) -> np.ndarray:
        """Each head's initial attention on its own offset h + 1."""
        band0 = self.layout.unpack(self.layout.initial())[0]
        return np.array([_own_offset_weight(row) for row in band0])

    def _classifier(self, theta) -> float:
        return float(theta[-1] - 1.0)

    def final_report(self, theta) -> str:
        R = self.leading(theta)
        share = float(np.max(self.layout.shares(theta)))
        return (f"selected parent set {{{', '.join(map(str, self.parents(theta)))}}} (offsets; components "
                f"{{{', '.join(map(str, R))}}} hold {share:.1%} of the selector's weight), a = {theta[-1]:.4g}")

    def plot_series(self, theta) -> list:
        return [("leading share c_R^2/sum c^2", np.array([np.max(self.layout.shares(th)) for th in theta])),
                ("copier: error halved at 0.5", np.array([self._copier(th) + 0.5 for th in theta])),
                ("classifier weight a", theta[:, -1])]

    def criteria(self) -> tuple:
        return (Crosses("selector", self._selector, "a subset holds half the selector's weight"),
                Crosses("copier", self._copier, "the leading subset's heads halved their copying error"),
                Crosses("classifier", self._classifier, "a reached 1"),
                Crosses("stages_done", lambda th: min(self._selector(th), self._copier(th),
                                                      self._classifier(th)), "all three stages"))
