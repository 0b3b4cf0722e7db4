"""Shared fixtures: the built-in registry and one compiled sample of every standard."""

from __future__ import annotations

import pytest

from mathcamps.compiler.pipeline import StandardCompiler
from mathcamps.registry import default_registry

PER_STANDARD = 200
SEED = 7


@pytest.fixture(scope="session")
def registry():
    return default_registry()


@pytest.fixture(scope="session")
def compiled(registry):
    """200 problems of every built-in standard, with each standard's compiler (for its stats)."""
    out = {}
    for standard in registry:
        compiler = StandardCompiler(standard, SEED)
        out[standard.id] = (list(compiler.problems(PER_STANDARD)), compiler)
    return out


def pytest_generate_tests(metafunc):
    if "standard_id" in metafunc.fixturenames:
        metafunc.parametrize("standard_id", default_registry().ids())
