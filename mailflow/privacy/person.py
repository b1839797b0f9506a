"""Find one person from a query, and everything mailflow keeps about them.

A query is a mail address, a registration number (``MM-2026-0001``) or a receipt number
(``2026-0012``). It names one person when the registry entries and the applicant names
of the items it reaches agree. Otherwise the lookup returns the candidates, so that
the caller lists them and changes nothing. A shared family mailbox, for example,
reaches two names.

Items are linked through addresses mail came from and registry addresses only. The
address written in a form is a claim anyone can make: a form naming someone else's
address must not pull that person's items into an export or an erasure. An address
query that reaches an item only through its form address is therefore ambiguous.

From the person's registry entry and items the lookup collects their documents, the
mail they sent, the replies of staff about their items, the outbox mail about them,
their registry history, the audit entries that name them and what is known about
their addresses.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mailflow.db.models import (
    AddressStatus,
    AuditEntry,
    Document,
    InboundMessage,
    Mentor,
    MentorHistory,
    Outbox,
    ReviewItem,
)
from mailflow.registry.mentors import NUMBER_PATTERN, normalize_name

RECEIPT_NUMBER = re.compile(r"\d{4}-\d{4,}")
EMAIL = "email"
REGISTRATION_NUMBER = "registration_number"
RECEIPT = "receipt_number"
# Form fields and registry columns whose values identify the person; erasure removes
# them wherever they were copied (audit details, registry history).
PERSONAL_FIELDS = ("name", "kana", "email", "phone", "mobile", "postal_code", "address", "birth_date")


@dataclass
class Person:
    """The rows that concern one person, loaded in the caller's session.

    ``mentions`` are outbox mails about several people that name this one, such as the
    staff digest that lists registrations ending this month: an export leaves them out
    (they concern others too), and an erasure deletes them.
    """

    query_kind: str
    emails: set[str] = field(default_factory=set)
    mentors: list[Mentor] = field(default_factory=list)
    items: list[ReviewItem] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    messages: list[InboundMessage] = field(default_factory=list)
    history: list[MentorHistory] = field(default_factory=list)
    outbox: list[Outbox] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    addresses: list[AddressStatus] = field(default_factory=list)
    mentions: list[Outbox] = field(default_factory=list)

    def personal_values(self) -> set[str]:
        """Return the person's names, addresses, phone numbers, mail addresses and birth date as text.

        Names are also given without blanks (「山田太郎」 for 「山田 太郎」), as forms and
        mail write them either way.
        """
        values: set[str] = set(self.emails)
        for mentor in self.mentors:
            values.update(str(getattr(mentor, name)) for name in PERSONAL_FIELDS if getattr(mentor, name))
        for item in self.items:
            values.update(value for value in (item.applicant_name, item.sender_name, item.applicant_email,
                                              item.sender_address) if value)
            form = item.form_values or {}
            values.update(str(form[name]) for name in PERSONAL_FIELDS if form.get(name))
        values.update({normalize_name(value) for value in values})
        return {value for value in values if len(value.strip()) >= 2}


@dataclass
class Lookup:
    """The result of :func:`find_person`: one person, or the candidates of an ambiguous query.

    ``candidates`` are Japanese lines for staff, e.g. ``"受付番号 2026-0003 山田 太郎"``;
    both are empty when the query matched nothing.
    """

    person: Person | None = None
    candidates: list[str] = field(default_factory=list)


def query_kind(query: str) -> str:
    """Return EMAIL, REGISTRATION_NUMBER or RECEIPT for a query, by its form."""
    text = query.strip()
    if "@" in text:
        return EMAIL
    if RECEIPT_NUMBER.fullmatch(text):
        return RECEIPT
    return REGISTRATION_NUMBER


def find_person(session: Session, query: str) -> Lookup:
    """Resolve ``query`` to one person and collect their rows; see the module docstring."""
    kind = query_kind(query)
    mentors, items = _seeds(session, kind, query.strip())
    if not mentors and not items:
        messages = _messages_from(session, {query.strip().lower()}) if kind == EMAIL else []
        if not messages:
            return Lookup()
    ambiguity = _ambiguity(mentors, items) or (_claimed_only(items, query.strip()) if kind == EMAIL else [])
    if ambiguity:
        return Lookup(candidates=ambiguity)
    person = Person(query_kind=kind, mentors=mentors)
    if kind == EMAIL:
        person.emails.add(query.strip().lower())
    _expand(session, person, items)
    return Lookup(person=person)


def _seeds(session: Session, kind: str, query: str) -> tuple[list[Mentor], list[ReviewItem]]:
    if kind == EMAIL:
        address = query.lower()
        mentors = list(session.scalars(select(Mentor).where(func.lower(Mentor.email) == address)))
        items = list(session.scalars(select(ReviewItem).where(or_(
            func.lower(ReviewItem.sender_address) == address, func.lower(ReviewItem.applicant_email) == address))))
        return mentors, items
    if kind == RECEIPT:
        item = session.scalar(select(ReviewItem).where(ReviewItem.number == query))
        if item is None:
            return [], []
        mentor = session.get(Mentor, item.mentor_id) if item.mentor_id else None
        return ([mentor] if mentor else []), [item]
    number = query.upper()
    if not NUMBER_PATTERN.fullmatch(number):
        return [], []
    return list(session.scalars(select(Mentor).where(Mentor.registration_number == number))), []


def _ambiguity(mentors: list[Mentor], items: list[ReviewItem]) -> list[str]:
    """Return candidate lines when the seeds belong to more than one person, else []."""
    names = {normalize_name(mentor.name) for mentor in mentors if mentor.name}
    names.update(normalize_name(item.applicant_name) for item in items if item.applicant_name)
    mentor_ids = {mentor.id for mentor in mentors} | {item.mentor_id for item in items if item.mentor_id}
    if len(names) <= 1 and len(mentor_ids) <= 1:
        return []
    lines = [f"登録番号 {mentor.registration_number or '-'} {mentor.name}" for mentor in mentors]
    lines.extend(f"受付番号 {item.number} {item.applicant_name or item.sender_name or '(氏名なし)'}" for item in items)
    return lines


def _claimed_only(items: list[ReviewItem], address: str) -> list[str]:
    """Return candidate lines when an item matches ``address`` only by its form's mail address."""
    claimed = [item for item in items if (item.sender_address or "").lower() != address.lower()]
    if not claimed:
        return []
    return [f"受付番号 {item.number} {item.applicant_name or item.sender_name or '(氏名なし)'}"
            f"（{'申請書のメールアドレス' if item in claimed else '差出人'}が一致）" for item in items]


def _expand(session: Session, person: Person, seed_items: list[ReviewItem]) -> None:
    """Fill ``person`` from its registry entries and seed items."""
    mentor_ids = [mentor.id for mentor in person.mentors]
    person.emails.update(mentor.email.lower() for mentor in person.mentors if mentor.email)
    names = {normalize_name(mentor.name) for mentor in person.mentors if mentor.name}
    names.update(normalize_name(item.applicant_name) for item in seed_items if item.applicant_name)
    person.emails.update(item.sender_address.lower() for item in seed_items if item.sender_address)
    items = {item.id: item for item in seed_items}
    if mentor_ids:
        items.update((item.id, item) for item in session.scalars(
            select(ReviewItem).where(ReviewItem.mentor_id.in_(mentor_ids))))
    for item in _items_by_address(session, person.emails):
        same_person = not item.applicant_name or normalize_name(item.applicant_name) in names or not names
        if same_person and (item.mentor_id is None or item.mentor_id in mentor_ids):
            items[item.id] = item
    person.items = sorted(items.values(), key=lambda item: item.id)
    item_ids = list(items)
    person.documents = list(session.scalars(select(Document).where(Document.item_id.in_(item_ids))
                                            .order_by(Document.id))) if item_ids else []
    person.messages = _person_messages(session, person, item_ids)
    person.history = list(session.scalars(select(MentorHistory).where(MentorHistory.mentor_id.in_(mentor_ids))
                                          .order_by(MentorHistory.id))) if mentor_ids else []
    person.outbox = _person_outbox(session, person, item_ids, mentor_ids)
    person.mentions = _mentions(session, person)
    person.addresses = list(session.scalars(select(AddressStatus).where(AddressStatus.address.in_(person.emails))))
    person.audit = _person_audit(session, person, item_ids, mentor_ids)


def _items_by_address(session: Session, emails: set[str]) -> list[ReviewItem]:
    if not emails:
        return []
    return list(session.scalars(select(ReviewItem).where(func.lower(ReviewItem.sender_address).in_(emails))))


def _messages_from(session: Session, emails: set[str]) -> list[InboundMessage]:
    return list(session.scalars(select(InboundMessage).where(func.lower(InboundMessage.sender_address).in_(emails))))


def _person_messages(session: Session, person: Person, item_ids: list[int]) -> list[InboundMessage]:
    """Return the person's mail (by item, or by address when it joined no item) and replies about it."""
    found: dict[int, InboundMessage] = {}
    if item_ids:
        found.update((row.id, row) for row in session.scalars(
            select(InboundMessage).where(InboundMessage.item_id.in_(item_ids))))
    for row in _messages_from(session, person.emails) if person.emails else []:
        if row.item_id is None or row.item_id in item_ids:
            found[row.id] = row
    # Staff replies to our mail about these items quote it, and with it the person's data.
    outbox_ids = set(session.scalars(select(Outbox.message_id).where(Outbox.item_id.in_(item_ids)))) \
        if item_ids else set()
    if outbox_ids:
        found.update((row.id, row) for row in session.scalars(
            select(InboundMessage).where(InboundMessage.in_reply_to.in_(sorted(outbox_ids)))))
    return sorted(found.values(), key=lambda row: row.id)


def _person_outbox(session: Session, person: Person, item_ids: list[int], mentor_ids: list[int]) -> list[Outbox]:
    conditions = []
    if item_ids:
        conditions.append(Outbox.item_id.in_(item_ids))
    if mentor_ids:
        conditions.append(Outbox.mentor_id.in_(mentor_ids))
    found = {row.id: row for row in session.scalars(select(Outbox).where(or_(*conditions)))} if conditions else {}
    # Recipients are a JSON list, which neither database indexes: compare them here.
    addressed = [row_id for row_id, recipients in session.execute(select(Outbox.id, Outbox.recipients))
                 if row_id not in found and {address.lower() for address in recipients or []} & person.emails]
    if addressed:
        found.update((row.id, row) for row in session.scalars(select(Outbox).where(Outbox.id.in_(addressed))))
    return sorted(found.values(), key=lambda row: row.id)


def _mentions(session: Session, person: Person) -> list[Outbox]:
    """Return the other outbox mails whose text has one of the person's registration numbers."""
    numbers = [mentor.registration_number for mentor in person.mentors if mentor.registration_number]
    if not numbers:
        return []
    known = {row.id for row in person.outbox}
    found = []
    for row in session.scalars(select(Outbox).where(Outbox.raw.is_not(None)).order_by(Outbox.id)):
        if row.id not in known and any(number in mail_text(row.raw) for number in numbers):
            found.append(row)
    return found


def mail_text(raw: bytes) -> str:
    """Return the decoded text parts of a mail we composed (UTF-8, any transfer encoding)."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    texts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                try:
                    texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
                except LookupError:
                    texts.append(payload.decode("utf-8", "replace"))
    return "\n".join(texts)


def _person_audit(session: Session, person: Person, item_ids: list[int], mentor_ids: list[int]) -> list[AuditEntry]:
    """Return the audit entries about the person's rows, or whose detail or actor has their mail address.

    Names are not searched for here: another person may have the same name.
    """
    message_ids = {row.message_id for row in person.messages if row.message_id}
    inbound_ids = {row.id for row in person.messages}
    document_ids = {row.id for row in person.documents}
    values = sorted(person.emails)
    found = []
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        detail = entry.detail or {}
        if (entry.item_id in item_ids or entry.mentor_id in mentor_ids or entry.source_message_id in message_ids
                or detail.get("inbound_id") in inbound_ids or detail.get("document_id") in document_ids
                or names_any(entry.actor, values) or names_any(detail, values)):
            found.append(entry)
    return found


def names_any(value: Any, lowered_values: list[str]) -> bool:
    """Return True when any string inside ``value`` (nested lists and dicts too) contains one of the values."""
    if isinstance(value, str):
        text = value.lower()
        return any(personal in text for personal in lowered_values)
    if isinstance(value, dict):
        return any(names_any(item, lowered_values) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(names_any(item, lowered_values) for item in value)
    return False
