"""Receipt batches: the mails of one item that one receipt acknowledges, and when each arrived."""

from __future__ import annotations

import datetime as dt
import email.utils

from mailflow import clock
from mailflow.config import Config
from mailflow.db.models import InboundMessage, ReviewItem
from mailflow.intake.findings import Analysis
from mailflow.intake.message import Message
from mailflow.review import items as review_items


def arrival_time(message: Message) -> dt.datetime | None:
    """Return when the message reached our mailbox: the date of the topmost Received header,
    else its Date header. Clamped to now, so a sender's wrong clock cannot delay receipts."""
    candidates = []
    received = message.header_all("Received")
    if received and ";" in received[0]:
        try:
            candidates.append(email.utils.parsedate_to_datetime(received[0].rsplit(";", 1)[1].strip()))
        except (TypeError, ValueError, IndexError):
            pass
    if message.date is not None:
        candidates.append(message.date)
    current = clock.now()
    for value in candidates:
        if value.tzinfo is not None:
            return min(value.astimezone(dt.timezone.utc), current)
    return None


def add_to_batch(config: Config, item: ReviewItem, inbound: InboundMessage, analysis: Analysis) -> None:
    """Add the message to the item's open receipt batch, or start a new batch.

    Mail that reaches the mailbox within the settle time of the batch's last mail joins
    it. The planner sends one receipt per batch, with the checklist as it stood then.
    """
    settle = dt.timedelta(seconds=config.intake.settle_seconds)
    arrived = arrival_time(analysis.message) or clock.now()
    batches = [dict(batch) for batch in (item.details or {}).get("batches") or []]
    current = batches[-1] if batches else None
    if current is None or arrived - dt.datetime.fromisoformat(current["last_arrival"]) > settle:
        current = {"messages": [], "received": [], "requests": []}
        batches.append(current)
    current["messages"] = review_items.merge_unique(current["messages"], [inbound.id])
    current["received"] = review_items.merge_unique(
        current["received"], [f.role for f in analysis.documents if f.acceptable])
    current["requests"] = review_items.merge_unique(current["requests"], batch_requests(analysis))
    current["unreadable"] = current.get("unreadable", 0) + sum(
        1 for finding in analysis.documents if finding.unreadable and not finding.attachment.encrypted)
    current["reply_to_message_id"] = analysis.message.message_id
    current["last_arrival"] = arrived.isoformat()
    current["checklist"] = dict(item.checklist or {})
    current["by_post"] = list(item.by_post or [])
    item.details = {**(item.details or {}), "batches": batches}
    first_due = dt.datetime.fromisoformat(batches[0]["last_arrival"]) + settle
    item.receipt_due_at = first_due


def batch_requests(analysis: Analysis) -> list[str]:
    """Return what the receipt asks the sender to send again (a masked copy, an unencrypted file)."""
    found = []
    if analysis.remove_parts:
        found.append("masked_identity_document")
    if analysis.encrypted_parts:
        found.append("unencrypted_file")
    return found
