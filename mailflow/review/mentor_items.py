"""Items about a registered mentor (renewals, change notices, withdrawals): matching and approval.

The mentor is matched by the sender's address, else by the registration number the mail
or form gives, else by name and birth date; the last two ask staff to confirm the match
in the notification, because the mail then comes from an address the registry does not
have. Approving a change notice applies the values read by ``intake.notices``;
approving a withdrawal ends the registration at the mentor's request.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.db.models import InboundMessage, Mentor, ReviewItem
from mailflow.errors import MailflowError
from mailflow.intake.message import Message
from mailflow.intake.notices import find_registration_number, parse_change_notice, parse_withdrawal
from mailflow.intake.parse import parse_message
from mailflow.outbound.outbox import cancel_pending
from mailflow.registry import mentors as registry
from mailflow.review import items as review_items
from mailflow.review.mailings import Services, plan_applicant_mail
from mailflow.storage import decrypt_blob

# Result of an approval: a summary for staff, details for the audit trail, and the mentor.
Outcome = tuple[str, dict[str, Any], Mentor]

logger = logging.getLogger(__name__)

MATCH_LABELS = {
    "item": "この案件に記録済み",
    "address": "差出人のメールアドレス",
    "registration_number": "本文の登録番号（差出人のアドレスは登録と異なります）",
    "name_and_birth_date": "氏名と生年月日（差出人のアドレスは登録と異なります）",
}
DEFAULT_WITHDRAWAL_REASON = "本人の申し出"


class MentorItemError(MailflowError):
    """A mentor item that cannot be approved as it is (no mentor found, nothing to change)."""


def item_body_text(session: Session, services: Services, item: ReviewItem) -> str:
    """Return the body text of the mail that opened ``item`` (stored details, else the raw mail)."""
    text = (item.details or {}).get("body_text")
    if text:
        return text
    message = item_message(session, services, item)
    return message.body_text if message is not None else ""


def item_message(session: Session, services: Services, item: ReviewItem) -> Message | None:
    """Parse the stored mail that opened ``item``; None when there is none or its raw copy was purged."""
    first = session.scalar(select(InboundMessage).where(InboundMessage.item_id == item.id)
                           .order_by(InboundMessage.id).limit(1))
    if first is None or not first.raw:
        return None
    key = getattr(services, "key", None)
    raw = decrypt_blob(first.raw, key) if first.raw_encrypted and key else first.raw
    return parse_message(raw)


def matched_mentor(session: Session, services: Services, item: ReviewItem) -> registry.MentorMatch | None:
    """Return the mentor ``item`` concerns, matching it now when the item has none yet."""
    if item.mentor_id is not None:
        mentor = session.get(Mentor, item.mentor_id)
        if mentor is not None:
            confirm = bool(((item.details or {}).get("mentor_match") or {}).get("confirm"))
            return registry.MentorMatch(mentor, "item", confirm)
    form = item.form_values or {}
    number = form.get("registration_number") or (item.details or {}).get("registration_number")
    if not number and item.kind in ("change_notice", "withdrawal"):
        number = find_registration_number(item_body_text(session, services, item))
    return registry.match_mentor(session, item.sender_address, number,
                                 form.get("name") or item.applicant_name or item.sender_name, form.get("birth_date"))


def refresh_match(session: Session, services: Services, item: ReviewItem) -> registry.MentorMatch | None:
    """Match the item's mentor and record it on the item (``mentor_id``, ``details.mentor_match``)."""
    if item.mentor_id is not None:
        return matched_mentor(session, services, item)
    match = matched_mentor(session, services, item)
    if match is not None:
        item.mentor_id = match.mentor.id
        item.details = {**(item.details or {}), "mentor_match": {"method": match.method, "confirm": match.confirm}}
    return match


def change_notice_values(session: Session, services: Services, item: ReviewItem) -> dict[str, Any]:
    """Return ``{field: {"old", "new"}, "effective_date": …}`` for a change notice item."""
    stored = (item.details or {}).get("change_notice")
    if isinstance(stored, dict) and any(key != "effective_date" for key in stored):
        return stored
    return parse_change_notice(item_body_text(session, services, item))


def withdrawal_reason(session: Session, services: Services, item: ReviewItem) -> str:
    stored = (item.details or {}).get("withdrawal")
    reason = stored.get("reason") if isinstance(stored, dict) else None
    if not reason:
        reason = parse_withdrawal(item_body_text(session, services, item)).get("reason")
    return reason or DEFAULT_WITHDRAWAL_REASON


def _require_mentor(session: Session, services: Services, item: ReviewItem) -> Mentor:
    match = matched_mentor(session, services, item)
    if match is None:
        raise MentorItemError("対象のメンターが登録簿に見つかりません（メールアドレス、登録番号、氏名と生年月日で照合します）")
    item.mentor_id = match.mentor.id
    return match.mentor


def approve_change_notice(session: Session, services: Services, actor: str, item: ReviewItem) -> Outcome:
    """Apply the changed values to the registry and mail the confirmation.

    The confirmation goes to the sender and, when the address changed, to the old one too,
    so that a mentor learns of a change someone else sent in their name.
    """
    mentor = _require_mentor(session, services, item)
    notice = change_notice_values(session, services, item)
    new_values = {name: entry["new"] for name, entry in notice.items()
                  if name != "effective_date" and isinstance(entry, dict) and entry.get("new")}
    if not new_values:
        raise MentorItemError("変更内容を本文から読み取れませんでした。「差戻し 内容」で本人に確認するか、登録簿を直接直してください")
    old_email = mentor.email
    changes = registry.apply_changes(session, mentor, new_values, actor, item.id)
    plan_applicant_mail(session, services, item, "change_confirmation",
                        f"change-confirmation:{item.id}", extra_recipients=[old_email] if "email" in changes else [],
                        mentor=mentor, changes=_labelled(changes), effective_date=notice.get("effective_date"))
    return (f"登録番号 {mentor.registration_number} の登録内容を変更しました（{len(changes)} 項目）",
            {"changes": changes, "effective_date": notice.get("effective_date")}, mentor)


ENDED_BY_WITHDRAWAL_REASON = "このメンターは本人の申し出で登録を取り消しています。この案件は承認できないため、「却下 理由」で閉じてください"


def approve_withdrawal(session: Session, services: Services, actor: str, item: ReviewItem) -> Outcome:
    """End the registration at the mentor's request, cancel their pending mails, confirm it."""
    mentor = _require_mentor(session, services, item)
    reason = withdrawal_reason(session, services, item)
    registry.end_registration(session, mentor, registry.WITHDRAWN, reason, actor, item.id)
    cancelled = cancel_pending(session, "registration withdrawn", mentor_id=mentor.id)
    review_items.flag_items_of_ended_mentor(session, mentor.id, item.id, ENDED_BY_WITHDRAWAL_REASON)
    plan_applicant_mail(session, services, item, "withdrawal_confirmation",
                        f"withdrawal-confirmation:{item.id}", extra_recipients=[mentor.email or ""], mentor=mentor)
    return (f"登録番号 {mentor.registration_number} の登録を取り消しました（本人の申し出）",
            {"reason": reason, "cancelled_mails": cancelled}, mentor)


FIELD_LABELS = {
    "name": "氏名", "kana": "ふりがな", "email": "メールアドレス", "phone": "電話番号", "mobile": "携帯電話",
    "postal_code": "郵便番号", "address": "住所", "last_employer": "勤務先", "position": "役職",
}


def _labelled(changes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"label": FIELD_LABELS.get(name, name), "old": entry["old"], "new": entry["new"]}
            for name, entry in changes.items()]
