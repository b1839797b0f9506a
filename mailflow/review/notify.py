"""Plan the staff notification of each item that becomes ready or needs a person.

The outbox key ``staff-notification:<item id>:<state>:m<last mail id>.c<counter>`` makes a
new state, a new mail for the item, or a staff command that changed its checklist
notify again, while running the planner twice does not. Each notification's
Message-ID joins ``item.thread_ids``; its outbox row (kind ``staff_notification``,
``item_id``) is the mapping that lets In-Reply-To or References of a staff reply name
the item.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.db.models import InboundMessage, Mentor, ReviewItem
from mailflow.intake.findings import DOCUMENT_LABELS, DOCUMENT_ROLES
from mailflow.review import events as event_review
from mailflow.review import items as review_items
from mailflow.review import states
from mailflow.review.commands import help_entries
from mailflow.review.form_view import FORM_LABELS, career_lines, form_rows, unreadable_labels
from mailflow.review.held_files import held_files
from mailflow.review.mailings import Services, japanese_date, plan_staff_list_mail
from mailflow.review.mentor_items import (
    MATCH_LABELS,
    change_notice_values,
    item_body_text,
    refresh_match,
    withdrawal_reason,
)
from mailflow.review.provenance import item_sender_provenance

logger = logging.getLogger(__name__)

NOTIFY_STATES = (states.READY, states.NEEDS_ATTENTION)
# Inquiries reach staff as a forward the receipt planner sends; they need no decision.
SKIP_KINDS = ("inquiry",)
MENTOR_KINDS = ("renewal", "change_notice", "withdrawal")
# Kinds that change the registry on the word of a mail alone, so staff see who sent it.
PROVENANCE_KINDS = ("change_notice", "withdrawal")
# Lines of a change notice's own text quoted when no change could be read from it.
MAX_NOTICE_LINES = 30

def notification_key(item: ReviewItem, last_message_id: int | None) -> str:
    counter = int((item.details or {}).get("notify_counter", 0))
    return f"staff-notification:{item.id}:{item.state}:m{last_message_id or 0}.c{counter}"


def plan_staff_notifications(session: Session, services: Services, flush: bool = False) -> int:
    """Plan a notification for every item that is ready or needs attention and has none yet.

    Items whose receipt is still waiting for the settle time are left for a later run
    (unless ``flush``), so that mails arriving together notify once. Returns how many
    notifications were planned.
    """
    last_mail = (select(InboundMessage.item_id, func.max(InboundMessage.id).label("last_id"))
                 .group_by(InboundMessage.item_id).subquery())
    query = (select(ReviewItem, last_mail.c.last_id)
             .outerjoin(last_mail, last_mail.c.item_id == ReviewItem.id)
             .where(ReviewItem.state.in_(NOTIFY_STATES), ReviewItem.kind.not_in(SKIP_KINDS))
             .order_by(ReviewItem.id))
    current = clock.now()
    planned = 0
    for item, last_id in session.execute(query).all():
        due = clock.as_utc(item.receipt_due_at)
        if due is not None and due > current and not flush:
            continue
        key = notification_key(item, last_id)
        if (item.details or {}).get("notified_key") == key:
            continue
        if plan_notification(session, services, item, key) is not None:
            planned += 1
    return planned


def plan_notification(session: Session, services: Services, item: ReviewItem, key: str):
    """Plan one notification of ``item`` under ``key`` and remember it on the item."""
    if item.kind in MENTOR_KINDS:
        refresh_match(session, services, item)
    files = held_files(session, services, item)
    context = notification_context(session, services, item)
    row = plan_staff_list_mail(session, services, "staff_notification", key, item, attachments=files.attachments,
                               **files.listing(), **context)
    if row is None:
        return None
    review_items.add_thread_ids(item, row.message_id)
    item.details = {**(item.details or {}), "notified_key": key}
    item.notified_state = item.state
    logger.info("staff notification planned item=%s key=%s", item.id, key)
    return row


def notification_context(session: Session, services: Services, item: ReviewItem) -> dict[str, Any]:
    """Return the template values of a notification: the item as staff need to judge it."""
    details = item.details or {}
    by_post = set(details.get("received_by_post") or [])
    announced = set(item.by_post or [])
    context: dict[str, Any] = {
        "kind": item.kind,
        "applicant_name": item.applicant_name or item.sender_name or "",
        "state_label": states.LABELS.get(item.state, item.state),
        "created_at": _tokyo(item.created_at),
        "attention": review_items.attention_reasons(item) if item.state == states.NEEDS_ATTENTION else [],
        "checklist": [{"label": DOCUMENT_LABELS[role], "present": bool((item.checklist or {}).get(role)),
                       "by_post": role in by_post, "announced": role in announced}
                      for role in DOCUMENT_ROLES] if item.checklist else [],
        "form_rows": form_rows(item.form_values or {}),
        "career_lines": career_lines(item.form_values or {}),
        "unreadable_fields": unreadable_labels(item.form_values or {}),
        "warnings": [warning.get("message", warning.get("code")) for warning in item.warnings or []],
        "manual_checks": list(item.manual_checks or []),
        "reasons": list(item.reasons or []),
        "commands": help_entries(item.kind),
        "token_expires": _tokyo(item.token_expires_at),
        "mentor": None, "mentor_expires_on": "", "match_label": "", "match_confirm": False,
        "changes": [], "effective_date": None, "withdrawal_reason": None,
        "sender_check": None, "notice_lines": [], "event": None,
        "replies": [{"received_at": _tokyo(_parse_time(reply.get("received_at"))), "lines": list(reply.get("lines") or [])}
                    for reply in details.get("replies") or []],
    }
    match = details.get("mentor_match") or {}
    if item.mentor_id is not None:
        mentor = session.get(Mentor, item.mentor_id)
        context.update(mentor=mentor, mentor_expires_on=japanese_date(mentor.expires_on) if mentor else "",
                       match_label=MATCH_LABELS.get(match.get("method", "item"), ""),
                       match_confirm=bool(match.get("confirm")))
    if item.kind == "change_notice":
        notice = change_notice_values(session, services, item)
        context["changes"] = [{"label": FORM_LABELS.get(name, name), "old": entry.get("old"), "new": entry.get("new")}
                              for name, entry in notice.items() if isinstance(entry, dict)]
        context["effective_date"] = notice.get("effective_date")
        if not context["changes"]:
            context["notice_lines"] = item_body_text(session, services, item).strip().splitlines()[:MAX_NOTICE_LINES]
    if item.kind == "withdrawal":
        context["withdrawal_reason"] = withdrawal_reason(session, services, item)
    if item.kind in PROVENANCE_KINDS:
        context["sender_check"] = item_sender_provenance(session, services, item)
    if item.kind == event_review.ITEM_KIND:
        context["event"] = event_review.notification_values(session, services, item)
    return context


def _parse_time(value: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _tokyo(value: dt.datetime | None) -> str:
    moment = clock.as_utc(value)
    return moment.astimezone(clock.TOKYO).strftime("%Y-%m-%d %H:%M") if moment else ""
