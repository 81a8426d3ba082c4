"""gradflow: exact gradient flow of induction-head emergence in a small transformer.

Public API (θ is a length-19 array in ``NAMES`` order)::

    Task(N, K=None, L=None)          the task of SPEC §1 (defaults K = N, L = N + 1)
    NAMES                            the 19 pseudo-parameters (alpha1 … gamma3)
    loss(θ, task), grad(θ, task), hessian(θ, task)
                                     exact reduced population loss and its derivatives
    weights(θ, task) -> (W1, W2, W3) dense weights of the full transformer
    project(W, task) -> (θ, off)     back to θ, with the relative off-subspace norm
    gram_matrix(task)                G = Bᵀ B, the metric of the weight flow
    solve(N=64, ...) -> Result       integrate a gradient flow, detect emergence (SPEC §5, §6)
    Result                           trajectory, emergence times, order, stats; save/load/plot
    reference                        the full-weight NumPy transformer (ground truth)
    continuum                        the large-N limit of the 3-parameter flow (τ = t/N²)
"""

from . import continuum, reference
from .result import Result
from .reduced import grad, hessian, loss, loss_and_grad
from .subspace import NAMES, gram_matrix, project, weights
from .solver import solve
from .task import Task

__all__ = ["Task", "NAMES", "loss", "grad", "hessian", "loss_and_grad", "weights", "project",
           "gram_matrix", "reference", "continuum", "solve", "Result"]
