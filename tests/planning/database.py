"""Database and config fixtures shared by the planning, registry and simulation tests.

The schema comes from the models, so these tests do not depend on the migration that
goes with a model change; tests/db checks that the migrations match the models.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from mailflow.config import Config
from mailflow.db.models import Base, Mentor
from mailflow.db.session import make_engine, make_session_factory, transaction

STAFF_ADDRESS = "staff@bureau.example.jp"


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    """Return a session factory on an empty database of each backend (the rows of earlier tests removed)."""
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """Return the default config with a staff address and the data folder in ``tmp_path``."""
    config = Config()
    config.paths.data_dir = str(tmp_path / "data")
    config.bureau.staff_addresses = [STAFF_ADDRESS]
    return config


def run_together(*calls: Callable[[], object]) -> list[object]:
    """Run ``calls`` in threads released at the same moment, as several daemons would; return their results.

    An exception in any call is raised again here, after every thread has ended.
    """
    start = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = calls[index]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def add_mentor(sessions: sessionmaker[Session], number: str, expires_on: dt.date | None, **values) -> int:
    """Insert an active mentor and return its id; without an expiry date, pass ``registered_on``."""
    with transaction(sessions) as session:
        mentor = Mentor(
            registration_number=values.pop("registration_number", number),
            name=values.pop("name", f"テスト {number}"),
            email=values.pop("email", f"{number.lower()}@example.jp"),
            registered_on=values.pop("registered_on", None) or dt.date(expires_on.year - 4, 4, 1),
            expires_on=expires_on,
            status=values.pop("status", "active"),
            **values,
        )
        session.add(mentor)
        session.flush()
        return mentor.id
