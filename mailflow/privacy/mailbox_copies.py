"""Bring the copies in the mailbox folders in line with the stored raw mail after a purge.

The daemon moves each handled mail into a mailflow folder (processed, quarantine, auto).
When a purge later changes the stored raw (a document's part removed, or the whole raw
deleted), that copy would still hold what the database lost. So every purge marks the
message (``InboundMessage.mailbox_update_due``) and :func:`sync_mailbox_copies`, which
the watcher thread runs after each intake pass, replaces the copy by the stored raw, or
deletes it when the raw was deleted. The copy is found by Message-ID and identified by
the digest of its bytes, so a different message that reuses the Message-ID is never
touched. Each replacement or deletion is audited.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailflow.db.models import AuditEntry, InboundMessage
from mailflow.db.session import transaction
from mailflow.errors import MailflowError
from mailflow.mailbox.base import Folder, FolderCopy, MailboxSource
from mailflow.privacy.stored_mail import mailbox_digest, stored_raw

logger = logging.getLogger(__name__)

FOLDERS = {"processed": Folder.PROCESSED, "quarantine": Folder.QUARANTINE, "auto": Folder.AUTO}
SYNC_BATCH = 50
"""Maximum number of messages brought in line per call, so one intake pass stays short."""


@dataclass
class SyncReport:
    """Message ids by outcome of one :func:`sync_mailbox_copies` call."""

    replaced: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    current: list[int] = field(default_factory=list)
    not_found: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def pending_count(session: Session) -> int:
    """Return how many messages wait for their mailbox copy to be replaced or deleted."""
    return len(session.scalars(select(InboundMessage.id).where(InboundMessage.mailbox_update_due.is_(True))).all())


def sync_mailbox_copies(sessions: sessionmaker[Session], source: MailboxSource, key: bytes | None,
                        limit: int = SYNC_BATCH) -> SyncReport:
    """Replace or delete the mailbox copy of each message marked by a purge, up to ``limit`` messages.

    A message not moved out of the inbox yet waits, because the intake pass moves it
    first. One message that fails (the mailbox is unreachable, the stored mail cannot be
    decrypted) is logged and tried again on the next call.
    """
    report = SyncReport()
    with transaction(sessions) as session:
        query = select(InboundMessage.id).where(InboundMessage.mailbox_update_due.is_(True),
                                                InboundMessage.moved_at.is_not(None))
        message_ids = list(session.scalars(query.order_by(InboundMessage.id).limit(limit)))
    for message_id in message_ids:
        try:
            with transaction(sessions) as session:
                inbound = session.get(InboundMessage, message_id)
                if inbound is not None and inbound.mailbox_update_due:
                    outcome = _sync_one(session, source, inbound, key)
                    getattr(report, outcome).append(message_id)
        except MailflowError as exc:
            report.failed.append(message_id)
            logger.error("mailbox copy update failed inbound=%s error=%s", message_id, type(exc).__name__)
    return report


def _sync_one(session: Session, source: MailboxSource, inbound: InboundMessage, key: bytes | None) -> str:
    """Update the copy of one message and return the outcome name (a SyncReport field)."""
    current = stored_raw(inbound, key)
    folder = FOLDERS.get(inbound.folder or "", Folder.QUARANTINE)
    copies = source.find_copies(folder, inbound.message_id) if inbound.message_id else []
    stale = [copy for copy in copies if _is_previous_copy(inbound, copy)]
    if stale:
        for copy in stale:
            source.replace_copy(folder, copy, current)
        outcome = "replaced" if current is not None else "deleted"
    elif current is not None and any(mailbox_digest(copy.raw) == mailbox_digest(current) for copy in copies):
        outcome = "current"
    else:
        outcome = "not_found"
    inbound.mailbox_update_due = False
    inbound.mailbox_sha256 = mailbox_digest(current) if current is not None else None
    if outcome == "not_found":
        logger.warning("mailbox copy not found inbound=%s folder=%s candidates=%d",
                       inbound.id, folder.value, len(copies))
    session.add(AuditEntry(
        item_id=inbound.item_id, actor="mailflow", action=f"mailbox_copy_{outcome}",
        outcome="applied" if outcome != "not_found" else "skipped", source_message_id=inbound.message_id,
        detail={"inbound_id": inbound.id, "folder": folder.value, "copies": len(stale)},
    ))
    logger.info("mailbox copy %s inbound=%s folder=%s copies=%d", outcome, inbound.id, folder.value, len(stale))
    return outcome


def _is_previous_copy(inbound: InboundMessage, copy: FolderCopy) -> bool:
    """Return True when ``copy`` contains the bytes the folder had before the purge."""
    if inbound.mailbox_sha256 is not None:
        return mailbox_digest(copy.raw) == inbound.mailbox_sha256
    # Moved after the purge, so the folder contains the original as received.
    return hashlib.sha256(copy.raw).hexdigest() == inbound.raw_sha256 or \
        mailbox_digest(copy.raw) == inbound.raw_sha256
