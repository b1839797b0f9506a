"""Checks made while filing a message: replies to our own mail, senders that get no receipt, duplicates.

Each check returns what staff should read on the item (a Japanese reason or a Warning),
or the text to quote, and changes nothing in the database.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.config import Config
from mailflow.db.models import Event, Mentor, Outbox, ReviewItem
from mailflow.intake.findings import Analysis, Warning
from mailflow.intake.masking import html_visible_text, intake_masker
from mailflow.intake.message import Message
from mailflow.intake.quoting import strip_quotes
from mailflow.registry import mentors as registry
from mailflow.review import items as review_items
from mailflow.review import states

# Lines of a reply's own text kept on the item and quoted to staff, and the length of each.
MAX_REPLY_LINES = 20
MAX_REPLY_LINE_CHARS = 200
# Replies kept per item; older ones stay in the stored mail.
MAX_KEPT_REPLIES = 5

# Local parts that belong to machines: nobody reads a receipt sent to them, and it may loop.
MACHINE_LOCAL_PARTS = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|donotreply|bounces?|auto-?reply|autoresponder)([+._-].*)?$",
    re.IGNORECASE,
)
OWN_ADDRESS_REASON = ("差出人が当局のアドレス（受付用・送信用・職員のいずれか）です。差出人を偽ったメールや、"
                      "当局のメールが戻ってきたものの可能性があるため、受付の返信は送っていません。内容を確認してください")
MACHINE_ADDRESS_REASON = ("差出人が機械のアドレス（postmaster、no-reply など）です。配信エラーや自動送信のメールの可能性があるため、"
                          "受付の返信は送っていません。内容を確認してください")


def replies_to_our_mail(session: Session, config: Config, message: Message) -> bool:
    """Tell whether In-Reply-To or References of ``message`` names a mail mailflow sent.

    A Message-ID counts when the outbox has it, or when it has the form that
    ``outbound.compose.make_message_id`` gives (``<outbox.…@`` our sending domain ``>``).
    The second test recognises a reply to a mail whose outbox row is gone, such as one
    sent from another database or before a restore.
    """
    thread = [value for value in [message.in_reply_to, *message.references] if value]
    if not thread:
        return False
    domain = config.outbound.from_address.rpartition("@")[2].lower()
    for value in thread:
        lowered = value.strip().lower()
        if lowered.startswith("<outbox.") and lowered.endswith(f"@{domain}>"):
            return True
    return session.scalar(select(Outbox.id).where(Outbox.message_id.in_(thread)).limit(1)) is not None


def reply_text_lines(analysis: Analysis) -> list[str]:
    """Return the sender's own words of the message for staff to read, masked and cut short.

    Quoted and forwarded text is removed, individual numbers are masked (and passwords,
    in a mail that carries a password), and at most MAX_REPLY_LINES lines are kept, the
    last of them saying how many were left out. An HTML-only mail is read as its visible text.
    """
    message = analysis.message
    text = message.body_text or html_visible_text(message.body_html or "")
    masker = intake_masker("password" in analysis.masked_for)
    lines = [masker(line)[:MAX_REPLY_LINE_CHARS].rstrip() for line in strip_quotes(text).splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) > MAX_REPLY_LINES:
        left_out = len(lines) - (MAX_REPLY_LINES - 1)
        lines = [*lines[:MAX_REPLY_LINES - 1], f"（以下 {left_out} 行は省略しました）"]
    return lines


def keep_reply_text(item: ReviewItem, analysis: Analysis, received_at: dt.datetime) -> None:
    """Record the reply's own text on ``item`` under ``details["replies"]``, newest last.

    Example entry: ``{"message_id": "<a@example.jp>", "received_at": "2026-12-05T08:06:03+09:00",
    "lines": ["先日お送りした登録申請は取り下げます。"]}``.
    """
    entry: dict[str, Any] = {"message_id": analysis.message.message_id, "received_at": received_at.isoformat(),
                             "lines": reply_text_lines(analysis)}
    replies = [reply for reply in (item.details or {}).get("replies") or []
               if reply.get("message_id") != entry["message_id"]]
    replies.append(entry)
    item.details = {**(item.details or {}), "replies": replies[-MAX_KEPT_REPLIES:]}


def unanswered_sender(config: Config, address: str | None) -> str | None:
    """Return ``"own_address"`` or ``"machine_address"`` when mail from ``address`` gets no answer, else None.

    Our own addresses (intake, sending and staff) and machine mailboxes never get an
    automatic answer: nobody reads it, and it may loop.
    """
    if not address:
        return None
    own = {config.bureau.intake_address.lower(), config.outbound.from_address.lower(),
           *(staff.lower() for staff in config.bureau.staff_addresses)}
    if address.strip().lower() in own:
        return "own_address"
    if MACHINE_LOCAL_PARTS.match(address.rpartition("@")[0]):
        return "machine_address"
    return None


def unanswered_sender_reason(config: Config, address: str | None) -> str | None:
    """Return why mail from ``address`` gets no receipt, as staff read it, or None."""
    return {"own_address": OWN_ADDRESS_REASON,
            "machine_address": MACHINE_ADDRESS_REASON}.get(unanswered_sender(config, address) or "")


def attendance_sender_warning(session: Session, item: ReviewItem) -> Warning | None:
    """Link an attendance form to the active mentor who sent it, or return a warning for staff.

    Only registered mentors take part in matching events. A form from any other address,
    such as a stranger giving a mentor's registration number or a revoked mentor, is
    still filed, with the warning.
    """
    mentor = registry.find_by_address(session, item.sender_address)
    if mentor is not None:
        item.mentor_id = mentor.id
        return None
    return Warning("attendance_not_mentor",
                   "差出人のアドレスは、登録中のマネジメントメンターのアドレスではありません。"
                   "登録簿で本人か確認してから受け付けてください",
                   {"sender_address": item.sender_address})


def attendance_event(session: Session, message: Message) -> dict[str, Any] | None:
    """Return the event whose notice ``message`` replies to (number, name, first day), or None."""
    thread = [value for value in [message.in_reply_to, *message.references] if value]
    if not thread:
        return None
    notice = session.scalar(select(Outbox).where(Outbox.message_id.in_(thread), Outbox.event_id.is_not(None))
                            .order_by(Outbox.id).limit(1))
    event = session.get(Event, notice.event_id) if notice is not None else None
    if event is None:
        return None
    sender = message.from_.address if message.from_ else None
    return {"event_id": event.id, "number": review_items.event_number(event), "name": event.name,
            "first_day": event.first_day.isoformat() if event.first_day else None,
            "to_sender": any(review_items.same_address(sender, recipient) for recipient in notice.recipients or []),
            "state": event.state}


def attendance_event_warnings(answered: dict[str, Any]) -> list[Warning]:
    """Return warnings for an attendance form that answers a notice sent to someone else,
    or an event that is no longer going ahead."""
    warnings = []
    if not answered.get("to_sender", True):
        warnings.append(Warning("attendance_other_notice",
                                f"交流会 {answered['number']} の開催案内は、差出人とは別のメンターに送ったものです。"
                                "転送された案内への返信の可能性があります。本人の申し込みか確認してください", {}))
    if answered.get("state") in ("closed", "rejected"):
        warnings.append(Warning("attendance_event_closed",
                                f"交流会 {answered['number']} は完了または中止にしています。申し込みを受けられるか確認してください",
                                {}))
    return warnings


def duplicate_applicant_warnings(session: Session, item: ReviewItem) -> list[Warning]:
    """Return warnings when a registration names a person already registered or applying.

    The person is matched by name (blanks and width ignored) and birth date from Form 1,
    against active mentors and against the other open registrations and renewals.
    """
    form = item.form_values or {}
    name, birth_date = form.get("name"), form.get("birth_date")
    if item.kind != "registration" or not name or not birth_date:
        return []
    found = []
    mentor = registry.find_by_name_and_birth_date(session, name, birth_date)
    if mentor is not None:
        found.append(_registered_warning(mentor))
    others = [other.number for other in _open_applications(session, item)
              if registry.normalize_name((other.form_values or {}).get("name")) == registry.normalize_name(name)
              and (other.form_values or {}).get("birth_date") == birth_date]
    if others:
        found.append(Warning(
            "same_person_open_item",
            f"同じ氏名・生年月日の申請が審査中です（受付番号 {'、'.join(others)}）。"
            "同じ方が二重に送った申請でないか確かめ、重複していれば一方を「却下 理由」で閉じてください",
            {"items": others}))
    return found


def _registered_warning(mentor: Mentor) -> Warning:
    return Warning(
        "same_person_registered",
        f"同じ氏名・生年月日のメンターが登録中です（登録番号 {mentor.registration_number}）。"
        "この申請は新規登録としては承認できません。ご本人に確かめ、更新のつもりであれば"
        "「差戻し 直してほしい内容」で更新の申請として送り直すよう求めるか、「却下 理由」で閉じてください",
        {"registration_number": mentor.registration_number})


def _open_applications(session: Session, item: ReviewItem) -> list[ReviewItem]:
    return list(session.scalars(
        select(ReviewItem)
        .where(ReviewItem.kind.in_(review_items.APPLICATION_KINDS), ReviewItem.state.in_(sorted(states.OPEN)),
               ReviewItem.id != item.id)
        .order_by(ReviewItem.id)))
