"""File an analysed message: create or extend a review item, keep its documents, note bounces.

Runs inside the transaction that stores the message, so a message is either filed
completely or not at all.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.config import Config
from mailflow.db.models import AddressStatus, AuditEntry, Document, Event, InboundMessage, Mentor, ReviewItem
from mailflow.intake.findings import DOCUMENT_ROLES, Analysis, DocumentFinding, Warning
from mailflow.intake.privacy import mask_individual_numbers
from mailflow.registry.mentors import match_mentor
from mailflow.registry.period import late_renewal_warning
from mailflow.review import event_checks
from mailflow.review import events as event_review
from mailflow.review import filing_checks
from mailflow.review import items as review_items
from mailflow.review import receipt_batches
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
        event = _file_event(session, config, store, inbound, analysis)
        return FilingResult(item=session.get(ReviewItem, event.item_id), folder="processed", created=True)

    if analysis.kind in review_items.APPLICATION_KINDS or (_has_documents(analysis) and analysis.decision == "process"):
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
    if item is None and not _has_documents(analysis) and filing_checks.replies_to_our_mail(session, config, message):
        # A reply to our reminder or result that brings no document applies for nothing
        # (an out-of-office reply, a question): staff read it, and no reminder stops.
        return _file_single(session, config, store, inbound, analysis, sender)
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
    if analysis.form:
        analysis.warnings.extend(filing_checks.duplicate_applicant_warnings(session, item))
    answer = _may_answer(session, config, analysis, item)
    _merge_findings(item, analysis)
    _attach(session, config, store, inbound, analysis, item, answer=answer)
    return FilingResult(item=item, folder="processed", created=created)


def _has_documents(analysis: Analysis) -> bool:
    return any(finding.role in DOCUMENT_ROLES for finding in analysis.documents)


def _link_renewal(session: Session, item: ReviewItem, analysis: Analysis, sender: str | None) -> None:
    """Tie a renewal to its registry entry at once, so staff see the mentor and a late renewal.

    Only a renewal from the mentor's registered address stops the reminders and holds the
    revocation at expiry before approval (``planning.renewals``). A match made by number
    or by name comes from another address: the item then needs attention, because anyone
    can write a mentor's registration number in a mail.
    """
    form = analysis.form or {}
    number = form.get("registration_number") or analysis.details.get("registration_number")
    match = match_mentor(session, sender, number, form.get("name"), form.get("birth_date"))
    if match is None:
        return
    item.mentor_id = match.mentor.id
    item.details = {**(item.details or {}), "mentor_match": {"method": match.method, "confirm": match.confirm}}
    if not review_items.same_address(sender, match.mentor.email):
        analysis.needs_attention.append(
            f"差出人のメールアドレスが、登録番号 {match.mentor.registration_number} のメンターの登録アドレスと異なります。"
            "ご本人からの申請か確かめてください。承認するまで、このメンターへの更新のお願いは止まらず、"
            "登録期間満了時の取り消しも保留されません")
    received_on = (receipt_batches.arrival_time(analysis.message) or clock.now()).astimezone(clock.TOKYO).date()
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
    if kind == "attendance_form":
        warning = filing_checks.attendance_sender_warning(session, item)
        if warning is not None:
            analysis.warnings.append(warning)
        answered = filing_checks.attendance_event(session, message)
        if answered is not None:
            item.details = {**item.details, "attendance_event": answered}
            analysis.warnings.extend(filing_checks.attendance_event_warnings(answered))
            analysis.reasons.append(f"交流会 {answered['number']}（{answered['name'] or '名称不明'}）の開催案内への返信です")
    if analysis.decision == "manual_review" and not analysis.needs_attention:
        analysis.needs_attention.append("自動では判断できないため、担当者の確認が必要です")
    answer = _may_answer(session, config, analysis, item)
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


def _may_answer(session: Session, config: Config, analysis: Analysis, item: ReviewItem) -> bool:
    """Return False for mail that must get no receipt, and tell staff why on ``item``.

    A reply to our own mail that brings no document gets none: an out-of-office reply
    without the standard headers would otherwise answer every receipt with another
    receipt. Its text is kept on the item for staff to read. Mail from our own or a
    machine address gets none either, which the receipt planner enforces.
    """
    message = analysis.message
    reason = filing_checks.unanswered_sender_reason(config, message.from_.address if message.from_ else None)
    if reason is not None:
        analysis.needs_attention.append(reason)
        return False
    if any(finding.acceptable for finding in analysis.documents):
        return True
    if not filing_checks.replies_to_our_mail(session, config, message):
        return True
    analysis.needs_attention.append("こちらから送ったメールへの返信が、書類なしで届きました。返信の本文を確認してください")
    filing_checks.keep_reply_text(item, analysis, receipt_batches.arrival_time(message) or clock.now())
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
        receipt_batches.add_to_batch(config, item, inbound, analysis)

    previous = item.state
    review_items.recompute_state(item)
    session.add(AuditEntry(item_id=item.id, actor="mailflow", action="filed",
                           source_message_id=message.message_id,
                           detail={"inbound_id": inbound.id, "kind": analysis.kind,
                                   "state_from": previous, "state_to": item.state}))
    logger.info("item filed item=%s inbound=%s kind=%s state=%s", item.id, inbound.id, analysis.kind, item.state)


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
    """Create a draft event from a host's challenge list, and the review item staff decide it by.

    The host's receipt is planned from the event (``receipt_due_at``), never from the item.
    """
    message = analysis.message
    record = analysis.details.get("event") or {}
    days, far_days = event_review.split_event_days(
        [dt.date.fromisoformat(day) for day in record.get("days", []) if day])
    item = review_items.create_item(session, event_review.ITEM_KIND, message.from_.address if message.from_ else None,
                                    message.from_.name if message.from_ else None, config.staff.token_days)
    document = None
    problems = list(record.get("problems") or [])
    for finding in analysis.documents:
        row = _document_row(store, inbound, item, finding)
        session.add(row)
        if finding.role == "challenge_list" and document is None:
            document = row
            found = event_checks.active_content(finding.attachment.payload)
            if found:
                # A held file is never forwarded: not to staff, and not to mentors by the planner.
                row.held_reason = row.held_reason or event_checks.active_content_reason(found)
                problems.append(event_checks.active_content_reason(found))
    session.flush()
    if far_days:
        problems.append(event_review.out_of_range_reason(far_days))
    elif not days:
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
    event.problems = [*problems, *event_checks.duplicate_reasons(session, event, document.sha256 if document else None)]
    session.add(AuditEntry(item_id=item.id, actor="mailflow", action="event_drafted",
                           source_message_id=message.message_id,
                           detail={"event_id": event.id, "inbound_id": inbound.id}))
    _merge_findings(item, analysis)
    event_review.link_event_item(session, config, item, event, inbound)
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
