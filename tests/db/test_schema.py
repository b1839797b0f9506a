"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

from mailflow.db import migrate
from mailflow.db.models import Base, InboundMessage, Outbox
from mailflow.db.session import make_engine, make_session_factory, transaction


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def test_migrations_match_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrade_twice_is_noop(engine):
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_timestamps_come_back_aware_utc(engine):
    factory = make_session_factory(engine)
    tokyo = dt.timezone(dt.timedelta(hours=9))
    sent = dt.datetime(2026, 12, 1, 9, 30, tzinfo=tokyo)
    with transaction(factory) as session:
        session.add(Outbox(key="test:1", kind="receipt", message_id="<a@b>", due_at=sent))
    with transaction(factory) as session:
        row = session.scalars(select(Outbox).where(Outbox.key == "test:1")).one()
    assert row.due_at.tzinfo is not None
    assert row.due_at.utcoffset() == dt.timedelta(0)
    assert row.due_at == sent
    assert row.created_at.tzinfo is not None


def test_naive_datetime_rejected(engine):
    factory = make_session_factory(engine)
    with pytest.raises(Exception, match="naive datetime"):
        with transaction(factory) as session:
            session.add(Outbox(key="test:2", kind="receipt", message_id="<c@d>",
                               due_at=dt.datetime(2026, 12, 1, 9, 30)))


def test_unique_raw_digest(engine):
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        session.add(InboundMessage(source="s", raw_sha256="0" * 64, raw=b"x", size=1))
    with pytest.raises(Exception):
        with transaction(factory) as session:
            session.add(InboundMessage(source="s", raw_sha256="0" * 64, raw=b"y", size=1))


def test_sqlite_uses_wal(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        mode = connection.execute(text("PRAGMA journal_mode")).scalar()
        timeout = connection.execute(text("PRAGMA busy_timeout")).scalar()
    assert mode == "wal"
    assert timeout == 30000
