"""Send due outbox rows: claim, deliver, record the reply; retry 4xx, fail 5xx.

Rows are claimed before sending so that two daemons never send the same row: PostgreSQL
skips rows another transaction has locked, and SQLite serialises writers.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from mailflow import clock
from mailflow.config import Config
from mailflow.db.models import Outbox
from mailflow.outbound.transport import Delivery, Transport, make_transport

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 600  # a claim outlives any one batch; a crashed sender's rows come back after it
MAX_BACKOFF_SECONDS = 3600


@dataclass
class SendStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0


class RateLimiter:
    """Allow at most ``per_minute`` sends in any 60-second window (Exchange Online: 30)."""

    def __init__(self, per_minute: int, monotonic=time.monotonic, sleep=asyncio.sleep) -> None:
        self.per_minute = per_minute
        self.sent: collections.deque[float] = collections.deque()
        self.monotonic = monotonic
        self.sleep = sleep

    async def acquire(self) -> None:
        while True:
            current = self.monotonic()
            while self.sent and current - self.sent[0] >= 60:
                self.sent.popleft()
            if len(self.sent) < self.per_minute:
                self.sent.append(current)
                return
            await self.sleep(60 - (current - self.sent[0]))


class Sender:
    """Deliver pending outbox rows through one transport, inside an event loop it owns."""

    def __init__(self, config: Config, sessions: sessionmaker[Session], transport: Transport | None = None) -> None:
        self.config = config
        self.sessions = sessions
        self.transport = transport or make_transport(config)
        self.limiter = RateLimiter(config.outbound.rate_per_minute)
        self.holder = f"sender-{uuid.uuid4().hex[:12]}"
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        self.loop.run_until_complete(self.transport.close())
        self.loop.close()

    def run_once(self, limit: int = 500) -> SendStats:
        """Send every row that is due now (up to ``limit``); returns the counts."""
        ids = self._claim(limit)
        if not ids:
            return SendStats()
        return self.loop.run_until_complete(self._send_all(ids))

    def _claim(self, limit: int) -> list[int]:
        current = clock.now()
        with self.sessions() as session, session.begin():
            query = (
                select(Outbox)
                .where(
                    Outbox.status == "pending",
                    Outbox.due_at <= current,
                    or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= current),
                    or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < current),
                )
                .order_by(Outbox.due_at, Outbox.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            rows = list(session.scalars(query))
            for row in rows:
                row.claimed_by = self.holder
                row.claimed_until = current + dt.timedelta(seconds=CLAIM_SECONDS)
            return [row.id for row in rows]

    async def _send_all(self, ids: list[int]) -> SendStats:
        stats = SendStats()
        for row_id in ids:
            with self.sessions() as session:
                row = session.get(Outbox, row_id)
                if row is None or row.status != "pending" or row.claimed_by != self.holder:
                    continue
                recipients, raw, key = list(row.recipients), row.raw or b"", row.key
                label = f"{row_id:06d}-{row.kind}"
                deadline = clock.as_utc(row.deadline_at)
            if deadline is not None and clock.now() > deadline:
                # A mail that could not go out in time (a reminder after its deadline) must not go late.
                self._record(row_id, Delivery(ok=False, reply="送信期限を過ぎたため送信しませんでした"), stats, key)
                continue
            await self.limiter.acquire()
            delivery = await self.transport.deliver(self.config.outbound.from_address, recipients, raw, label)
            self._record(row_id, delivery, stats, key)
        return stats

    def _record(self, row_id: int, delivery: Delivery, stats: SendStats, key: str) -> None:
        current = clock.now()
        with self.sessions() as session, session.begin():
            row = session.get(Outbox, row_id)
            if row is None:
                return
            row.attempts += 1
            row.smtp_code = delivery.code
            row.smtp_reply = delivery.reply[:2000]
            row.claimed_by = None
            row.claimed_until = None
            if delivery.ok:
                row.status = "sent"
                row.sent_at = current
                stats.sent += 1
                logger.info("outbox sent id=%s key=%s code=%s", row_id, key, delivery.code)
                return
            deadline = row.deadline_at or current
            backoff = min(self.config.outbound.retry_initial_seconds * 2 ** (row.attempts - 1), MAX_BACKOFF_SECONDS)
            next_attempt = current + dt.timedelta(seconds=backoff)
            if delivery.temporary and next_attempt <= deadline and row.attempts < self.config.outbound.max_attempts:
                row.next_attempt_at = next_attempt
                row.last_error = delivery.reply[:2000]
                stats.retried += 1
                logger.warning("outbox retry id=%s key=%s code=%s attempt=%s next=%s",
                               row_id, key, delivery.code, row.attempts, next_attempt.isoformat())
                return
            row.status = "failed"
            row.last_error = delivery.reply[:2000]
            stats.failed += 1
            logger.error("outbox failed id=%s key=%s code=%s attempts=%s", row_id, key, delivery.code, row.attempts)
