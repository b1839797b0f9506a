"""The sender's bookkeeping: sent, retried on 4xx, failed on 5xx and after the deadline."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from mailflow import clock
from mailflow.config import Config
from mailflow.db import migrate
from mailflow.db.models import Outbox
from mailflow.db.session import make_engine, make_session_factory, transaction
from mailflow.outbound.compose import Draft
from mailflow.outbound.outbox import cancel_pending, enqueue
from mailflow.outbound.sender import RateLimiter, Sender
from mailflow.outbound.transport import Delivery

START = dt.datetime(2026, 12, 4, 0, 0, tzinfo=dt.timezone.utc)


class ScriptedTransport:
    """Answers each delivery with the next scripted result (a fake, for bookkeeping tests)."""

    def __init__(self, results: list[Delivery]) -> None:
        self.results = list(results)
        self.delivered: list[tuple[str, list[str], bytes]] = []

    async def open(self) -> None:
        return None

    async def deliver(self, sender, recipients, raw, label):
        self.delivered.append((sender, recipients, raw))
        return self.results.pop(0)

    async def close(self) -> None:
        return None


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate.upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.set_now(START)
    yield
    clock.set_now(None)


def plan(sessions, config, key="receipt:1:1", address="taro@example.jp"):
    draft = Draft(key=key, to=[("山田 太郎", address)], subject="受付", body="本文")
    with transaction(sessions) as session:
        return enqueue(session, config, draft, kind="receipt").id


def row(sessions, row_id) -> Outbox:
    with sessions() as session:
        return session.get(Outbox, row_id)


def test_sent_row_records_reply(sessions):
    config = Config()
    row_id = plan(sessions, config)
    transport = ScriptedTransport([Delivery(ok=True, code=250, reply="2.0.0 Ok: queued")])
    stats = Sender(config, sessions, transport).run_once()
    result = row(sessions, row_id)
    assert stats.sent == 1
    assert result.status == "sent"
    assert result.smtp_reply == "2.0.0 Ok: queued"
    assert result.sent_at == START
    assert transport.delivered[0][1] == ["taro@example.jp"]


def test_same_key_planned_once(sessions):
    config = Config()
    first = plan(sessions, config)
    second = plan(sessions, config)
    with sessions() as session:
        count = len(list(session.scalars(select(Outbox))))
    assert first == second
    assert count == 1


def test_temporary_failure_retried_later(sessions):
    config = Config()
    row_id = plan(sessions, config)
    transport = ScriptedTransport([Delivery(ok=False, code=451, reply="4.3.0 try later", temporary=True)])
    sender = Sender(config, sessions, transport)
    stats = sender.run_once()
    result = row(sessions, row_id)
    assert stats.retried == 1
    assert result.status == "pending"
    assert result.next_attempt_at == START + dt.timedelta(seconds=config.outbound.retry_initial_seconds)
    assert sender.run_once().sent == 0  # not due yet

    clock.set_now(START + dt.timedelta(minutes=5))
    transport.results.append(Delivery(ok=True, code=250, reply="ok"))
    assert sender.run_once().sent == 1
    assert row(sessions, row_id).attempts == 2


def test_permanent_failure_not_retried(sessions):
    config = Config()
    row_id = plan(sessions, config)
    transport = ScriptedTransport([Delivery(ok=False, code=550, reply="5.1.1 user unknown")])
    stats = Sender(config, sessions, transport).run_once()
    result = row(sessions, row_id)
    assert stats.failed == 1
    assert result.status == "failed"
    assert result.smtp_code == 550
    assert "5.1.1" in result.last_error


def test_temporary_failure_after_deadline_fails(sessions):
    config = Config()
    config.outbound.retry_deadline_hours = 1
    row_id = plan(sessions, config)
    clock.set_now(START + dt.timedelta(minutes=59, seconds=30))
    transport = ScriptedTransport([Delivery(ok=False, code=None, reply="ConnectionRefusedError", temporary=True)])
    Sender(config, sessions, transport).run_once()
    assert row(sessions, row_id).status == "failed"


def test_cancelled_rows_not_sent(sessions):
    config = Config()
    plan(sessions, config)
    transport = ScriptedTransport([])
    with transaction(sessions) as session:
        session.scalars(select(Outbox)).one().status = "cancelled"
    assert Sender(config, sessions, transport).run_once().sent == 0
    assert transport.delivered == []


def test_cancel_pending_needs_target(sessions):
    with transaction(sessions) as session:
        with pytest.raises(ValueError):
            cancel_pending(session, "withdrawn")


def test_rate_limiter_waits_for_window():
    now = [0.0]
    slept: list[float] = []

    async def fake_sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(3, monotonic=lambda: now[0], sleep=fake_sleep)

    async def send(count):
        for _ in range(count):
            await limiter.acquire()
            now[0] += 1

    asyncio.run(send(4))
    assert slept == [57.0]


def test_row_past_deadline_never_sent(sessions):
    config = Config()
    row_id = plan(sessions, config)
    clock.set_now(START + dt.timedelta(hours=config.outbound.retry_deadline_hours, minutes=1))
    transport = ScriptedTransport([])
    stats = Sender(config, sessions, transport).run_once()
    assert transport.delivered == []
    assert stats.failed == 1
    assert row(sessions, row_id).status == "failed"


def test_non_ascii_recipient_planned_as_failed(sessions):
    config = Config()
    row_id = plan(sessions, config, address="やまだ@例え.jp")
    transport = ScriptedTransport([])
    stats = Sender(config, sessions, transport).run_once()
    result = row(sessions, row_id)
    assert transport.delivered == []
    assert stats.sent == 0
    assert result.status == "failed"
    assert "ASCII" in result.last_error
