"""Recognise mail seen before: by (source, UIDVALIDITY, UID) or Maildir key, then by raw digest.

A changed UIDVALIDITY renumbers every message; the digest of the raw bytes (and the
Message-ID beside it) finds them again, so nothing is processed twice and nothing skipped.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.db.models import InboundMessage, MailboxEntry
from mailflow.mailbox.base import FetchedMail


def location(mail: FetchedMail) -> tuple[int, str]:
    """Return the (uidvalidity, uid_key) pair stored for ``mail``."""
    if mail.uid is not None:
        return mail.uidvalidity or 0, str(mail.uid)
    return 0, mail.key


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def find_known(session: Session, source: str, mail: FetchedMail) -> InboundMessage | None:
    """Return the stored message for ``mail``, recording its new location when found by digest."""
    uidvalidity, uid_key = location(mail)
    entry = session.scalar(
        select(MailboxEntry).where(
            MailboxEntry.source == source,
            MailboxEntry.uidvalidity == uidvalidity,
            MailboxEntry.uid_key == uid_key,
        )
    )
    raw_digest = digest(mail.raw)
    if entry is not None:
        stored = session.get(InboundMessage, entry.message_id)
        if stored is not None and stored.raw_sha256 == raw_digest:
            return stored
        # The location now holds other bytes (a Maildir file name used again, a server
        # that reused a UID without changing UIDVALIDITY): it is not the message we know.
        session.delete(entry)
        session.flush()
    known = session.scalar(select(InboundMessage).where(InboundMessage.raw_sha256 == raw_digest))
    if known is not None:
        session.add(MailboxEntry(source=source, uidvalidity=uidvalidity, uid_key=uid_key, message_id=known.id))
        session.flush()
    return known


def add_location(session: Session, source: str, mail: FetchedMail, message: InboundMessage) -> None:
    uidvalidity, uid_key = location(mail)
    session.add(MailboxEntry(source=source, uidvalidity=uidvalidity, uid_key=uid_key, message_id=message.id))
