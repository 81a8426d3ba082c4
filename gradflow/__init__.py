"""gradflow: exact gradient flow of induction-head emergence in small transformers.

The core (a system-independent solver, emergence criteria, Result, plot, CLI, code generator)::

    solve(N=64, system="paper", ...) -> Result    integrate a gradient flow, locate emergence
    sweep(runs, store, executor=None) -> rows     many solves, resumable, one JSON file per run
    Result                           trajectory, emergence times, order, stats; save/load/plot
    LossBelow, ParamReaches, Crosses emergence criteria (gradflow.criteria)
    System, available(), register()  the system contract and registry (gradflow.system)
    optimizers                       training rules as flows: solve(..., optimizer="gd" | "momentum" |
                                     "adam" | "sign" | optimizers.Adam(lr=..., eps=...)), t = lr × steps

Systems (one subpackage each under gradflow.systems, imported on first use):

    paper    the seed paper's setting (SPEC-paper.md; Theorem 2), the default
    tokens   one-hot tokens, cross-entropy, no positions (SPEC.md; gradflow's own variant)
    markov   the second paper's n-gram Markov chains and its simplified model (SPEC-markov.md):
             solve(system="markov", schedule="joint"|"staged", population="sample"|"exact"|"stationary")

The tokens system's API stays available here (θ is a length-19 array in ``NAMES`` order)::

    Task(N, K=None, L=None), NAMES, loss(θ, task), grad, hessian, loss_and_grad,
    weights(θ, task), project(W, task), gram_matrix(task), reference, continuum
"""

from __future__ import annotations

import importlib

from . import optimizers
from .criteria import Crosses, LossBelow, ParamReaches
from .result import Result
from .solver import METHODS, solve
from .sweeps import sweep
from .system import System, available, register

__version__ = "0.2.0"

#: names served lazily from the tokens system (imported only when first used)
_TOKENS = {"Task": ".task", "NAMES": ".subspace", "gram_matrix": ".subspace", "weights": ".subspace",
           "project": ".subspace", "loss": ".reduced", "grad": ".reduced", "hessian": ".reduced",
           "loss_and_grad": ".reduced", "reference": "", "continuum": ""}


def __getattr__(name):
    if name in _TOKENS:
        where = _TOKENS[name]
        if where:
            return getattr(importlib.import_module(where, "gradflow.systems.tokens"), name)
        return importlib.import_module(f".{name}", "gradflow.systems.tokens")
    raise AttributeError(f"module 'gradflow' has no attribute {name!r}")


__all__ = ["solve", "sweep", "Result", "METHODS", "optimizers", "LossBelow", "ParamReaches", "Crosses", "System",
           "available", "register", *_TOKENS]
