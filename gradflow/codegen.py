"""SymPy expressions -> Numba kernels: the code generator every system's derivation uses.

* :func:`kernel` prints one ``@njit(cache=True)`` function that writes the values of a list of
  closed-form expressions and, at level ``"jac"`` or ``"hess"``, their first and second
  derivatives in a list of variables, after common-subexpression elimination. Only structurally
  non-zero entries are written, so the caller passes zeroed output arrays.
* For a loss that is a sum with a symbolic number of terms (a kernel loops over them),
  :func:`forward` prints the statements that add one summand and its derivatives to running sums:
  SymPy derives the summand's partials in its *primitives* (:class:`Dense` quantities whose
  derivatives live in arrays, :class:`Single` ones that depend on one variable) and the compiled
  helpers of :mod:`gradflow._forward` multiply them into the arrays (second-order forward mode);
  :func:`reverse` prints the first-order reverse-mode statements instead (the partials added to
  the primitives' adjoints, which the kernel carries back). :class:`Chain` differentiates through
  symbols with closed-form derivatives, :func:`block` prints statements after
  common-subexpression elimination, :func:`code` one expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

LEVELS = ("val", "jac", "hess")


class _Printer(PythonCodePrinter):
    def __init__(self):
        super().__init__({"fully_qualified_modules": True, "standard": "python3"})


def kernel(name: str, level: str, exprs, variables, scalars, arr, preamble=None) -> str:
    """Source of the kernel ``{name}_{level}({arr}, *scalars, val[, jac[, hess]])``.

    ``variables`` are read from the array argument ``arr`` by position; ``preamble`` maps extra
    symbols to a line of code that computes them (e.g. the shift of a stable log-sum-exp) and is
    emitted only for the symbols the expressions use."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    n = len(variables)
    targets, outputs = [], []
    for a, e in enumerate(exprs):
        targets.append(f"val[{a}]")
        outputs.append(e)
    if level in ("jac", "hess"):
        for a, e in enumerate(exprs):
            for k, v in enumerate(variables):
                d = sp.diff(e, v)
                if d != 0:
                    targets.append(f"jac[{a}, {k}]")
                    outputs.append(d)
    if level == "hess":
        for a, e in enumerate(exprs):
            for k in range(n):
                dk = sp.diff(e, variables[k])
                for l in range(k, n):
                    d2 = sp.diff(dk, variables[l])
                    if d2 != 0:
                        targets.append(f"hess[{a}, {k}, {l}]" + (f" = hess[{a}, {l}, {k}]" if l != k else ""))
                        outputs.append(d2)
    subs, reduced = sp.cse(outputs, symbols=sp.numbered_symbols("t"))
    printer = _Printer()
    used = set().union(*(e.free_symbols for e in outputs))
    args = [arr] + list(scalars) + ["val"] + (["jac"] if level != "val" else []) + (["hess"] if level == "hess" else [])
    lines = ["", "", "@njit(cache=True)", f"def {name}_{level}({', '.join(args)}):"]
    doc = {"val": "values", "jac": "values and first derivatives", "hess": "values, first and second derivatives"}[level]
    lines.append(f'    """{name}: {doc} (only structurally non-zero entries are written)."""')
    for k, v in enumerate(variables):
        if v in used:
            lines.append(f"    {v} = {arr}[{k}]")
    for sym, code in (preamble or {}).items():
        if sym in used:
            lines.append(f"    {sym} = {code}")
    for sym, e in subs:
        lines.append(f"    {sym} = {printer.doprint(e)}")
    for t, e in zip(targets, reduced):
        lines.append(f"    {t} = {printer.doprint(e)}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Dense:
    """A quantity whose derivatives the kernel holds in arrays ``d`` (n) and ``dd`` (n × n,
    symmetric): a layer-2 score, a running sum. Only the first ``size`` variables may have
    non-zero entries (the products skip the rest)."""
    symbol: sp.Symbol
    d: str
    dd: str
    size: int


@dataclass(frozen=True)
class Single:
    """A quantity that depends on one variable only (index ``index``), with first and second
    derivatives given as code: a layer-1 weight, or a variable itself (``"1.0"``, ``"0.0"``)."""
    symbol: sp.Symbol
    index: int
    d: str
    dd: str


#: the compiled helpers :func:`forward` calls (in :mod:`gradflow._forward`)
FORWARD_HELPERS = ("axpy", "axpy2", "cross", "outer1", "quad2", "quad4")


def forward_import(source: str) -> str:
    """The import line a generated module needs: the helpers its ``source`` calls."""
    used = [h for h in FORWARD_HELPERS if re.search(rf"\b{h}\(", source)]
    return f"from gradflow._forward import {', '.join(used)}" if used else ""


def forward(expr, level: str, primitives, value: str, grad: str, hess: str, prefix: str, indent: int) -> list[str]:
    """Statements that add ``expr`` to ``value`` and, by level, its first and second derivatives to
    the arrays ``grad`` and ``hess``, by the chain rule over ``primitives`` (:class:`Dense` and
    :class:`Single`, every symbol of ``expr`` that depends on the variables):

        ∇e = Σ_u e_u ∇u,   ∇²e = Σ_u e_u ∇²u + Σ_{u,v} e_uv ∇u ∇vᵀ,

    with the partials e_u, e_uv derived by SymPy (common subexpressions shared) and the products
    with the primitives' derivatives done by the compiled helpers of :mod:`gradflow._forward`
    (all dense pairs in one pass over the Hessian, single entries otherwise). Structurally zero
    partials emit nothing."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    used = [p for p in primitives if p.symbol in expr.free_symbols]
    first = {p: sp.diff(expr, p.symbol) for p in used} if level != "val" else {}
    second = {}
    if level == "hess":
        for a_, p in enumerate(used):
            for q in used[a_:]:
                d2 = sp.diff(first[p], q.symbol)
                if d2 != 0:
                    second[p, q] = d2
    coeff = [expr] + [first[p] for p in used if first.get(p, 0) != 0] + list(second.values())
    names = [f"{prefix}c{k}" for k in range(len(coeff))]
    lines = block([(n, "=", e) for n, e in zip(names, coeff)], prefix, indent)
    pad = " " * indent
    out = [f"{pad}{value} += {names[0]}"]
    k = 1
    for p in used:
        if first.get(p, 0) == 0:
            continue
        c = names[k]
        k += 1
        if isinstance(p, Dense):
            out.append(f"{pad}axpy({grad}, {c}, {p.d}, {p.size})")
            if level == "hess":
                out.append(f"{pad}axpy2({hess}, {c}, {p.dd}, {p.size})")
        else:
            out.append(f"{pad}{grad}[{p.index}] += {c} * {p.d}")
            if level == "hess" and p.dd != "0.0":
                out.append(f"{pad}{hess}[{p.index}, {p.index}] += {c} * {p.dd}")
    dense_pairs = {}
    for (p, q), _ in second.items():
        c = names[k]
        k += 1
        if isinstance(p, Dense) and isinstance(q, Dense):
            dense_pairs[p, q] = c
        elif isinstance(p, Dense) or isinstance(q, Dense):
            dense, single = (p, q) if isinstance(p, Dense) else (q, p)
            out.append(f"{pad}cross({hess}, {c} * {single.d}, {dense.d}, {single.index}, {dense.size})")
        elif p == q:
            out.append(f"{pad}{hess}[{p.index}, {p.index}] += {c} * {p.d} * {p.d}")
        else:
            out.append(f"{pad}{hess}[{p.index}, {q.index}] += {c} * {p.d} * {q.d}")
            out.append(f"{pad}{hess}[{q.index}, {p.index}] += {c} * {p.d} * {q.d}")
    out += _dense_products(dense_pairs, hess, pad)
    return lines + out


def _dense_products(pairs: dict, hess: str, pad: str) -> list[str]:
    """Σ_{u,v} e_uv ∇u ∇vᵀ over the dense primitives in one pass over the Hessian (quad2/quad4
    of :mod:`gradflow._forward`; outer1 for one primitive). ``pairs`` maps (u, v), u before v in
    the primitives' order, to the code of e_uv."""
    dense = list(dict.fromkeys(x for pair in pairs for x in pair))
    if not dense:
        return []
    m = max(p.size for p in dense)
    if len(dense) == 1:
        return [f"{pad}outer1({hess}, {pairs[dense[0], dense[0]]}, {dense[0].d}, {m})"]
    if len(dense) > 4:
        raise ValueError(f"at most 4 dense primitives in one expression's second derivatives, got {len(dense)}")
    k = 2 if len(dense) == 2 else 4
    padded = dense + [dense[0]] * (k - len(dense))           # a repeated vector with zero coefficients

    def coeff(a, b):
        if a >= len(dense) or b >= len(dense):
            return "0.0"
        return pairs.get((dense[a], dense[b])) or pairs.get((dense[b], dense[a])) or "0.0"
    cs = [coeff(a, b) for a in range(k) for b in range(a, k)]
    return [f"{pad}quad{k}({hess}, {', '.join(cs)}, {', '.join(p.d for p in padded)}, {m})"]


def reverse(expr, primitives, value, grad: str, adjoints: dict, prefix: str, indent: int,
            weight: str = "", also=(), substitute=None) -> list[str]:
    """Statements that add ``expr`` to ``value`` (None: not wanted) and its partial derivatives,
    times the upstream adjoint ``weight`` (code; "" for 1), to the adjoints of its primitives (first
    order, reverse mode): to ``adjoints[symbol]`` (a code target) for a :class:`Dense` primitive,
    to ``grad[index]`` times the primitive's derivative for a :class:`Single` one; the kernel then
    carries each dense adjoint back through that primitive's own derivatives. ``also``: more
    (target, op, expression) assignments computed with the same common subexpressions and
    written last. ``substitute``: replacements applied after differentiation (e.g. a stored
    e^{s − top} for the exponential). Structurally zero partials emit nothing."""
    used = [p for p in primitives if p.symbol in expr.free_symbols]
    first = [(p, sp.diff(expr, p.symbol)) for p in used]
    first = [(p, d) for p, d in first if d != 0]
    exprs = ([expr] if value is not None else []) + [d for _, d in first] + [e for _, _, e in also]
    if substitute:
        exprs = [sp.sympify(e).subs(substitute) for e in exprs]
    names = [f"{prefix}c{k}" for k in range(len(exprs))]
    lines = block([(n, "=", e) for n, e in zip(names, exprs)], prefix, indent)
    pad = " " * indent
    out, k = [], 0
    if value is not None:
        out.append(f"{pad}{value} += {names[0]}")
        k = 1
    scale = f"{weight} * " if weight else ""
    for p, _ in first:
        c = names[k]
        k += 1
        if isinstance(p, Dense):
            out.append(f"{pad}{adjoints[p.symbol]} += {scale}{c}")
        else:
            out.append(f"{pad}{grad}[{p.index}] += {scale}{c} * {p.d}")
    out += [f"{pad}{target} {op} {name}" for (target, op, _), name in zip(also, names[k:])]
    return lines + out


class Chain:
    """Total derivatives in ``variables`` of expressions that also contain *known* symbols: a
    symbol standing for a function of the variables whose first derivatives are given as
    expressions closed under differentiation (e.g. a softmax weight a with ∂a/∂α = a(1 − a)). The
    kernels compute such a symbol once and SymPy never expands it."""

    def __init__(self, variables, known=None):
        self.variables = tuple(variables)
        self.known = {s: dict(rule) for s, rule in (known or {}).items()}

    def diff(self, expr, i: int):
        """d expr / d variables[i], through every known symbol."""
        v = self.variables[i]
        out = sp.diff(expr, v)
        free = expr.free_symbols
        for s, rule in self.known.items():
            if s in free and v in rule:
                out += sp.diff(expr, s) * rule[v]
        return out


def block(assignments, prefix: str, indent: int) -> list[str]:
    """Lines of code for ``assignments`` (target, operator, expression), e.g. ``("g[3]", "+=", e)``,
    after common-subexpression elimination (temporaries named ``{prefix}0, {prefix}1, …``). Every
    temporary is computed first, then the targets are written in order: an expression may read a
    target that is written later in the list, never one written earlier."""
    subs, reduced = sp.cse([e for _, _, e in assignments], symbols=sp.numbered_symbols(prefix))
    printer = _Printer()
    pad = " " * indent
    lines = [f"{pad}{s} = {printer.doprint(e)}" for s, e in subs]
    return lines + [f"{pad}{t} {op} {printer.doprint(v)}" for (t, op, _), v in zip(assignments, reduced)]


def code(expr) -> str:
    """One expression as Python code (no common-subexpression elimination)."""
    return _Printer().doprint(expr)
