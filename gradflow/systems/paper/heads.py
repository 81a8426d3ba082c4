"""The family's heads in closed form: which members have one, and its value, gradient and Hessian.

With only the head (the previous-token pseudo-parameter, β2, γ3) non-zero, these members of the
family (:mod:`.setting`) have a closed-form loss, each tested against the generic reference-backed
flow (tests/paper/test_family.py; derivations/paper/family.md §4):

* ``"papers"``: labels at their item's position (strict mask, squared error, burst 1, either
  query): the paper's own loss with α3 := α2, on the paper's kernels (:mod:`.reduced`). Under the
  strict mask every member with labels at their item's position is likewise its rotated twin with
  α3 := α2 (cross-entropy on ``"ce"`` / ``"ce_sum"``, burst B on ``"burst"``);
* ``"self"``: ``mask="self"`` (rotated labels, squared error, burst 1, query last): the generated
  ``last3self_*`` of :mod:`.derive`, O(1);
* ``"ce"``: cross-entropy (rotated labels, strict mask, query last): ``last3ce_*``, O(1);
* ``"ce_sum"``: cross-entropy with the uniform query, or with the self mask and either query
  (rotated labels, burst 1): :mod:`.ce_head`, a sum over the query's pair, O(N²) (uniform) or
  O(N) (last);
* ``"burst"``: burst B ≥ 2 (rotated labels, squared error, either mask, either query), and the self
  mask's uniform query at B = 1: :mod:`.burst`, the exact average over every placement of the
  query's item by a recursion over the pairs inside a quadrature, O(N·B) per node (about 41 nodes).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..._differences import central_differences
from . import reduced
from .reduced import NAMES

#: the paper's head, in the order the kernels take it
HEAD = ("alpha3", "beta2", "gamma3")
_HEAD_INDEX = [NAMES.index(n) for n in HEAD]


def closed_form(setting) -> str | None:
    """Which closed form the member's head has (see the module), or None."""
    st, query = setting, setting.query
    if st.paper:
        return None
    if st.labels == "same":
        # under the strict mask the head (α2, β2, γ3) is its rotated twin's (α3, β2, γ3): α2
        # scores a label with its item exactly as α3 does there, so h1, ŷ and either loss agree
        # (derivations/paper/family.md §4); with the self mask α2 also scores each item with itself
        if st.mask != "strict":
            return None
        twin = dataclasses.replace(st, labels="rotated")
        return "papers" if twin.paper else closed_form(twin)
    if st.loss == "mse" and (st.burst > 1 or query == "uniform"):
        return "burst"
    if st.burst != 1:
        return None
    if query == "last":
        if st.loss == "mse" and st.mask == "self":
            return "self"
        if st.loss == "ce" and st.mask == "strict":
            return "ce"
    if st.loss == "ce" and (st.mask == "self" or query == "uniform"):
        return "ce_sum"
    return None


def _numerical(level: str, head3, loss, loss_and_grad):
    """A closed form given as its loss and its exact (𝓛, ∇): the Hessian by central differences
    of that gradient, step 1e-6."""
    if level == "val":
        return loss(head3)
    if level == "jac":
        return loss_and_grad(head3)
    return central_differences(lambda th: loss_and_grad(th)[1], head3, 1e-6)


def evaluate(kind: str, level: str, head3, setting):
    """At the head (α, β2, γ3) of the member ``setting``: 𝓛 (``level="val"``), (𝓛, ∇) (``"jac"``)
    or ∇² (``"hess"``, 3×3). The burst members' and ce_sum's Hessian is the
    central difference of their exact gradient (step 1e-6, error O(1e-12) relative): a Newton
    matrix for implicit methods."""
    head3 = np.ascontiguousarray(head3, dtype=np.float64)
    N, query = setting.N, setting.query
    if kind == "papers":
        full = np.zeros(len(NAMES))
        full[_HEAD_INDEX] = head3
        free = np.array(sorted(_HEAD_INDEX))
        if level == "val":
            return reduced.loss(full, N, query, "exact")
        if level == "jac":
            value, g = reduced.loss_and_grad(full, N, query, free, "exact")
            return value, g[_HEAD_INDEX]
        return reduced.hessian(full, N, query, free, "exact")[np.ix_(_HEAD_INDEX, _HEAD_INDEX)]
    if kind == "burst":
        from . import burst
        return _numerical(level, head3, lambda th: burst.loss(th, N, setting.burst, query, setting.mask),
                          lambda th: burst.loss_and_grad(th, N, setting.burst, query, setting.mask))
    if kind == "ce_sum":
        from . import ce_head
        return _numerical(level, head3, lambda th: ce_head.loss(th, N, query, setting.mask),
                          lambda th: ce_head.loss_and_grad(th, N, query, setting.mask))
    from . import _kernels
    kern = getattr(_kernels, f"last3{kind}_{level}")
    val, jac, hess = np.zeros(1), np.zeros((1, 3)), np.zeros((1, 3, 3))
    if level == "val":
        kern(head3, float(N), val)
        return float(val[0])
    if level == "jac":
        kern(head3, float(N), val, jac)
        return float(val[0]), jac[0]
    kern(head3, float(N), val, jac, hess)
    return hess[0]
