"""Plan the mails that staff decisions cause: results to applicants, notices to mentors, answers to staff.

Every mail becomes an outbox row in the caller's transaction; its key says why it exists,
so planning the same one twice returns the first row. Mails to an applicant answer
their last mail (In-Reply-To and References), so they land in the same thread.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.config import Config
from mailflow.db.models import InboundMessage, Mentor, Outbox, ReviewItem
from mailflow.outbound.compose import AUTO_GENERATED, AUTO_REPLIED, Draft, OutgoingAttachment
from mailflow.outbound.outbox import enqueue
from mailflow.outbound.templates import Renderer
from mailflow.review import items as review_items
from mailflow.storage import DocumentStore

logger = logging.getLogger(__name__)

KIND_LABELS = {
    "registration": "新規登録",
    "renewal": "更新",
    "change_notice": "変更届",
    "withdrawal": "登録取り消しの申し出",
    "inquiry": "問い合わせ",
    "challenge_list": "課題一覧",
    "attendance_form": "出席希望",
    "other": "その他",
}

# Outbox kinds of the mails staff can answer with a command; In-Reply-To or References
# naming one of them points at its item.
STAFF_THREAD_KINDS = ("staff_notification", "staff_confirmation", "staff_help")

# How many References of the answered mail a reply carries on (the newest ones).
MAX_REFERENCES = 10


class Services(Protocol):
    """Services that decisions and planners use; App provides all of them."""

    config: Config
    renderer: Renderer
    store: DocumentStore
    key: bytes | None


def base_context(config: Config, item: ReviewItem | None = None) -> dict[str, Any]:
    return {
        "bureau": config.bureau,
        "item": item,
        "kind_label": KIND_LABELS.get(item.kind, item.kind) if item is not None else "",
    }


def last_applicant_message(session: Session, item: ReviewItem) -> InboundMessage | None:
    """Return the newest stored mail filed to ``item``, the one a result mail answers."""
    return session.scalar(
        select(InboundMessage).where(InboundMessage.item_id == item.id).order_by(InboundMessage.id.desc()).limit(1)
    )


def plan_applicant_mail(session: Session, services: Services, item: ReviewItem, template: str, key: str,
                        extra_recipients: list[str] | None = None, **context: Any) -> Outbox | None:
    """Plan ``template`` to the item's sender, threaded with their last mail.

    ``extra_recipients`` (such as the address the registry had before a change) get the
    same mail. Returns None when the item has no sender address to answer.
    """
    if not item.sender_address:
        logger.warning("result mail not planned item=%s reason=no_sender_address", item.id)
        return None
    last = last_applicant_message(session, item)
    name = item.applicant_name or item.sender_name or ""
    subject, body = services.renderer.render(
        template, **base_context(services.config, item), recipient_name=name or "ご担当者", **context)
    recipients = [(name, item.sender_address)]
    for address in extra_recipients or []:
        if address and not any(review_items.same_address(address, known) for _, known in recipients):
            recipients.append((name, address))
    draft = Draft(
        key=key,
        to=recipients,
        subject=subject,
        body=body,
        auto_submitted=AUTO_REPLIED,
        in_reply_to=last.message_id if last is not None else None,
        references=[ref for ref in (last.references or []) if ref][-MAX_REFERENCES:] if last is not None else [],
    )
    row = enqueue(session, services.config, draft, kind=template, item_id=item.id)
    review_items.add_thread_ids(item, row.message_id)
    return row


def plan_mentor_mail(session: Session, services: Services, mentor: Mentor, template: str, key: str,
                     item: ReviewItem | None = None, **context: Any) -> Outbox | None:
    """Plan ``template`` to the mentor's registered address (a mail the bureau starts itself)."""
    if not mentor.email:
        logger.warning("mentor mail not planned mentor=%s reason=no_address", mentor.id)
        return None
    subject, body = services.renderer.render(
        template, **base_context(services.config, item), mentor=mentor, recipient_name=mentor.name, **context)
    draft = Draft(key=key, to=[(mentor.name, mentor.email)], subject=subject, body=body,
                  auto_submitted=AUTO_GENERATED)
    return enqueue(session, services.config, draft, kind=template, mentor_id=mentor.id,
                   item_id=item.id if item is not None else None)


def plan_staff_answer(session: Session, services: Services, address: str, answered_message_id: str | None,
                      template: str, key: str, item: ReviewItem | None, **context: Any) -> Outbox:
    """Plan ``template`` to one authenticated staff member, answering their reply."""
    subject, body = services.renderer.render(template, **base_context(services.config, item), **context)
    draft = Draft(
        key=key,
        to=[("", address)],
        subject=subject,
        body=body,
        auto_submitted=AUTO_REPLIED,
        reply_to=staff_reply_to(services.config, item),
        in_reply_to=answered_message_id,
    )
    return enqueue(session, services.config, draft, kind=template, item_id=item.id if item is not None else None)


def plan_staff_list_mail(session: Session, services: Services, template: str, key: str, item: ReviewItem | None,
                         attachments: list[OutgoingAttachment] | None = None,
                         **context: Any) -> Outbox | None:
    """Plan ``template`` to ``config.notify_addresses``; None when no address is configured."""
    config = services.config
    if not config.notify_addresses:
        logger.warning("staff mail not planned key=%s reason=no_staff_address", key)
        return None
    subject, body = services.renderer.render(template, **base_context(config, item), **context)
    draft = Draft(
        key=key,
        to=[("", address) for address in config.notify_addresses],
        subject=subject,
        body=body,
        reply_to=staff_reply_to(config, item),
        attachments=list(attachments or []),
    )
    return enqueue(session, config, draft, kind=template, item_id=item.id if item is not None else None)


def staff_reply_to(config: Config, item: ReviewItem | None) -> list[tuple[str, str]]:
    """Return the Reply-To of a mail staff may answer with a command.

    With ``staff.subaddress`` on, it is ``intake+TOKEN@domain``, so the token reaches us
    even when a client rewrites the subject. Without it (on-premises Exchange has no
    sub-addresses) replies go to the plain intake address and the token in the subject
    is what counts.
    """
    address = config.bureau.intake_address
    if item is None or not item.token:
        return [("", address)]
    if config.staff.subaddress:
        local, _, domain = address.rpartition("@")
        address = f"{local}+{item.token}@{domain}"
    return [("", address)]


def japanese_date(day) -> str:
    """Return a date as applicants read it: 「2029年3月31日（土）」; empty for None."""
    if day is None:
        return ""
    weekday = "月火水木金土日"[day.weekday()]
    return f"{day.year}年{day.month}月{day.day}日（{weekday}）"


def period_words(period) -> dict[str, str]:
    """Return the dates of a registration period written for a mail."""
    return {
        "registered_on": japanese_date(period.registered_on),
        "expires_on": japanese_date(period.expires_on),
        "renewal_deadline": japanese_date(period.renewal_deadline),
    }
