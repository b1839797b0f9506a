"""Erase everything held about one person, keeping only rows without personal values.

What happens to each kind of row:

- documents: purged (file, stored raw part), and the row keeps only role, size and dates;
- received mail: the stored raw is deleted, with sender and subject, and its mailbox
  copy is deleted at the watcher's next intake pass;
- review items: names, addresses, form values and details are cleared; checklist and
  dates stay, so the bureau's counts still add up. An open item is closed as 完了
  (decision ``erased``), because nobody is left to review, answer or remind;
- registry entries: every personal column is cleared, and an active registration ends
  as withdrawn. The registration number stays, so that it is never given out again;
- registry history: the old and new values of personal fields are cleared;
- outbox mail about the person, and staff digests that name them: raw, recipients and
  subject are cleared, pending mail is cancelled and the .eml files the file transport
  wrote are deleted;
- audit entries: kept, with the person's values replaced in their details;
- bounce records of their addresses: deleted.

The erasure itself is audited (``person_erased``) with ids and counts only.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.db.models import AuditEntry
from mailflow.privacy.person import PERSONAL_FIELDS, Person
from mailflow.privacy.purge import ERASURE, WRITTEN_FILE, purge_documents
from mailflow.privacy.stored_mail import replace_stored_raw
from mailflow.registry.mentors import ACTIVE, WITHDRAWN
from mailflow.review import states
from mailflow.storage import DocumentStore

logger = logging.getLogger(__name__)

ERASED = "（消去）"
# Registry history fields that are registry bookkeeping, not about the person.
BOOKKEEPING_FIELDS = ("registered_on", "expires_on", "status")


@dataclass(frozen=True)
class ErasureSummary:
    """Counts of what one erasure changed (or, in a dry run, would change)."""

    mentors: int
    items: int
    documents: int
    mails_received: int
    mails_sent: int
    audit_entries: int
    dry_run: bool


def erase_person(session: Session, store: DocumentStore, key: bytes | None, person: Person, actor: str,
                 outbox_dir: Path | None, dry_run: bool = False) -> ErasureSummary:
    """Remove or anonymise every row of ``person`` in the caller's transaction; see the module docstring.

    ``outbox_dir`` is the folder of the file transport, or None when mail goes out by
    SMTP. With ``dry_run`` nothing changes and the summary counts what would.
    """
    summary = ErasureSummary(len(person.mentors), len(person.items), len(person.documents), len(person.messages),
                             len(person.outbox), len(person.audit), dry_run)
    if dry_run:
        return summary
    values = sorted(person.personal_values(), key=len, reverse=True)
    stored = [document for document in person.documents if document.storage_id is not None]
    purge_documents(session, store, stored, ERASURE, actor, key, outbox_dir)
    for document in person.documents:
        document.filename = None
        document.sha256 = ""
        document.notes = []
    for message in person.messages:
        _erase_message(message, key)
    for item in person.items:
        _erase_item(item)
    for mentor in person.mentors:
        _erase_mentor(mentor)
    for row in person.history:
        row.changes = {name: change if name in BOOKKEEPING_FIELDS else {"old": None, "new": None}
                       for name, change in (row.changes or {}).items()}
    for row in [*person.outbox, *person.mentions]:
        _erase_outbox(row, outbox_dir)
    for entry in person.audit:
        entry.detail = scrub(entry.detail or {}, values)
        entry.actor = scrub(entry.actor, values)
    for row in person.addresses:
        session.delete(row)
    session.add(AuditEntry(
        actor=actor, action="person_erased", mentor_id=person.mentors[0].id if person.mentors else None,
        detail={"query_kind": person.query_kind, "mentors": [mentor.id for mentor in person.mentors],
                "items": [item.id for item in person.items], "documents": summary.documents,
                "mails_received": summary.mails_received, "mails_sent": summary.mails_sent},
    ))
    session.flush()
    logger.info("person erased mentors=%s items=%s documents=%d mails=%d",
                [mentor.id for mentor in person.mentors], [item.id for item in person.items],
                summary.documents, summary.mails_received + summary.mails_sent)
    return summary


def scrub(value: Any, values: list[str]) -> Any:
    """Return ``value`` with every occurrence of ``values`` in its strings replaced by ERASED.

    ``values`` should be ordered longest first, so that a full name goes before a part
    of it. Mail addresses are matched without regard to case.
    """
    if isinstance(value, str):
        for personal in values:
            value = re.sub(re.escape(personal), ERASED, value, flags=re.IGNORECASE)
        return value
    if isinstance(value, dict):
        return {name: scrub(item, values) for name, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, values) for item in value]
    return value


def _erase_message(message, key: bytes | None) -> None:
    if message.raw is not None:
        replace_stored_raw(message, None, key)
    message.sender_address = None
    message.subject = None
    message.defects = []
    message.error = None


def _erase_item(item) -> None:
    item.sender_address = None
    item.sender_name = None
    item.applicant_name = None
    item.applicant_email = None
    item.form_values = {}
    item.details = {"erased_at": clock.now().isoformat()}
    item.warnings = [{"code": warning.get("code"), "message": warning.get("message"), "values": {}}
                     for warning in item.warnings or []]
    item.decision_reason = None
    if item.state in states.OPEN:
        item.state = states.DONE
        item.decision = "erased"
        item.decided_at = clock.now()
        item.token_expires_at = clock.now()


def _erase_mentor(mentor) -> None:
    for name in PERSONAL_FIELDS:
        setattr(mentor, name, None)
    mentor.name = ERASED
    mentor.sex = None
    mentor.fields = []
    mentor.profile = {}
    mentor.email_bouncing = False
    mentor.bounce_status = None
    if mentor.status == ACTIVE:
        mentor.status = WITHDRAWN
        mentor.status_reason = "erasure"
        mentor.status_changed_at = clock.now()


def _erase_outbox(row, outbox_dir: Path | None) -> None:
    written = WRITTEN_FILE.search(row.smtp_reply or "")
    if outbox_dir is not None and written:
        (outbox_dir / Path(written.group(1)).name).unlink(missing_ok=True)
    if row.status == "pending":
        row.status = "cancelled"
    row.raw = None
    row.recipients = []
    row.subject = ""
    row.smtp_reply = None
    row.last_error = None
