"""Optimizers as flows (issue 23): gradient descent, heavy-ball momentum, Adam and sign descent.

Each is a continuous-time model of a training rule whose state (velocity; first and second
moments) is integrated with θ, on one time axis t = learning rate × steps. One module per
optimizer; :mod:`.base` says how to add one; derivations/optimizers.md derives each model, its
limit and when an elementwise rule on the full weights reduces exactly to the parameters.

    make("adam", lr=1e-3)        an optimizer from a name and hyperparameters
    make({"name": "adam", ...})  … from its JSON form (Optimizer.spec(), what results and stores keep)
    make(Adam(lr=1e-3))          an instance, unchanged
"""

from __future__ import annotations

from .adam import Adam
from .base import Optimizer
from .gd import GD
from .momentum import Momentum
from .sign import Sign

#: the optimizers by name
OPTIMIZERS = {c.name: c for c in (GD, Momentum, Adam, Sign)}
DEFAULT = "gd"


def make(optimizer=DEFAULT, **hyper) -> Optimizer:
    """An :class:`Optimizer` from a name (with hyperparameters), its JSON form or an instance;
    ``ValueError`` naming the bad argument and its range."""
    if isinstance(optimizer, Optimizer):
        if hyper:
            raise ValueError("hyperparameters given with an optimizer instance: set them on the instance")
        return optimizer
    if isinstance(optimizer, dict):
        if hyper:
            raise ValueError("hyperparameters given twice: in the optimizer dict and as keywords")
        hyper = {k: v for k, v in optimizer.items() if k != "name"}
        optimizer = optimizer.get("name")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)} (or an Optimizer, or its spec dict); "
                         f"got {optimizer!r}")
    return OPTIMIZERS[optimizer](**hyper)


__all__ = ["Optimizer", "GD", "Momentum", "Adam", "Sign", "OPTIMIZERS", "make"]
