"""Write outgoing mail as outbox rows; planning the same key twice returns the first row."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.config import Config
from mailflow.db.models import Outbox
from mailflow.outbound.compose import Draft, build_message, make_message_id, to_bytes

logger = logging.getLogger(__name__)


def enqueue(
    session: Session,
    config: Config,
    draft: Draft,
    kind: str,
    *,
    item_id: int | None = None,
    mentor_id: int | None = None,
    event_id: int | None = None,
    due_at: dt.datetime | None = None,
    deadline_at: dt.datetime | None = None,
) -> Outbox:
    """Render ``draft`` into a pending outbox row, unless a row with its key exists.

    Returns the new row, or the existing one when the key was planned before (by this or
    another daemon), so callers may plan freely. A recipient address outside ASCII would
    need SMTPUTF8, which the sender does not use: such a row is planned as failed, so that
    it shows among the failed mailings in the staff digest.
    """
    existing = session.scalar(select(Outbox).where(Outbox.key == draft.key))
    if existing is not None:
        return existing

    domain = config.outbound.from_address.rpartition("@")[2]
    message_id = make_message_id(draft.key, domain)
    sender = (config.outbound.from_name, config.outbound.from_address)
    raw = to_bytes(build_message(draft, sender, origin=instance_name(config), message_id=message_id))
    due = due_at or clock.now()
    row = Outbox(
        key=draft.key,
        kind=kind,
        status="pending",
        recipients=[address for _name, address in draft.to],
        subject=draft.subject,
        message_id=message_id,
        raw=raw,
        item_id=item_id,
        mentor_id=mentor_id,
        event_id=event_id,
        due_at=due,
        deadline_at=deadline_at or due + dt.timedelta(hours=config.outbound.retry_deadline_hours),
        next_attempt_at=due,
    )
    if not all(address.isascii() for address in row.recipients):
        row.status = "failed"
        row.next_attempt_at = None
        row.last_error = "recipient address is not ASCII; SMTPUTF8 is not supported"
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Another daemon planned the same key between our SELECT and INSERT.
        return session.scalars(select(Outbox).where(Outbox.key == draft.key)).one()
    logger.info("outbox planned key=%s kind=%s id=%s", draft.key, kind, row.id)
    return row


def cancel_pending(session: Session, reason: str, *, mentor_id: int | None = None,
                   item_id: int | None = None) -> int:
    """Cancel every pending mail for a mentor or an item; returns how many were cancelled."""
    conditions = [Outbox.status == "pending"]
    if mentor_id is not None:
        conditions.append(Outbox.mentor_id == mentor_id)
    if item_id is not None:
        conditions.append(Outbox.item_id == item_id)
    if len(conditions) == 1:
        raise ValueError("cancel_pending needs a mentor_id or an item_id")
    result = session.execute(
        update(Outbox).where(*conditions).values(status="cancelled", last_error=reason)
    )
    return result.rowcount or 0


def instance_name(config: Config) -> str:
    """Return the value of our marker header: the intake mailbox, which is not personal data."""
    return config.bureau.intake_address
