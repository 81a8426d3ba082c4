"""paper: the seed paper's own setting (Musat et al. 2025, Theorem 2; specs/SPEC-paper.md).

A two-layer attention-only transformer with a disentangled residual stream on N item–label pairs
and a query: orthonormal contents, positions with a complex structure M (item at p_i, its label at
M p_i, the query at a fresh p_{N+1}), strictly causal attention, squared error. The rotations of
contents and of positions (those commuting with M) leave the data law fixed; the weights they fix
are 19 pseudo-parameters (3 + 12 + 4), on which the population loss is exact and O(N) per query
(:mod:`.reduced`). Ground truth: the full-weight NumPy model of :mod:`.reference`.

Emergence follows the paper's Definition 1: t_p(c) = first t with θ_p ≥ c, c = 0.5 (and 0.1);
T_γ, T_β, T_α = t_γ3, t_β2, t_α3; t_ICL = the time all three have reached 0.5; T_loss = first t with
𝓛 < ½𝓛(0) (¼ for the squared error).

The setting is a family (:mod:`.setting`): ``mask``, ``labels``, ``loss`` and ``burst`` change the
attention mask, where a label sits, the loss and how often the query's item repeats. The paper's own
setting (the defaults) runs on the generated kernels; every other member on the generic,
reference-backed flow of :mod:`.generic` (the full model on the setting's canonical sequences),
with its own invariant space (14 pseudo-parameters with labels at their item's position), except
that a head alone runs on its member's closed form where one exists (:mod:`.heads`).
"""

from __future__ import annotations

import numpy as np

from ..._differences import central_differences
from ...criteria import Crosses, LossBelow, ParamReaches
from ...system import Size, System
from . import heads, reduced
from .reduced import NAMES, QUERIES
from .setting import LABELS, LOSSES, MASKS, Setting

#: sums="auto" takes the key sums by quadrature (:mod:`.quadrature`) above this N (query last)
QUADRATURE_FROM_N = 65536

HEAD = ("alpha3", "beta2", "gamma3")
THRESHOLDS = (0.1, 0.5)


class _AllReached:
    """min over the head of θ − 0.5: ≥ 0 once the head's three have all reached 0.5."""

    def __init__(self, index):
        self.index = list(index)

    def __call__(self, theta) -> float:
        return float(min(theta[k] for k in self.index) - 0.5)


#: from this N on, implicit methods get the analytic Hessian as the flow's Jacobian
HESSIAN_FROM_N = 4096


class PaperSystem(System):
    """SPEC-paper with ``N`` pairs, the query ``last`` (Theorem 2) or ``uniform``, and ``D`` the
    embedding dimension of the full model (default 2N + 2; it scales only the weight flow's time)."""

    name = "paper"
    names = NAMES
    head = HEAD
    expected_slope = (2.0, "Theorem 2: T_β, T_α = Θ(N²)")
    sizes_spec = (Size("N", 64, 2, "number of item-label pairs"),
                  Size("query", "last", 0, "query index: last (Theorem 2) or uniform", QUERIES),
                  Size("D", None, 2, "embedding dimension of the full model (default 2N+2)"),
                  Size("sums", "auto", 0, "key sums: exact, quadrature (query last; exact ends, interpolatory "
                       f"panels, error bound at rounding) or auto (quadrature above N = {QUADRATURE_FROM_N})",
                       ("auto",) + reduced.SUMS),
                  Size("mask", "strict", 0, "attention mask: strict (earlier tokens) or self (the token itself too)",
                       MASKS),
                  Size("labels", "rotated", 0, "label position: rotated (M p_i, the paper) or same (p_i, its item's)",
                       LABELS),
                  Size("loss", "mse", 0, "loss: mse (the paper) or ce (cross-entropy over the sequence's contents)",
                       LOSSES),
                  Size("burst", 1, 1, "how often the query's item occurs among the N pairs (1: the paper)"))
    param_word = "pseudo-parameter"
    derivation = "gradflow.systems.paper.derive"
    order_level = 0.5
    stop_key, primary_key = "t_ICL", "t_ICL"
    check_sizes = {"N": 3}
    stationary_hint = "start from a perturbed theta0"

    def __init__(self, N: int = 64, query: str = "last", D: int | None = None, sums: str = "auto",
                 mask: str = "strict", labels: str = "rotated", loss: str = "mse", burst: int = 1):
        from .reference import check_D
        sizes = self.validate_sizes({"N": N, "query": query, "D": D, "sums": sums, "mask": mask, "labels": labels,
                                     "loss": loss, "burst": burst})
        self.N, self.query = sizes["N"], sizes["query"]
        self.D = check_D(self.N, sizes["D"])
        #: the member of the family (:mod:`.setting`)
        self.setting = Setting(self.N, self.query, sizes["mask"], sizes["labels"], sizes["loss"], sizes["burst"])
        if not self.setting.paper and sizes["sums"] == "quadrature":
            raise ValueError(f"sums='quadrature' is the paper setting's kernels'; {self.setting.options()} runs on the "
                             "generic reference-backed flow, whose sums are exact")
        reduced._check_sums(self.query, sizes["sums"] if sizes["sums"] != "auto" else "exact")
        #: how the key sums are taken here ("auto" resolved)
        self.sums = (sizes["sums"] if sizes["sums"] != "auto" else
                     "quadrature" if self.setting.paper and self.query == "last" and self.N > QUADRATURE_FROM_N
                     else "exact")
        self.task = {"N": self.N, "query": self.query, "D": self.D}
        self._sums_given = sizes["sums"]
        self.names = tuple(NAMES[k] for k in self.setting.indices())
        self.head = (self.setting.previous_token, "beta2", "gamma3")
        #: which closed form the member's head has when only the head moves (:mod:`.heads`), or None
        self.head_closed_form = heads.closed_form(self.setting)
        self._head_index = np.array([self.names.index(n) for n in self.head])
        self._head_set = set(self._head_index.tolist())
        self._rest_index = np.setdiff1d(np.arange(len(self.names)), self._head_index)
        if not self.setting.paper:
            self.derivation = ""

    def sizes(self) -> dict:
        extra = {} if self._sums_given == "auto" else {"sums": self._sums_given}
        return {**self.task, **extra, **self.setting.options()}

    def describe(self) -> str:
        options = "".join(f", {k} {v}" for k, v in self.setting.options().items())
        return (f"N = {self.N}, query {self.query}{options}"
                + (", key sums by quadrature" if self.sums == "quadrature" else ""))

    def check_size_limits(self, params=None) -> None:
        """Beyond the machine: the generic flow above 2e10 flops per evaluation (unless only the head
        of a member with a closed-form head moves: then the paper's limits), the paper's kernels above
        N = 10^7 (exact sums) or 2^25 (quadrature)."""
        head_only = self.head_closed_form is not None and params is not None and set(params) <= set(self.head)
        if not self.setting.paper and not head_only:
            flops = self.setting.n_sequences() * (2 * self.N + 1) * (2 * self.D) ** 2 * 6
            if flops > 2e10:
                raise ValueError(f"N = {self.N} with {self.setting.options()} is beyond this machine on the generic "
                                 f"reference-backed flow: one evaluation is about {flops:.2g} flops "
                                 f"({self.setting.n_sequences()} sequences of {2 * self.N + 1} tokens of width "
                                 f"{2 * self.D}), some {flops / 1e10:.2g} s, and a solve takes thousands; the limit is "
                                 "2e10 flops per evaluation")
            return
        if self.sums == "quadrature":
            from .quadrature import N_MAX
            if self.N > N_MAX:
                raise ValueError(f"N = {self.N} is beyond this machine: the limit is N = {N_MAX} (2^25), where the "
                                 "emergence's transient already needs steps near float64's resolution of t")
        elif self.N > 10 ** 7:
            raise ValueError(f"N = {self.N} is beyond this machine with exact key sums: each evaluation holds about "
                             f"{self.N * 200 / 2**30:.3g} GiB and a solve takes about "
                             f"{self.N * 2e-7 * 2e4 / 3600:.3g} h; the limit is N = 10^7 (sums='quadrature' reaches 2^25 "
                             "with query last)")

    def _member_head(self, theta, free=None):
        """θ of the head (α3 or α2, β2, γ3) when this member's head has a closed form, every other
        pseudo-parameter is 0 and only head entries are wanted (``free``); else None."""
        if self.head_closed_form is None:
            return None
        theta = np.asarray(theta, dtype=np.float64)
        if np.any(theta[self._rest_index] != 0):
            return None
        if free is not None and not set(np.asarray(free).tolist()) <= self._head_set:
            return None
        return np.ascontiguousarray(theta[self._head_index])

    def _spread(self, g3):
        """The head's three entries (α, β2, γ3) as a vector over this member's names."""
        out = np.zeros(len(self.names))
        out[self._head_index] = g3
        return out

    def loss(self, theta) -> float:
        if not self.setting.paper:
            head3 = self._member_head(theta)
            if head3 is not None:
                return heads.evaluate(self.head_closed_form, "val", head3, self.setting)
            from . import generic
            return generic.loss(np.asarray(theta, dtype=np.float64), self.setting, self.D)
        return reduced.loss(theta, self.N, self.query, self.sums)

    def loss_and_grad(self, theta, free=None):
        if not self.setting.paper:
            head3 = self._member_head(theta, free) if free is not None else None
            if head3 is not None:
                value, g3 = heads.evaluate(self.head_closed_form, "jac", head3, self.setting)
                return value, self._spread(g3)
            from . import generic
            return generic.loss_and_grad(np.asarray(theta, dtype=np.float64), self.setting, self.D)
        return reduced.loss_and_grad(theta, self.N, self.query, free, self.sums)

    def jacobian_pays(self) -> bool:
        """The analytic Hessian from N = :data:`HESSIAN_FROM_N` on. Measured (warm cache): a solve
        with difference-quotient Jacobians takes 1.2-1.5× as long (0.05 vs 0.04 s at N = 64,
        1.39 vs 0.96 s at N = 4096, 5.1 vs 3.7 s at N = 16384; T within 3.4e-8), while compiling the
        Hessian kernel costs about 3 s once: below N = 4096 it would dominate a first solve.
        With the key sums by quadrature (N > 65536 by default) always: difference quotients there
        made LSODA re-evaluate its Jacobian 4× as often at N = 2¹⁹ (1772 against 465 times)."""
        return self.setting.paper and (self.N >= HESSIAN_FROM_N or self.sums == "quadrature")

    def hessian(self, theta, free=None) -> np.ndarray:
        """Exact ∇²_θ𝓛 from the generated kernels where the member's loss is the paper's (implicit
        methods use it as the flow's Jacobian); for the other members central differences of the
        generic gradient, step 1e-5 (error O(1e-10) relative: a Newton matrix, as the integrator would
        form itself)."""
        if self.setting.paper:
            return reduced.hessian(theta, self.N, self.query, free, self.sums)
        head3 = self._member_head(theta, free) if free is not None else None
        if head3 is not None:
            out = np.zeros((len(self.names), len(self.names)))
            out[np.ix_(self._head_index, self._head_index)] = heads.evaluate(self.head_closed_form, "hess", head3,
                                                                              self.setting)
            return out
        return central_differences(lambda th: self.loss_and_grad(th)[1], theta, 1e-5,
                                   None if free is None else np.asarray(free))

    def elementwise(self):
        """Each basis matrix is one D×D block, I or M: D entries ±1, and the 19 supports are
        disjoint (tests/paper/test_optimizers.py checks it on the basis). So an elementwise rule on
        the full weights reduces exactly, with count D and scale 1: Adam with ε on the weights is
        Adam with D·ε on θ (derivations/optimizers.md)."""
        n = len(self.names)
        return np.full(n, float(self.D)), np.ones(n)

    def metric(self) -> np.ndarray:
        """G = D·I: the 19 basis matrices are orthogonal with ‖B_k‖²_F = D, so the weight flow is
        the θ-flow with time multiplied by D."""
        return self.D * np.eye(len(self.names))

    def check(self, eta: float = 8.0, t_end: float | None = None, n_times: int = 3, refinements: int = 3,
              progress: bool = False, optimizer="gd"):
        """Full-weight GD (gradient averaged exactly over 8192 frames, N = 3, in this setting) vs the
        solved weight flow, or the ``optimizer``'s own rule on every weight entry vs its flow; see
        :mod:`.check`."""
        from .check import check
        return check(self.N, self.query, self.task["D"] if self.task["D"] != 8 else None, eta=eta,
                     t_end=96.0 if t_end is None else t_end, n_times=n_times, refinements=refinements,
                     progress=progress, options=self.setting.options(), optimizer=optimizer)

    def criteria(self) -> tuple:
        half = 0.25 if self.setting.loss == "mse" else 0.5 * np.log(2 * self.N)
        level = "¼ = ½·𝓛(0)" if self.setting.loss == "mse" else f"½·𝓛(0) = ½ ln 2N = {half:.6g}"
        from ...plot import pretty
        a, b, g = (pretty(n) for n in self.head)
        return ((LossBelow("T_loss", half, level),
                 Crosses("t_ICL", _AllReached([self.names.index(n) for n in self.head]),
                         f"{a}, {b} and {g} all reached 0.5"))
                + tuple(ParamReaches(p, c) for p in self.names for c in THRESHOLDS))
