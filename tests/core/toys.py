"""Toy systems with closed-form flows, for testing the core without any transformer."""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm

from gradflow import LossBelow, ParamReaches, System, register
from gradflow.system import Size


class Quadratic(System):
    """𝓛(θ) = ½ θᵀAθ − bᵀθ + c on three parameters, with metric G. Its flows are linear:
    θ(t) = θ* + exp(−M A t)(θ0 − θ*), θ* = A⁻¹b, M = I (theta) or G⁻¹ (weights). ``coupled=0``
    makes A diagonal, so θ_k(t) = θ*_k (1 − e^{−a_k t}) from 0 and every threshold time is
    closed-form: t_k(c) = −ln(1 − c/θ*_k) / a_k."""

    name = "quadratic"
    names = ("x", "y", "z")
    head = ("x", "y", "z")
    sizes_spec = (Size("coupled", 1, 0, "1: A has off-diagonal terms"),)
    order_level = 0.5
    stop_key, primary_key = "T_tenth", "T"
    DIAG = np.array([3.0, 1.0, 0.25])
    B = np.array([3.0, 2.0, 1.0])       # θ* = (1, 2, 4) when uncoupled

    def __init__(self, coupled: int = 1):
        self.coupled = self.validate_sizes({"coupled": coupled})["coupled"]
        A = np.diag(self.DIAG)
        if self.coupled:
            A[0, 1] = A[1, 0] = 0.4
            A[1, 2] = A[2, 1] = -0.2
        self.A = A
        self.G = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.1], [0.0, 0.1, 0.5]])
        self.star = np.linalg.solve(A, self.B)
        self.c = 0.5 * self.star @ A @ self.star + 0.1          # min 𝓛 = 0.1
        self.task = {"coupled": self.coupled}

    def sizes(self):
        return {"coupled": self.coupled}

    def loss(self, theta):
        return float(0.5 * theta @ self.A @ theta - self.B @ theta + self.c)

    def loss_and_grad(self, theta, free=None):
        return self.loss(theta), self.A @ theta - self.B

    def hessian(self, theta, free=None):
        return self.A.copy()

    def metric(self):
        return self.G

    def criteria(self):
        return ((LossBelow("T", self.c * 0.5, "half of L(0)"), LossBelow("T_tenth", 0.2, "0.2"))
                + tuple(ParamReaches(p, 0.5) for p in self.names))

    # -- closed forms ------------------------------------------------------------------
    def exact(self, t, flow="theta", theta0=None, free=None):
        """θ(t) of the flow restricted to the parameters ``free`` (indices; default all)."""
        theta0 = np.zeros(3) if theta0 is None else np.asarray(theta0, float)
        S = np.arange(3) if free is None else np.asarray(free)
        A = self.A[np.ix_(S, S)]
        rest = np.setdiff1d(np.arange(3), S)
        b = self.B[S] - self.A[np.ix_(S, rest)] @ theta0[rest]
        M = np.eye(len(S)) if flow == "theta" else np.linalg.inv(self.G[np.ix_(S, S)])
        star = np.linalg.solve(A, b)
        out = np.array(theta0, dtype=float)
        out[S] = star + expm(-M @ A * t) @ (theta0[S] - star)
        return out


class Plateau(System):
    """A one-parameter loss with no Hessian: 𝓛(w) = −ln(1 + w) + w/2 (w > −1), gradient
    −1/(1 + w) + 1/2. From w = 0 the flow dw/dt = 1/(1 + w) − 1/2 has the implicit solution
    t(w) = −2w − 4 ln(1 − w)  (w < 1), so the threshold time of level c is exactly
    −2c − 4 ln(1 − c)."""

    name = "plateau"
    names = ("w",)
    head = ("w",)
    sizes_spec = ()
    order_level = 0.5
    stop_key, primary_key = "w_high", "T"
    hessian = None
    metric = None
    task = None

    def sizes(self):
        return {}

    def loss(self, theta):
        return float(-np.log1p(theta[0]) + theta[0] / 2)

    def loss_and_grad(self, theta, free=None):
        return self.loss(theta), np.array([-1 / (1 + theta[0]) + 0.5])

    def criteria(self):
        return (LossBelow("T", -0.1, "-0.1"), ParamReaches("w", 0.5), ParamReaches("w", 0.9),
                _WHigh)

    @staticmethod
    def time_to(c):
        return -2 * c - 4 * np.log(1 - c)


_WHigh = LossBelow("w_high", float(-np.log1p(0.95) + 0.95 / 2), "w = 0.95")

register("quadratic", Quadratic)
register("plateau", Plateau)


class Scheduled(Quadratic):
    """The uncoupled quadratic with a schedule: x alone for t = 1, then y and z for t = 2, from
    θ0 = (0.1, 0.1, 0.1) (``initial``). Each segment is the closed-form restricted flow."""

    name = "scheduled"
    head = ("x", "y", "z")
    SEGMENTS = ((("x",), 1.0), (("y", "z"), 2.0))

    def __init__(self, coupled: int = 0):
        super().__init__(coupled=0)

    def initial(self):
        return np.full(3, 0.1)

    def segments(self):
        return self.SEGMENTS
