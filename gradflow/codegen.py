"""SymPy expressions -> Numba kernels: the code generator every system's derivation uses.

:func:`kernel` prints one ``@njit(cache=True)`` function that writes the values of a list of
expressions and, at level ``"jac"`` or ``"hess"``, their first and second derivatives in a list
of variables, after common-subexpression elimination. Only structurally non-zero entries are
written, so the caller passes zeroed output arrays.
"""

from __future__ import annotations

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
