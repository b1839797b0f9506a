"""SQLAlchemy models: every table mailflow keeps.

Personal data lives only in the columns that need it (review items, documents, the
registry, the raw mail and the outbox). Logs refer to rows by id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from mailflow.clock import now
from mailflow.db.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, dt.datetime: UTCDateTime}


class InboundMessage(Base):
    """One received mail: its raw bytes (possibly redacted or purged) and what became of it.

    ``state``: stored (committed, not analysed yet) → processed | quarantined | auto |
    failed (analysis raised; re-run with ``mailflow queue retry``). ``moved_at`` is set once
    the mailbox confirmed the move out of the inbox. ``raw`` is None once retention or an
    erasure deleted it (``raw_purged_at``). ``mailbox_update_due`` is set when a purge
    changed the stored raw, so the copy in the mailbox folder must be replaced by it (or
    deleted, when ``raw`` is None); ``mailbox_sha256`` identifies that copy (SHA-256 of
    its bytes with CRLF line ends).
    """

    __tablename__ = "inbound_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(300))
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    raw_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    raw_encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    redacted: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[dt.datetime] = mapped_column(default=now)
    state: Mapped[str] = mapped_column(String(20), default="stored", index=True)
    folder: Mapped[str | None] = mapped_column(String(20))
    moved_at: Mapped[dt.datetime | None]
    kind: Mapped[str | None] = mapped_column(String(30))
    decision: Mapped[str | None] = mapped_column(String(30))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    defects: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sender_address: Mapped[str | None] = mapped_column(String(320), index=True)
    subject: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None]
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[Any]] = mapped_column(default=list)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("review_item.id"), index=True)
    processed_at: Mapped[dt.datetime | None]
    raw_purged_at: Mapped[dt.datetime | None]
    mailbox_sha256: Mapped[str | None] = mapped_column(String(64))
    mailbox_update_due: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class MailboxEntry(Base):
    """Where a stored message was seen: (source, UIDVALIDITY, UID) or a Maildir key."""

    __tablename__ = "mailbox_entry"
    __table_args__ = (UniqueConstraint("source", "uidvalidity", "uid_key", name="uq_mailbox_entry_location"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(300))
    uidvalidity: Mapped[int] = mapped_column(BigInteger, default=0)
    uid_key: Mapped[str] = mapped_column(String(300))
    message_id: Mapped[int] = mapped_column(ForeignKey("inbound_message.id"), index=True)
    seen_at: Mapped[dt.datetime] = mapped_column(default=now)


class ReviewItem(Base):
    """One application, notice or inquiry waiting for staff, with its checklist."""

    __tablename__ = "review_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    sender_address: Mapped[str | None] = mapped_column(String(320), index=True)
    sender_name: Mapped[str | None] = mapped_column(String(200))
    applicant_name: Mapped[str | None] = mapped_column(String(200))
    applicant_email: Mapped[str | None] = mapped_column(String(320))
    mentor_id: Mapped[int | None] = mapped_column(ForeignKey("mentor.id"), index=True)
    form_values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    checklist: Mapped[dict[str, Any]] = mapped_column(default=dict)
    by_post: Mapped[list[Any]] = mapped_column(default=list)
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    manual_checks: Mapped[list[Any]] = mapped_column(default=list)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    thread_ids: Mapped[list[Any]] = mapped_column(default=list)
    token: Mapped[str | None] = mapped_column(String(20), unique=True)
    token_expires_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)
    complete_at: Mapped[dt.datetime | None]
    receipt_due_at: Mapped[dt.datetime | None]
    notified_state: Mapped[str | None] = mapped_column(String(20))
    decided_at: Mapped[dt.datetime | None]
    decision: Mapped[str | None] = mapped_column(String(20))
    decision_reason: Mapped[str | None] = mapped_column(Text)

    documents: Mapped[list[Document]] = relationship(back_populates="item", order_by="Document.id")


class Document(Base):
    """A file received for an item; ``storage_id`` is None once the content was purged."""

    __tablename__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("review_item.id"), index=True)
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_message.id"), index=True)
    part_id: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(30))
    filename: Mapped[str | None] = mapped_column(String(500))
    content_type: Mapped[str | None] = mapped_column(String(200))
    sniffed_type: Mapped[str | None] = mapped_column(String(30))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_id: Mapped[str | None] = mapped_column(String(200))
    kept: Mapped[bool] = mapped_column(Boolean, default=True)
    identity_type: Mapped[str | None] = mapped_column(String(40))
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[list[Any]] = mapped_column(default=list)
    held_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    purged_at: Mapped[dt.datetime | None]
    purge_reason: Mapped[str | None] = mapped_column(String(200))

    item: Mapped[ReviewItem | None] = relationship(back_populates="documents")


class Outbox(Base):
    """One outgoing mail. ``key`` says why it exists and makes planning it twice harmless.

    ``status``: pending → sent | failed | cancelled. ``raw`` is the rendered message, so a
    retry sends the same bytes with the same Message-ID.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(50), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(998))
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("review_item.id"), index=True)
    mentor_id: Mapped[int | None] = mapped_column(ForeignKey("mentor.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id"), index=True)
    due_at: Mapped[dt.datetime] = mapped_column(default=now)
    deadline_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[dt.datetime | None]
    smtp_code: Mapped[int | None] = mapped_column(Integer)
    smtp_reply: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    sent_at: Mapped[dt.datetime | None]


class Mentor(Base):
    """A registered management mentor (the registry, MMDB)."""

    __tablename__ = "mentor"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kana: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    mobile: Mapped[str | None] = mapped_column(String(40))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    address: Mapped[str | None] = mapped_column(Text)
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(20))
    fields: Mapped[list[Any]] = mapped_column(default=list)
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[dt.datetime | None]
    registered_on: Mapped[dt.date | None] = mapped_column(Date)
    expires_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    email_bouncing: Mapped[bool] = mapped_column(Boolean, default=False)
    bounce_status: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)


class MentorHistory(Base):
    """One change to a registry entry: which fields went from what to what, and why."""

    __tablename__ = "mentor_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("mentor.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=now)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(40))
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("review_item.id"))


class AuditEntry(Base):
    """Append-only record of a decision, refusal, purge or other audited act."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=now, index=True)
    item_id: Mapped[int | None] = mapped_column(Integer, index=True)
    mentor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(20), default="applied")
    source_message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Event(Base):
    """A matching event announced by a host's challenge list; a draft until staff review it.

    ``receipt_due_at`` is set while the host's receipt is still to be planned.
    """

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("review_item.id"))
    state: Mapped[str] = mapped_column(String(20), default="draft")
    name: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(Text)
    venue: Mapped[str | None] = mapped_column(Text)
    days: Mapped[list[Any]] = mapped_column(default=list)
    first_day: Mapped[dt.date | None] = mapped_column(Date)
    companies: Mapped[list[Any]] = mapped_column(default=list)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_message.id"))
    sender_address: Mapped[str | None] = mapped_column(String(320))
    sender_name: Mapped[str | None] = mapped_column(String(200))
    problems: Mapped[list[Any]] = mapped_column(default=list)
    receipt_due_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class AddressStatus(Base):
    """What we know about a mail address: bounces, and the last error reply we sent it."""

    __tablename__ = "address_status"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    bounced_at: Mapped[dt.datetime | None]
    bounce_status: Mapped[str | None] = mapped_column(String(20))
    bounce_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error_reply_on: Mapped[dt.date | None] = mapped_column(Date)


class Lease(Base):
    """A named lock with an expiry, held by one daemon at a time (works on both databases)."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[dt.datetime]


class IntakeAttempt(Base):
    """An analysis that started and has not finished yet, by the digest of the raw mail.

    A row that outlives its process means analysis crashed or hung on that message;
    after ``MAX_INTAKE_ATTEMPTS`` such starts the message is quarantined unread.
    """

    __tablename__ = "intake_attempt"

    raw_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_started_at: Mapped[dt.datetime] = mapped_column(default=now)
