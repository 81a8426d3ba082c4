"""Shared fixtures: the SymPy derivation runs once per test session (per xdist worker)."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))      # shared helpers: tests/readme_block.py

# Under pytest-xdist (-n 2) the workers already use both cores: one kernel thread each, so that no
# two thread pools compete (a test that sets its own thread count still does).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("GRADFLOW_THREADS", "1")
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):   # NumPy's BLAS too
        os.environ.setdefault(_var, "1")


@pytest.fixture(scope="session")
def generated():
    """Every generated file's text, {path: text} (python -m gradflow.derive, in memory)."""
    from gradflow import derive
    return derive.generate()


@pytest.fixture
def cached_derive(generated, monkeypatch):
    """gradflow.derive with its generator answering from the session's derivation."""
    from gradflow import derive
    monkeypatch.setattr(derive, "generate", lambda names=None: dict(generated))
    return derive
