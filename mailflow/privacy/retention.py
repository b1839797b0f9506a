"""Retention: which documents and raw mails the ``[privacy]`` settings make due, and the purge run.

Identity documents are purged ``identity_retention_days`` after their item's decision
(``ReviewItem.decided_at``); 0 purges them at the first run after the decision, and no
setting keeps them for good. Other documents follow ``document_retention_days`` and
raw mails ``raw_retention_days``, where 0 keeps them. A raw mail that belongs to an item
counts from the decision, any other (auto-replies, bounces, staff replies without an
item) from its receipt. Documents and mail of items still open are never due, and
quarantined or failed mail waits for a person.

Every run recomputes what is due from the database, so a missed day is caught up by the
next run and running twice purges nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from mailflow import clock
from mailflow.config import Config, PrivacyConfig
from mailflow.db.models import AuditEntry, Document, InboundMessage, ReviewItem
from mailflow.db.session import transaction
from mailflow.errors import MailflowError
from mailflow.privacy.purge import DOCUMENT_RETENTION, IDENTITY_RETENTION, purge_documents
from mailflow.privacy.stored_mail import replace_stored_raw
from mailflow.storage import DocumentStore

logger = logging.getLogger(__name__)

IDENTITY_ROLE = "identity_document"
RAW_RETENTION = "raw_retention"
# Raw mail in these states was handled; quarantined or failed mail still needs a person.
HANDLED_STATES = ("processed", "auto")


@dataclass(frozen=True)
class RetentionPolicy:
    """Days after which content is purged; None keeps it. Build it with :meth:`from_config`."""

    identity_days: int
    document_days: int | None
    raw_days: int | None

    @classmethod
    def from_config(cls, privacy: PrivacyConfig) -> RetentionPolicy:
        """Read ``[privacy]``: 0 means "keep" for documents and raw mail, "at once" for identity documents."""
        return cls(
            identity_days=privacy.identity_retention_days,
            document_days=privacy.document_retention_days or None,
            raw_days=privacy.raw_retention_days or None,
        )


@dataclass(frozen=True)
class DueDocument:
    """A stored document whose retention ended at ``due_at``, with the purge reason."""

    document_id: int
    inbound_id: int | None
    item_id: int
    item_number: str | None
    role: str
    reason: str
    due_at: dt.datetime


@dataclass(frozen=True)
class DueMessage:
    """A stored raw mail whose retention ended at ``due_at``."""

    inbound_id: int
    item_id: int | None
    due_at: dt.datetime


@dataclass
class RetentionReport:
    """Ids found due and purged by one run; a dry run purges nothing."""

    dry_run: bool
    due_documents: list[DueDocument] = field(default_factory=list)
    due_messages: list[DueMessage] = field(default_factory=list)
    purged_documents: list[int] = field(default_factory=list)
    purged_messages: list[int] = field(default_factory=list)
    failed_documents: list[int] = field(default_factory=list)
    failed_messages: list[int] = field(default_factory=list)


def due_documents(session: Session, policy: RetentionPolicy, now: dt.datetime) -> list[DueDocument]:
    """Return the documents to purge whose retention ended at or before ``now``, oldest first."""
    query = (
        select(Document.id, Document.inbound_message_id, Document.item_id, Document.role,
               ReviewItem.number, ReviewItem.decided_at)
        .join(ReviewItem, Document.item_id == ReviewItem.id)
        .where(_not_purged_completely(), ReviewItem.decided_at.is_not(None))
        .order_by(Document.id)
    )
    due = []
    for document_id, inbound_id, item_id, role, number, decided_at in session.execute(query):
        identity = role == IDENTITY_ROLE
        days = policy.identity_days if identity else policy.document_days
        if days is None:
            continue
        due_at = clock.as_utc(decided_at) + dt.timedelta(days=days)
        if due_at <= now:
            reason = IDENTITY_RETENTION if identity else DOCUMENT_RETENTION
            due.append(DueDocument(document_id, inbound_id, item_id, number, role, reason, due_at))
    return sorted(due, key=lambda entry: entry.due_at)


def _not_purged_completely():
    """Condition for a document still to purge: not purged, or purged at intake with its name kept.

    A document with an individual number is never stored, but its row keeps the file
    name for staff until its retention ends like any other.
    """
    return or_(Document.purged_at.is_(None), Document.filename.is_not(None), Document.sha256 != "")


def due_messages(session: Session, policy: RetentionPolicy, now: dt.datetime) -> list[DueMessage]:
    """Return the handled raw mails not deleted yet whose retention ended at or before ``now``."""
    if policy.raw_days is None:
        return []
    query = (
        select(InboundMessage.id, InboundMessage.item_id, InboundMessage.received_at, ReviewItem.decided_at)
        .outerjoin(ReviewItem, InboundMessage.item_id == ReviewItem.id)
        .where(InboundMessage.raw_purged_at.is_(None), InboundMessage.state.in_(HANDLED_STATES))
        .order_by(InboundMessage.id)
    )
    due = []
    for inbound_id, item_id, received_at, decided_at in session.execute(query):
        start = decided_at if item_id is not None else received_at
        if start is None:
            continue
        due_at = clock.as_utc(start) + dt.timedelta(days=policy.raw_days)
        if due_at <= now:
            due.append(DueMessage(inbound_id, item_id, due_at))
    return due


def run_retention(sessions: sessionmaker[Session], store: DocumentStore, key: bytes | None,
                  policy: RetentionPolicy, now: dt.datetime, dry_run: bool = False,
                  actor: str = "mailflow", outbox_dir: Path | None = None) -> RetentionReport:
    """Purge what ``policy`` makes due at ``now``; with ``dry_run`` only report it.

    Documents are purged per received mail and raw mails one by one, each in its own
    transaction, so one that fails (an undecryptable mail, a store error) is logged,
    listed in the report and tried again by the next run. The mailbox copies follow at
    the watcher's next intake pass. ``outbox_dir`` is the file transport's folder, whose
    .eml copies of staff mails lose the purged documents too (see
    :func:`mailflow.privacy.purge.strip_outbox`).
    """
    with transaction(sessions) as session:
        report = RetentionReport(dry_run, due_documents(session, policy, now), due_messages(session, policy, now))
    if dry_run:
        return report
    by_message: dict[int | None, list[DueDocument]] = defaultdict(list)
    for entry in report.due_documents:
        by_message[entry.inbound_id].append(entry)
    for entries in by_message.values():
        _purge_group(sessions, store, key, entries, actor, report, outbox_dir)
    for entry in report.due_messages:
        _purge_raw(sessions, key, entry, actor, report)
    logger.info("retention run documents=%d messages=%d failed=%d", len(report.purged_documents),
                len(report.purged_messages), len(report.failed_documents) + len(report.failed_messages))
    return report


def apply_retention(sessions: sessionmaker[Session], config: Config, store: DocumentStore, key: bytes | None,
                    now: dt.datetime) -> RetentionReport:
    """Run the retention purge for the daemon's daily job, with the policy of ``config``."""
    return run_retention(sessions, store, key, RetentionPolicy.from_config(config.privacy), now,
                         outbox_dir=outbox_folder(config))


def outbox_folder(config: Config) -> Path | None:
    """Return the folder where the file transport writes .eml files, or None when mail goes out by SMTP."""
    return config.resolve(config.outbound.directory) if config.outbound.type == "files" else None


def _purge_group(sessions: sessionmaker[Session], store: DocumentStore, key: bytes | None,
                 entries: list[DueDocument], actor: str, report: RetentionReport, outbox_dir: Path | None) -> None:
    """Purge the due documents of one received mail in one transaction."""
    ids = [entry.document_id for entry in entries]
    reasons = {entry.document_id: entry.reason for entry in entries}
    try:
        with transaction(sessions) as session:
            # Another daemon may purge the same documents, so rows it locked or purged are skipped.
            query = select(Document).where(Document.id.in_(ids), _not_purged_completely())
            documents = list(session.scalars(query.with_for_update(skip_locked=True)))
            for reason in sorted({reasons[document.id] for document in documents}):
                chosen = [document for document in documents if reasons[document.id] == reason]
                purge_documents(session, store, chosen, reason, actor, key, outbox_dir)
            report.purged_documents.extend(document.id for document in documents)
    except MailflowError as exc:
        report.failed_documents.extend(ids)
        logger.error("retention purge failed documents=%s error=%s", ",".join(map(str, ids)), type(exc).__name__)


def _purge_raw(sessions: sessionmaker[Session], key: bytes | None, entry: DueMessage, actor: str,
               report: RetentionReport) -> None:
    try:
        with transaction(sessions) as session:
            query = select(InboundMessage).where(InboundMessage.id == entry.inbound_id,
                                                 InboundMessage.raw_purged_at.is_(None))
            inbound = session.scalar(query.with_for_update(skip_locked=True))
            if inbound is None:
                return
            replace_stored_raw(inbound, None, key)
            session.add(AuditEntry(item_id=inbound.item_id, actor=actor, action="raw_purged",
                                   source_message_id=inbound.message_id,
                                   detail={"inbound_id": inbound.id, "reason": RAW_RETENTION}))
            report.purged_messages.append(inbound.id)
    except MailflowError as exc:
        report.failed_messages.append(entry.inbound_id)
        logger.error("retention raw purge failed inbound=%s error=%s", entry.inbound_id, type(exc).__name__)
        return
    logger.info("raw mail purged inbound=%s reason=%s", entry.inbound_id, RAW_RETENTION)
