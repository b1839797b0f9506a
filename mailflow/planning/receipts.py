"""Plan the receipt for each batch of mail an item received, once its settle time has passed.

Mails from one sender that arrive within the settle time share one receipt. A receipt
goes to the sender of the batch's last mail and threads with it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.config import Config
from mailflow.db.models import (
    AddressStatus,
    AuditEntry,
    Event,
    InboundMessage,
    Outbox,
    ReviewItem,
)
from mailflow.intake.findings import DOCUMENT_LABELS, DOCUMENT_ROLES
from mailflow.intake.privacy import mask_individual_numbers
from mailflow.outbound.compose import AUTO_REPLIED, Draft
from mailflow.outbound.outbox import enqueue
from mailflow.outbound.templates import Renderer
from mailflow.review import items as review_items
from mailflow.review.filing_checks import unanswered_sender

logger = logging.getLogger(__name__)

KIND_LABELS = {"registration": "登録申請", "renewal": "登録更新申請"}
RECEIPT_TEMPLATES = {
    "registration": "receipt",
    "renewal": "receipt",
    "change_notice": "receipt_change_notice",
    "withdrawal": "receipt_withdrawal",
    "inquiry": "receipt_inquiry",
    "attendance_form": "receipt_attendance_form",
}
REQUEST_ONLY = ("masked_identity_document", "unencrypted_file")


def plan_receipts(session: Session, config: Config, renderer: Renderer, flush: bool = False) -> int:
    """Plan a receipt for every batch whose settle time has passed (every batch if ``flush``).

    A batch followed by a newer one is complete whatever the time. Returns how many
    receipts were planned.
    """
    current = clock.now()
    settle = dt.timedelta(seconds=config.intake.settle_seconds)
    query = select(ReviewItem).where(ReviewItem.receipt_due_at.is_not(None))
    if not flush:
        query = query.where(ReviewItem.receipt_due_at <= current)
    planned = 0
    for item in session.scalars(query.order_by(ReviewItem.id)):
        batches = list((item.details or {}).get("batches") or [])
        remaining = []
        for index, batch in enumerate(batches):
            closed = flush or index < len(batches) - 1 or \
                dt.datetime.fromisoformat(batch["last_arrival"]) + settle <= current
            if not closed:
                remaining.append(batch)
            elif batch.get("messages") and _plan_one(session, config, renderer, item, batch, current):
                planned += 1
        item.details = {**(item.details or {}), "batches": remaining}
        item.receipt_due_at = (dt.datetime.fromisoformat(remaining[0]["last_arrival"]) + settle
                               if remaining else None)
    return planned


def plan_event_receipts(session: Session, config: Config, renderer: Renderer, flush: bool = False) -> int:
    """Plan a receipt for each host whose challenge list became a draft event; returns how many."""
    current = clock.now()
    query = select(Event).where(Event.receipt_due_at.is_not(None))
    if not flush:
        query = query.where(Event.receipt_due_at <= current)
    planned = 0
    for event in session.scalars(query.order_by(Event.id)):
        event.receipt_due_at = None
        inbound = session.get(InboundMessage, event.inbound_message_id) if event.inbound_message_id else None
        if inbound is None or not event.sender_address:
            continue
        subject, body = renderer.render(
            "receipt_challenge_list",
            bureau=config.bureau,
            number=review_items.event_number(event),
            recipient_name=event.sender_name or "ご担当者",
            event=event,
            event_days=[_japanese_date(day) for day in event.days or []],
        )
        draft = Draft(key=f"event-receipt:{event.id}", to=[(event.sender_name or "", event.sender_address)],
                      subject=subject, body=body, auto_submitted=AUTO_REPLIED,
                      in_reply_to=inbound.message_id, references=list(inbound.references or [])[-10:])
        enqueue(session, config, draft, kind="receipt_challenge_list", event_id=event.id)
        planned += 1
    return planned


def _plan_one(session: Session, config: Config, renderer: Renderer, item: ReviewItem,
              batch: dict[str, Any], current: dt.datetime) -> bool:
    template = RECEIPT_TEMPLATES.get(item.kind)
    last = session.get(InboundMessage, batch["messages"][-1])
    if template is None or last is None or not last.sender_address:
        return False
    refusal = no_answer_reason(session, config, last.sender_address, current)
    if refusal is not None:
        logger.info("receipt skipped item=%s reason=%s", item.id, refusal)
        session.add(AuditEntry(item_id=item.id, actor="mailflow", action="receipt_skipped",
                               detail={"reason": refusal}))
        return False
    requests = list(batch.get("requests") or [])
    if requests and not _may_send_error_reply(session, last.sender_address, current):
        logger.info("receipt skipped item=%s reason=error_reply_limit", item.id)
        session.add(AuditEntry(item_id=item.id, actor="mailflow", action="receipt_skipped",
                               detail={"reason": "one error reply per address per day"}))
        return False

    context = receipt_context(config, item, batch, last)
    subject, body = renderer.render(template, **context)
    draft = Draft(
        key=f"receipt:{item.id}:{last.id}",
        to=[(_recipient_name(item, last), last.sender_address)],
        subject=subject,
        body=body,
        auto_submitted=AUTO_REPLIED,
        in_reply_to=last.message_id,
        references=[ref for ref in (last.references or []) if ref][-10:],
    )
    row = enqueue(session, config, draft, kind=template, item_id=item.id)
    review_items.add_thread_ids(item, row.message_id)
    if item.kind == "inquiry":
        _forward_inquiry(session, config, renderer, item, last)
    return True


def no_answer_reason(session: Session, config: Config, address: str, current: dt.datetime) -> str | None:
    """Return why ``address`` must get no automatic answer, or None when it may.

    Our own addresses and machine mailboxes never get one. Every address gets at most
    ``intake.max_receipts_per_day`` a Tokyo day, which ends any loop with an automatic
    responder that our other checks did not recognise.
    """
    unanswered = unanswered_sender(config, address)
    if unanswered:
        return unanswered
    if not address.isascii():
        return "non_ascii_address"
    day_start = current.astimezone(clock.TOKYO).replace(hour=0, minute=0, second=0, microsecond=0)
    sent_today = 0
    for recipients in session.scalars(
            select(Outbox.recipients).where(Outbox.kind.like("receipt%"), Outbox.created_at >= day_start)):
        sent_today += any(review_items.same_address(recipient, address) for recipient in recipients or [])
    if sent_today >= config.intake.max_receipts_per_day:
        return "daily_receipt_limit"
    return None


def _recipient_name(item: ReviewItem, last: InboundMessage) -> str:
    if review_items.same_address(item.sender_address, last.sender_address):
        return item.sender_name or ""
    return ""


def _may_send_error_reply(session: Session, address: str, current: dt.datetime) -> bool:
    """Allow one error reply per address per Tokyo day, and record it."""
    today = current.astimezone(clock.TOKYO).date()
    key = address.lower()
    status = session.get(AddressStatus, key)
    if status is not None and status.last_error_reply_on == today:
        return False
    if status is None:
        status = AddressStatus(address=key, bounce_count=0)
        session.add(status)
    status.last_error_reply_on = today
    return True


def receipt_context(config: Config, item: ReviewItem, batch: dict[str, Any], last: InboundMessage) -> dict[str, Any]:
    # The checklist as it stood when the batch's last mail was filed, not as it is now.
    snapshot = batch.get("checklist") or item.checklist or {}
    by_post = set(batch.get("by_post") or item.by_post or [])
    checklist = [
        {"label": DOCUMENT_LABELS[role], "present": bool(snapshot.get(role)), "by_post": role in by_post}
        for role in DOCUMENT_ROLES
    ] if item.kind in review_items.APPLICATION_KINDS else []
    received = [DOCUMENT_LABELS[role] for role in DOCUMENT_ROLES if role in (batch.get("received") or [])]
    review_days = config.intake.review_days_renewal if item.kind == "renewal" else config.intake.review_days_registration
    return {
        "bureau": config.bureau,
        "item": item,
        "kind_label": KIND_LABELS.get(item.kind, ""),
        "recipient_name": item.applicant_name or item.sender_name or "ご担当者",
        "received_labels": received,
        "checklist": checklist,
        "missing_labels": [DOCUMENT_LABELS[row_role] for row_role in DOCUMENT_ROLES
                           if checklist and not snapshot.get(row_role)],
        "requests": list(batch.get("requests") or []),
        "unreadable_files": int(batch.get("unreadable") or 0),
        "review_period": _period_words(review_days),
        "max_attachment_mb": config.intake.max_attachment_bytes // (1024 * 1024),
    }


def _period_words(days: int) -> str:
    if days % 30 == 0:
        return f"{days // 30}か月"
    if days % 7 == 0:
        return f"{days // 7}週間"
    return f"{days}日"


def _japanese_date(value: str) -> str:
    day = dt.date.fromisoformat(value)
    weekday = "月火水木金土日"[day.weekday()]
    return f"{day.year}年{day.month}月{day.day}日（{weekday}）"


def _tokyo_minutes(value: dt.datetime | None) -> str:
    return value.astimezone(clock.TOKYO).strftime("%Y-%m-%d %H:%M") if value else "（不明）"


def _forward_inquiry(session: Session, config: Config, renderer: Renderer, item: ReviewItem,
                     inbound: InboundMessage) -> None:
    """Forward an inquiry to the staff list with Reply-To set to the person who asked."""
    staff = config.notify_addresses
    if not staff:
        logger.warning("inquiry not forwarded item=%s reason=no_staff_address", item.id)
        return
    body = mask_individual_numbers((item.details or {}).get("body_text", ""))
    subject, text = renderer.render(
        "inquiry_forward",
        bureau=config.bureau,
        item=item,
        original_subject=inbound.subject or "",
        sender_address=inbound.sender_address,
        sender_display=f"{item.sender_name or ''} <{inbound.sender_address}>".strip(),
        sent_at=_tokyo_minutes(clock.as_utc(inbound.sent_at) or clock.as_utc(inbound.received_at)),
        body=body,
    )
    draft = Draft(
        key=f"inquiry-forward:{item.id}",
        to=[("", address) for address in staff],
        subject=subject,
        body=text,
        reply_to=[(item.sender_name or "", inbound.sender_address or "")],
        in_reply_to=inbound.message_id,
    )
    enqueue(session, config, draft, kind="inquiry_forward", item_id=item.id)
