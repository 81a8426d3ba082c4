"""Shared fixtures: the SymPy derivation runs once per test session."""

import pytest


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
