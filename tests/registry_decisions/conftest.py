"""Fixtures for decision effects: one database per backend (SQLite, PostgreSQL), emptied per test."""

from __future__ import annotations

import pytest

from mailflow import clock
from mailflow.db.models import Base
from mailflow.db.session import make_engine, make_session_factory
from tests.review.builders import at, clear_tables, make_services


@pytest.fixture(scope="module")
def engine(db_url):
    engine = make_engine(db_url)
    # The schema comes from the models; tests/db checks that the migrations build the same.
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    session = make_session_factory(engine)()
    clear_tables(session)
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def services(tmp_path):
    return make_services(tmp_path)


@pytest.fixture(autouse=True)
def frozen_clock():
    """Decide on Monday 14 December 2026, 10:00 in Tokyo."""
    clock.set_now(at(2026, 12, 14))
    yield clock.now()
    clock.set_now(None)
