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


class Escape(System):
    """A slow saddle to escape: 𝓛(x, y) = (k/4)(x² − 1)² + ½y² with k = 10⁻⁶, stationary at x = 0
    (a maximum in x, rate k) and x = ±1 (minima). From (ε, 0) the flow dx/dt = k(x − x³) has
    x(t)² = 1/(1 + (1/ε² − 1) e^{−2kt}), so x reaches c at t = ln((1/ε² − 1)/(1/c² − 1)) / (2k):
    finite for every ε > 0, also where the gradient (≈ kε) is below any absolute tolerance, like
    the cross-entropy head's start by its saddle at θ = 0."""

    name = "escape"
    names = ("x", "y")
    head = ("x",)
    sizes_spec = ()
    order_level = 0.5
    stop_key, primary_key = "T", "T"
    metric = None
    task = None
    K = 1e-6

    def sizes(self):
        return {}

    def loss(self, theta):
        return float(0.25 * self.K * (theta[0] ** 2 - 1) ** 2 + 0.5 * theta[1] ** 2)

    def loss_and_grad(self, theta, free=None):
        return self.loss(theta), np.array([self.K * (theta[0] ** 3 - theta[0]), theta[1]])

    def hessian(self, theta, free=None):
        return np.diag([self.K * (3 * theta[0] ** 2 - 1), 1.0])

    def criteria(self):
        return (LossBelow("T", 0.01 * self.K, "k/100"), ParamReaches("x", 0.5))

    @classmethod
    def time_to(cls, c, eps):
        return np.log((1 / eps ** 2 - 1) / (1 / c ** 2 - 1)) / (2 * cls.K)


register("escape", Escape)


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


class Decay(System):
    """Vanishing parameters with closed forms: 𝓛 = ½(x − 1)² + ½(k_a a² + k_b b²) from
    θ0 = (a, b, x) = (−0.3, 0.02, 0). Then x = 1 − e^{−t}, a = −0.3 e^{−k_a t} (k_a = 100:
    ln|a| = ln 0.3 − 100 t, below float64's range from t ≈ 7.4) and b = 0.02 e^{−k_b t}
    (k_b = −0.5: it grows). a and b are ``log_params`` (∂𝓛/∂a = a·k_a). ``staged=1`` solves
    a alone for t = 8 (ln|a| = −800: a underflows to −0.0), then x for t = 1, then a and b for
    t = 5."""

    name = "decay"
    names = ("a", "b", "x")
    head = ("x",)
    sizes_spec = (Size("staged", 0, 0, "1: three segments"),)
    order_level = 0.5
    stop_key, primary_key = "T", "T"
    K = np.array([100.0, -0.5])
    THETA0 = np.array([-0.3, 0.02, 0.0])
    log_params = ("a", "b")
    SEGMENTS = ((("a",), 8.0), (("x",), 1.0), (("a", "b"), 5.0))

    def __init__(self, staged: int = 0):
        self.staged = self.validate_sizes({"staged": staged})["staged"]
        self.task = None

    def sizes(self):
        return {"staged": self.staged}

    def initial(self):
        return self.THETA0.copy()

    def segments(self):
        return self.SEGMENTS if self.staged else ()

    def loss(self, theta):
        return float(0.5 * (theta[2] - 1) ** 2 + 0.5 * self.K @ theta[:2] ** 2)

    def loss_and_grad(self, theta, free=None):
        return self.loss(theta), np.array([self.K[0] * theta[0], self.K[1] * theta[1], theta[2] - 1])

    def loss_and_rates(self, theta, free=None):
        return self.loss(theta), np.array([self.K[0], self.K[1], theta[2] - 1])

    def criteria(self):
        return (LossBelow("T", 0.1, "0.1"), ParamReaches("x", 0.5))

    def exact_log_abs(self, t, durations=None):
        """ln|a|, ln|b| after free time ``t`` of each."""
        t = np.asarray(t, dtype=float)
        return np.log(np.abs(self.THETA0[:2])) - self.K * t[..., None]


register("decay", Decay)


class Slope(System):
    """A constant gradient: 𝓛(θ) = gᵀθ with g = (−2, 0.5, 1e-9, 0), so every optimizer's flow is
    closed-form. Its parameters move ``count`` = (1, 4, 2, 3) weight entries each by ±``scale`` =
    (1, 0.5, 2, 1) (disjoint supports; metric diag(count·scale²)), so on the weight flow an
    elementwise rule sees h_k = g_k/(count_k scale_k) and moves θ_k by its step / scale_k. Adam's
    bias-corrected moments are then exactly h and h² (m = h(1 − e^{−λ1 t}) over its correction),
    so Adam and sign descent both give θ(t) = −t h/(|h| + ε)/scale, and momentum the closed form
    of :meth:`momentum` (r's h is far below ε: it barely moves under Adam; s never moves)."""

    name = "slope"
    names = ("p", "q", "r", "s")
    head = ("p", "q")
    sizes_spec = ()
    order_level = 0.5
    stop_key, primary_key = "T", "T"
    G = np.array([-2.0, 0.5, 1e-9, 0.0])
    COUNT = np.array([1.0, 4.0, 2.0, 3.0])
    SCALE = np.array([1.0, 0.5, 2.0, 1.0])
    hessian = None

    def __init__(self):
        self.task = None

    def sizes(self):
        return {}

    def loss(self, theta):
        return float(self.G @ theta)

    def loss_and_grad(self, theta, free=None):
        return self.loss(theta), self.G.copy()

    def metric(self):
        return np.diag(self.COUNT * self.SCALE ** 2)

    def elementwise(self):
        return self.COUNT.copy(), self.SCALE.copy()

    def criteria(self):
        return (LossBelow("T", -1.0, "-1"), ParamReaches("p", 0.5), ParamReaches("q", 0.5))

    def update_gradient(self, flow):
        return self.G / (self.COUNT * self.SCALE) if flow == "weights" else self.G

    def steps_scale(self, flow):
        return self.SCALE if flow == "weights" else np.ones(4)

    @staticmethod
    def momentum(t, h, lr, mu):
        """θ(t) of η θ'' + (1 − μ) θ' = −h, θ(0) = 0, θ'(0) = −h: with k = (1 − μ)/η,
        θ' = −h/(1−μ) + (h/(1−μ) − h) e^{−kt}, so θ = −h t/(1−μ) + (h/(1−μ) − h)(1 − e^{−kt})/k."""
        k = (1 - mu) / lr
        return -h * t / (1 - mu) + (h / (1 - mu) - h) * (1 - np.exp(-k * t)) / k


register("slope", Slope)


class Bowl(Quadratic):
    """The quadratic with its parameters as the model's own weights (no metric): every optimizer,
    elementwise ones included, runs on it (``System.elementwise``'s default (1, 1))."""

    name = "bowl"
    metric = None


register("bowl", Bowl)


class Cup(Quadratic):
    """The coupled quadratic whose parameters move disjoint weight entries: ``count`` = (1, 4, 2)
    entries each, by ±``scale`` = (1, 0.5, 2) (metric diag(count·scale²)): every optimizer runs on
    its weight flow."""

    name = "cup"
    COUNT = np.array([1.0, 4.0, 2.0])
    SCALE = np.array([1.0, 0.5, 2.0])

    def metric(self):
        return np.diag(self.COUNT * self.SCALE ** 2)

    def elementwise(self):
        return self.COUNT.copy(), self.SCALE.copy()


register("cup", Cup)
