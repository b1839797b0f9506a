"""Fixtures of this folder: a database on each backend, a test config, and a config file for the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.db import migrate
from mailflow.db.models import Base
from mailflow.db.session import make_engine
from tests.planning.database import config, sessions  # noqa: F401  (pytest finds fixtures by name)


@pytest.fixture
def config_path(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Write a config for an empty, migrated database of each backend and a private data folder."""
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n[paths]\ndata_dir = "{data}"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAILFLOW_CONFIG", raising=False)
    yield path
