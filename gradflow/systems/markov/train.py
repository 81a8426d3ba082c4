"""Training the markov reference for the CLI's ``train``: full-batch GD on the frozen sample."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..._validate import check_int, check_positive
from . import reference as ref


@dataclass
class Trajectory:
    """``steps`` and ``t = step·eta`` at each record, θ (live entries) and the loss there."""
    eta: float
    steps: np.ndarray
    loss: np.ndarray
    theta: list = field(repr=False)
    seconds: float = 0.0

    @property
    def t(self) -> np.ndarray:
        return self.steps * self.eta


def train(system, eta: float, steps: int, every: int, progress: bool = True) -> Trajectory:
    eta = check_positive("eta", eta)
    steps, every = check_int("steps", steps, 1), check_int("every", every, 1)
    lay, S = system.layout, system.task.S
    tokens = system.tokens
    w = ref.Weights.from_theta(lay, system.initial())
    rec_s, rec_l, rec_t = [], [], []
    start = time.perf_counter()
    for k in range(steps + 1):
        value, g = ref.loss_and_grad(w, tokens, S, lay.D, system.loss_name, system.eps)
        if k % every == 0 or k == steps:
            rec_s.append(k)
            rec_l.append(value)
            rec_t.append(ref.live_gradient(lay, w))
            if progress:
                print(f"\r  step {k}/{steps}  loss {value:.6f}", end="", file=sys.stderr, flush=True)
        if k == steps:
            break
        w = w.step(g, eta)
    if progress:
        print(file=sys.stderr)
    return Trajectory(eta, np.array(rec_s), np.array(rec_l), rec_t, time.perf_counter() - start)
