"""The generic, reference-backed reduced flow of any member of the paper family (:mod:`.setting`).

At invariant weights every frame of a sequence gives the same loss, so the population loss is the
mean over the setting's canonical sequences (one per placement of the query's item and per query,
:meth:`.setting.Setting.batch`), and its gradient in the pseudo-parameters is the full model's
gradient on those sequences projected on the basis matrices, ∂𝓛/∂θ_k = ⟨∇_W𝓛, B_k⟩. This module
evaluates exactly that through the NumPy reference (:mod:`.reference`): nothing is derived by
hand, so a new setting costs its data (the canonical sequences) and its symmetry (which basis
matrices are fixed), and every generated kernel is tested against it.

Cost per evaluation: one forward and backward pass of the full model on n sequences of 2N + 1
tokens of width 2D (D = 2N + 2): about n·(2N + 1)·(2D)²·6 flops (the layer-1 scores and W1's
gradient dominate): 4e5 at N = 8, 1.3e8 at N = 64, n = 1 (benchmarks/results/paper/family.md has
the measured seconds).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import reference as ref
from .setting import Setting


@lru_cache(maxsize=8)
def _batch(setting: Setting, D: int):
    """The setting's canonical sequences (E read-only, Y, targets) and its pseudo-parameters'
    indices among the 19, built once per (setting, D)."""
    E, Y, target = setting.batch(D)
    E.setflags(write=False)
    return E, Y, target, setting.indices()


def _weights(theta, setting: Setting, D: int):
    E, Y, target, idx = _batch(setting, D)
    full = np.zeros(19, dtype=np.result_type(np.asarray(theta).dtype, float))
    full[idx] = theta
    return ref.weights(full, D), E, Y, target, idx


def loss(theta, setting: Setting, D: int) -> float:
    """𝓛 on the setting's pseudo-parameters: the forward pass alone."""
    W, E, Y, target, _ = _weights(theta, setting, D)
    per = ref.readout_loss(ref.forward(W, E, setting.mask)["y"], E, Y, setting.loss, target)[0]
    return float(np.full(len(per), 1.0 / len(per)) @ per)          # the mean as ref.loss_and_grad takes it


def loss_and_grad(theta, setting: Setting, D: int):
    """(𝓛, ∂𝓛/∂θ) on the setting's pseudo-parameters (θ in the order of ``setting.indices()``)."""
    W, E, Y, target, idx = _weights(theta, setting, D)
    value, g = ref.loss_and_grad(W, E, Y, mask=setting.mask, loss=setting.loss, target=target)
    return value, ref.basis_inner(g, D)[idx]
