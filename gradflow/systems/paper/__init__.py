"""paper: the seed paper's own setting (Musat et al. 2025, Theorem 2; specs/SPEC-paper.md).

A two-layer attention-only transformer with a disentangled residual stream on N item–label pairs
and a query: orthonormal contents, positions with a complex structure M (item at p_i, its label at
M p_i, the query at a fresh p_{N+1}), strictly causal attention, squared error. The rotations of
contents and of positions (those commuting with M) leave the data law fixed; the weights they fix
are 19 pseudo-parameters (3 + 12 + 4), on which the population loss is exact and O(N) per query
(:mod:`.reduced`). Ground truth: the full-weight NumPy model of :mod:`.reference`.

Emergence follows the paper's Definition 1: t_p(c) = first t with θ_p ≥ c, c = 0.5 (and 0.1);
T_γ, T_β, T_α = t_γ3, t_β2, t_α3; t_ICL = the time all three have reached 0.5; T_loss = first t with
𝓛 < ¼ (half of 𝓛(0) = ½).
"""

from __future__ import annotations

import numpy as np

from ...criteria import Crosses, LossBelow, ParamReaches
from ...system import Size, System
from . import reduced
from .reduced import NAMES, QUERIES

#: sums="auto" takes the key sums by quadrature (:mod:`.quadrature`) above this N (query last)
QUADRATURE_FROM_N = 65536

HEAD = ("alpha3", "beta2", "gamma3")
THRESHOLDS = (0.1, 0.5)
_HEAD_INDEX = [NAMES.index(n) for n in HEAD]


def _t_icl(theta) -> float:
    """min over the head of θ − 0.5: ≥ 0 once α3, β2 and γ3 have all reached 0.5."""
    return float(min(theta[k] for k in _HEAD_INDEX) - 0.5)


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
                       ("auto",) + reduced.SUMS))
    param_word = "pseudo-parameter"
    derivation = "gradflow.systems.paper.derive"
    order_level = 0.5
    stop_key, primary_key = "t_ICL", "t_ICL"
    check_sizes = {"N": 3}
    stationary_hint = "start from a perturbed theta0"

    def __init__(self, N: int = 64, query: str = "last", D: int | None = None, sums: str = "auto"):
        from .reference import check_D
        sizes = self.validate_sizes({"N": N, "query": query, "D": D, "sums": sums})
        self.N, self.query = sizes["N"], sizes["query"]
        self.D = check_D(self.N, sizes["D"])
        reduced._check_sums(self.query, sizes["sums"] if sizes["sums"] != "auto" else "exact")
        #: how the key sums are taken here ("auto" resolved)
        self.sums = (sizes["sums"] if sizes["sums"] != "auto" else
                     "quadrature" if self.query == "last" and self.N > QUADRATURE_FROM_N else "exact")
        self.task = {"N": self.N, "query": self.query, "D": self.D}
        self._sums_given = sizes["sums"]

    def sizes(self) -> dict:
        return dict(self.task) if self._sums_given == "auto" else {**self.task, "sums": self._sums_given}

    def describe(self) -> str:
        return f"N = {self.N}, query {self.query}" + (", key sums by quadrature" if self.sums == "quadrature" else "")

    def check_size_limits(self) -> None:
        if self.N > 10 ** 7:
            raise ValueError(f"N = {self.N} is beyond this machine: each evaluation holds about "
                             f"{self.N * 200 / 2**30:.3g} GiB and a solve takes about "
                             f"{self.N * 2e-7 * 2e4 / 3600:.3g} h; the limit is N = 10^7")

    def loss(self, theta) -> float:
        return reduced.loss(theta, self.N, self.query, self.sums)

    def loss_and_grad(self, theta, free=None):
        return reduced.loss_and_grad(theta, self.N, self.query, free, self.sums)

    def jacobian_pays(self) -> bool:
        """The analytic Hessian from N = :data:`HESSIAN_FROM_N` on. Measured (warm cache): a solve
        with difference-quotient Jacobians takes 1.2-1.5× as long (0.05 vs 0.04 s at N = 64,
        1.39 vs 0.96 s at N = 4096, 5.1 vs 3.7 s at N = 16384; T within 3.4e-8), while compiling the
        Hessian kernel costs about 3 s once: below N = 4096 it would dominate a first solve.
        With the key sums by quadrature (N > 65536 by default) always: difference quotients there
        made LSODA re-evaluate its Jacobian 4× as often at N = 2¹⁹ (1772 against 465 times)."""
        return self.N >= HESSIAN_FROM_N or self.sums == "quadrature"

    def hessian(self, theta, free=None) -> np.ndarray:
        """Exact ∇²_θ𝓛 (the generated kernels; implicit methods use it as the flow's Jacobian)."""
        return reduced.hessian(theta, self.N, self.query, free, self.sums)

    def metric(self) -> np.ndarray:
        """G = D·I: the 19 basis matrices are orthogonal with ‖B_k‖²_F = D, so the weight flow is
        the θ-flow with time multiplied by D."""
        return self.D * np.eye(19)

    def check(self, eta: float = 8.0, t_end: float | None = None, n_times: int = 3, refinements: int = 3,
              progress: bool = False):
        """Full-weight GD (gradient averaged exactly over 8192 frames, N = 3) vs the solved weight
        flow; see :mod:`.check`."""
        from .check import check
        return check(self.N, self.query, self.task["D"] if self.task["D"] != 8 else None, eta=eta,
                     t_end=96.0 if t_end is None else t_end, n_times=n_times, refinements=refinements,
                     progress=progress)

    def criteria(self) -> tuple:
        return ((LossBelow("T_loss", 0.25, "¼ = ½·𝓛(0)"), Crosses("t_ICL", _t_icl, "α3, β2 and γ3 all reached 0.5"))
                + tuple(ParamReaches(p, c) for p in NAMES for c in THRESHOLDS))
