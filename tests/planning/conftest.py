"""Fixtures of this folder: a database on each backend and a test config."""

from tests.planning.database import config, sessions  # noqa: F401  (pytest finds fixtures by name)
