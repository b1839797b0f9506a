"""Shared pytest fixtures: paths to the copied test inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.servers"]

FIXTURES = Path(__file__).parent / "fixtures"
CASES = FIXTURES / "cases"
SAMPLE = FIXTURES / "sample"


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
