"""The core never imports a system: systems are found through the registry, by name."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "gradflow"
CORE = sorted(p for p in PACKAGE.glob("*.py"))


def _imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            yield base
            yield from (f"{base}.{a.name}" for a in node.names)


def test_core_modules_do_not_import_systems():
    assert len(CORE) >= 10
    offenders = {p.name: m for p in CORE for m in _imported_modules(p) if "systems" in m}
    assert offenders == {}


def test_importing_the_core_loads_no_system():
    code = ("import sys, gradflow, gradflow.solver, gradflow.cli, gradflow.result, gradflow.plot, "
            "gradflow.derive, gradflow.codegen, gradflow.flows, gradflow.criteria\n"
            "print([m for m in sys.modules if m.startswith('gradflow.systems.')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
