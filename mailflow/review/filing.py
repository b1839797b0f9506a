"""File an analysed message: create or extend a review item, keep its documents, note bounces.

Runs inside the transaction that stores the message, so a message is either filed
completely or not at all.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.config import Config
from mailflow.db.models import AddressStatus, AuditEntry, Document, Event, InboundMessage, Mentor, Outbox, ReviewItem
from mailflow.intake.findings import DOCUMENT_ROLES, Analysis, DocumentFinding, Warning
from mailflow.intake.message import Message
from mailflow.intake.privacy import mask_individual_numbers
from mailflow.registry.mentors import match_mentor
from mailflow.registry.period import late_renewal_warning
from mailflow.review import items as review_items
from mailflow.review import states
from mailflow.storage import DocumentStore

logger = logging.getLogger(__name__)

# Message kinds that become review items of their own kind.
ITEM_KINDS = ("change_notice", "withdrawal", "inquiry", "attendance_form")


@dataclass
class FilingResult:
    """The outcome of filing: the item the message joined (if any) and its mailbox folder."""

    item: ReviewItem | None
    folder: str
    created: bool = False


def file_analysis(session: Session, config: Config, store: DocumentStore, inbound: InboundMessage,
                  analysis: Analysis) -> FilingResult:
    """File ``analysis`` of ``inbound``; returns the item and the folder for the mailbox."""
    message = analysis.message
    sender = message.from_.address if message.from_ else None

    if analysis.decision == "bounce":
        _record_bounce(session, analysis)
        return FilingResult(item=None, folder="auto")
    if analysis.decision == "ignore_auto_reply":
        return FilingResult(item=None, folder="auto")
    if analysis.kind == "staff_reply":
        # Staff replies are applied by the command stage, which reads the stored message.
        return FilingResult(item=None, folder="processed")

    if analysis.kind == "challenge_list" and analysis.decision == "process":
        _file_event(session, config, store, inbound, analysis)
        return FilingResult(item=None, folder="processed")

    has_documents = any(finding.role in DOCUMENT_ROLES for finding in analysis.documents)
    if analysis.kind in review_items.APPLICATION_KINDS or (has_documents and analysis.decision == "process"):
        return _file_application(session, config, store, inbound, analysis, sender)
    if analysis.kind in ITEM_KINDS or analysis.decision == "manual_review":
        return _file_single(session, config, store, inbound, analysis, sender)
    return FilingResult(item=None, folder="processed")


def _file_application(session: Session, config: Config, store: DocumentStore, inbound: InboundMessage,
                      analysis: Analysis, sender: str | None) -> FilingResult:
    message = analysis.message
    thread = [message.in_reply_to, *message.references]
    follow_up = review_items.find_open_application(session, sender, thread)
    item = follow_up.item if follow_up is not None and not follow_up.foreign else None
    if follow_up is not None and follow_up.foreign:
        analysis.needs_attention.append(
            f"受付番号 {follow_up.item.number} の申請への返信として、別のアドレスから届きました。"
            "同じ申請者からのものか確認してください（この案件は別に受け付けました）")
    created = item is None
    if item is None:
        kind = analysis.kind if analysis.kind in review_items.APPLICATION_KINDS else "registration"
        item = review_items.create_item(session, kind, sender, message.from_.name if message.from_ else None,
                                        config.staff.token_days)
    elif analysis.kind == "renewal" and item.kind != "renewal":
        item.kind = "renewal"
    if item.kind == "renewal" and item.mentor_id is None:
        _link_renewal(session, item, analysis, sender)
    if item.state == states.RETURNED:
        item.state = states.INCOMPLETE

    present = analysis.documents_present()
    item.checklist = {role: bool(item.checklist.get(role)) or present.get(role, False)
                      for role in DOCUMENT_ROLES}
    if analysis.form:
        item.form_values = analysis.form
        item.applicant_name = analysis.form.get("name") or item.applicant_name
        item.applicant_email = analysis.form.get("email") or item.applicant_email
    item.by_post = review_items.merge_unique(item.by_post, analysis.by_post)
    answer = _may_answer(session, analysis)
    _merge_findings(item, analysis)
    _attach(session, config, store, inbound, analysis, item, answer=answer)
    return FilingResult(item=item, folder="processed", created=created)


def _link_renewal(session: Session, item: ReviewItem, analysis: Analysis, sender: str | None) -> None:
    """Tie a renewal to its registry entry at once, so reminders stop and staff see a late one.

    Staff confirm a match made by number or by name in the notification.
    """
    form = analysis.form or {}
    number = form.get("registration_number") or analysis.details.get("registration_number")
    match = match_mentor(session, sender, number, form.get("name"), form.get("birth_date"))
    if match is None:
        return
    item.mentor_id = match.mentor.id
    received_on = (arrival_time(analysis.message) or clock.now()).astimezone(clock.TOKYO).date()
    warning = late_renewal_warning(match.mentor, received_on)
    if warning is not None:
        analysis.warnings.append(Warning(warning["code"], warning["message"], warning["values"]))


def _file_single(session: Session, config: Config, store: DocumentStore, inbound: InboundMessage,
                 analysis: Analysis, sender: str | None) -> FilingResult:
    message = analysis.message
    kind = analysis.kind if analysis.kind in ITEM_KINDS else "other"
    item = review_items.create_item(session, kind, sender, message.from_.name if message.from_ else None,
                                    config.staff.token_days)
    item.details = {**(item.details or {}), **analysis.details}
    if analysis.decision == "manual_review" and not analysis.needs_attention:
        analysis.needs_attention.append("自動では判断できないため、担当者の確認が必要です")
    answer = _may_answer(session, analysis)
    _merge_findings(item, analysis)
    _attach(session, config, store, inbound, analysis, item, answer=answer)
    return FilingResult(item=item, folder="processed", created=True)


def _merge_findings(item: ReviewItem, analysis: Analysis) -> None:
    item.warnings = review_items.merge_unique(item.warnings, [w.as_dict() for w in analysis.warnings],
                                              key=lambda value: value["code"])
    item.reasons = review_items.merge_unique(item.reasons, analysis.reasons)
    item.manual_checks = review_items.merge_unique(item.manual_checks, analysis.manual_checks)
    details = dict(item.details or {})
    details["attention"] = review_items.merge_unique(details.get("attention"), analysis.needs_attention)
    if analysis.form_unreadable:
        details["form_unreadable"] = analysis.form_unreadable
    if analysis.forwarded_from:
        details["forwarded_from"] = analysis.forwarded_from
    for key in ("change_notice", "withdrawal", "registration_number", "event"):
        if key in analysis.details:
            details[key] = analysis.details[key]
    item.details = details


def _may_answer(session: Session, analysis: Analysis) -> bool:
    """Return False for a reply to our own mail that brings no document.

    Such a reply gets no receipt: an out-of-office reply without the standard headers
    would otherwise answer every receipt with another receipt, for ever. A person sees
    it on the item instead.
    """
    message = analysis.message
    thread = [value for value in [message.in_reply_to, *message.references] if value]
    if not thread or any(finding.acceptable for finding in analysis.documents):
        return True
    ours = session.scalar(select(Outbox.id).where(Outbox.message_id.in_(thread)).limit(1))
    if ours is None:
        return True
    analysis.needs_attention.append("こちらから送ったメールへの返信が、書類なしで届きました。内容を確認してください")
    return False


def _attach(session: Session, config: Config, store: DocumentStore, inbound: InboundMessage,
            analysis: Analysis, item: ReviewItem, answer: bool = True) -> None:
    """Link the message to ``item``, keep its documents and add it to a receipt batch."""
    message = analysis.message
    inbound.item_id = item.id
    review_items.add_thread_ids(item, message.message_id)
    for finding in analysis.documents:
        session.add(_document_row(store, inbound, item, finding))

    if answer:
        _add_to_batch(config, item, inbound, analysis)

    previous = item.state
    review_items.recompute_state(item)
    session.add(AuditEntry(item_id=item.id, actor="mailflow", action="filed",
                           source_message_id=message.message_id,
                           detail={"inbound_id": inbound.id, "kind": analysis.kind,
                                   "state_from": previous, "state_to": item.state}))
    logger.info("item filed item=%s inbound=%s kind=%s state=%s", item.id, inbound.id, analysis.kind, item.state)


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


def _add_to_batch(config: Config, item: ReviewItem, inbound: InboundMessage, analysis: Analysis) -> None:
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
    current["requests"] = review_items.merge_unique(current["requests"], _requests(analysis))
    current["unreadable"] = current.get("unreadable", 0) + sum(
        1 for finding in analysis.documents if finding.unreadable and not finding.attachment.encrypted)
    current["reply_to_message_id"] = analysis.message.message_id
    current["last_arrival"] = arrived.isoformat()
    current["checklist"] = dict(item.checklist or {})
    current["by_post"] = list(item.by_post or [])
    item.details = {**(item.details or {}), "batches": batches}
    first_due = dt.datetime.fromisoformat(batches[0]["last_arrival"]) + settle
    item.receipt_due_at = first_due


def _requests(analysis: Analysis) -> list[str]:
    requests = []
    if analysis.remove_parts:
        requests.append("masked_identity_document")
    if analysis.encrypted_parts:
        requests.append("unencrypted_file")
    return requests


def _document_row(store: DocumentStore, inbound: InboundMessage, item: ReviewItem | None,
                  finding: DocumentFinding) -> Document:
    attachment = finding.attachment
    kept = not finding.individual_number
    filename = attachment.filename
    if filename and finding.individual_number:
        filename = mask_individual_numbers(filename)
    return Document(
        item_id=item.id if item is not None else None,
        inbound_message_id=inbound.id,
        part_id=attachment.part_id,
        role=finding.role,
        filename=filename,
        content_type=attachment.content_type,
        sniffed_type=attachment.sniffed_type,
        sha256=attachment.sha256 if kept else "",
        size=attachment.size,
        storage_id=store.put(attachment.payload) if kept else None,
        kept=kept,
        identity_type=finding.identity_type,
        encrypted=attachment.encrypted,
        notes=list(finding.notes),
        held_reason=finding.unreadable,
        purged_at=None if kept else clock.now(),
        purge_reason=None if kept else "individual_number_found",
    )


def _file_event(session: Session, config: Config, store: DocumentStore, inbound: InboundMessage,
                analysis: Analysis) -> Event:
    """Create a draft event from a host's challenge list; staff review it before any notice."""
    message = analysis.message
    record = analysis.details.get("event") or {}
    days = sorted(dt.date.fromisoformat(day) for day in record.get("days", []) if day)
    document = None
    for finding in analysis.documents:
        row = _document_row(store, inbound, None, finding)
        session.add(row)
        if finding.role == "challenge_list" and document is None:
            document = row
    session.flush()
    problems = list(record.get("defects") or [])
    if not days:
        problems.append("開催日を読み取れませんでした")
    if document is None or not record:
        problems.append("参加企業課題一覧（様式3）を読み取れませんでした")
    event = Event(
        state="draft", name=record.get("name"), host=record.get("host"), venue=record.get("venue"),
        days=[day.isoformat() for day in days], first_day=days[0] if days else None,
        companies=record.get("companies", []), document_id=document.id if document else None,
        inbound_message_id=inbound.id,
        sender_address=message.from_.address if message.from_ else None,
        sender_name=message.from_.name if message.from_ else None,
        problems=problems,
        receipt_due_at=clock.now() + dt.timedelta(seconds=config.intake.settle_seconds),
    )
    session.add(event)
    session.flush()
    session.add(AuditEntry(actor="mailflow", action="event_drafted", source_message_id=message.message_id,
                           detail={"event_id": event.id, "inbound_id": inbound.id}))
    logger.info("event drafted event=%s inbound=%s companies=%s", event.id, inbound.id, len(event.companies))
    return event


def _record_bounce(session: Session, analysis: Analysis) -> None:
    report = analysis.bounce
    if report is None:
        return
    for failed in getattr(report, "failed_recipients", []):
        if not getattr(failed, "permanent", True):
            continue
        address = failed.address.lower()
        status = session.get(AddressStatus, address) or AddressStatus(address=address, bounce_count=0)
        status.bounced_at = clock.now()
        status.bounce_status = failed.status
        status.bounce_count = (status.bounce_count or 0) + 1
        session.add(status)
        for mentor in session.scalars(select(Mentor).where(Mentor.email.is_not(None))):
            if review_items.same_address(mentor.email, address):
                mentor.email_bouncing = True
                mentor.bounce_status = failed.status
                session.add(AuditEntry(mentor_id=mentor.id, actor="mailflow", action="address_bounced",
                                       source_message_id=analysis.message.message_id,
                                       detail={"status": failed.status}))
