"""Fixtures for review tests: a migrated SQLite database and services on temporary folders."""

from __future__ import annotations

import pytest

from mailflow import clock
from mailflow.db.models import Base
from mailflow.commands.decide import open_sessions
from mailflow.db.session import make_engine, make_session_factory, transaction
from tests.review.builders import make_item, make_services


@pytest.fixture
def services(tmp_path):
    return make_services(tmp_path)


@pytest.fixture
def session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'mailflow.db'}")
    # The schema comes from the models; tests/db checks that the migrations build the same.
    Base.metadata.create_all(engine)
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


@pytest.fixture
def frozen_clock():
    clock.set_now(clock.now().replace(year=2026, month=12, day=14, hour=1, minute=0, second=0, microsecond=0))
    yield clock.now()
    clock.set_now(None)


@pytest.fixture
def cli(tmp_path):
    """Return (services, session factory, receipt number) of one ready registration in a file database."""
    services = make_services(tmp_path)
    services.config.database.url = f"sqlite:///{tmp_path / 'mailflow.db'}"
    sessions = open_sessions(services.config)
    with transaction(sessions) as session:
        number = make_item(session, services).number
    return services, sessions, number
