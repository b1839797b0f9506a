"""Apply staff decisions: one function per command, each audited and planning its mails.

A reply command and the matching CLI command call the same function through
:func:`apply_command`, so both change the same rows and write the same AuditEntry
(item, mentor, actor, command, source Message-ID, time, and what changed). The effect
runs in a savepoint: a decision that cannot be made (a move the lifecycle forbids, a
mentor not in the registry) raises a MailflowError and leaves nothing behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.db.models import AuditEntry, Mentor, ReviewItem
from mailflow.errors import MailflowError
from mailflow.intake.findings import DOCUMENT_LABELS, DOCUMENT_ROLES
from mailflow.intake.privacy import mask_individual_numbers
from mailflow.outbound.outbox import cancel_pending
from mailflow.registry import mentors as registry
from mailflow.registry.period import PeriodSettings, registration_period, renewal_period
from mailflow.review import events as event_review
from mailflow.review import items as review_items
from mailflow.review import states
from mailflow.review.approval import (
    check_approval,
    confirmed_approval,
    duplicate_refusal,
    hold_refusal,
    refusal_message,
    registry_address,
)
from mailflow.review.commands import ParsedCommand
from mailflow.review.mailings import KIND_LABELS, Services, period_words, plan_applicant_mail, plan_mentor_mail
from mailflow.review.mentor_items import (
    approve_change_notice,
    approve_withdrawal,
    change_notice_values,
    matched_mentor,
)
from mailflow.privacy import purge as privacy_purge
from mailflow.privacy.retention import outbox_folder

logger = logging.getLogger(__name__)


class DecisionError(MailflowError):
    """A command that cannot be applied to this item; ``message`` explains the reason to staff."""


@dataclass
class DecisionContext:
    """Who decides, through which channel (``mail`` or ``cli``), and the mail that carried it."""

    session: Session
    services: Services
    actor: str
    source_message_id: str | None = None
    channel: str = "mail"

    @property
    def config(self):
        return self.services.config


@dataclass
class DecisionResult:
    """Result of a command: a Japanese summary for the staff confirmation, and audit details."""

    summary: str
    detail: dict[str, Any] = field(default_factory=dict)
    mentor: Mentor | None = None


def apply_command(context: DecisionContext, item: ReviewItem, parsed: ParsedCommand) -> DecisionResult:
    """Apply ``parsed`` to ``item`` and write its AuditEntry; raise MailflowError if it cannot be.

    Nothing the effect changed survives a raised error (the savepoint is rolled back).
    """
    command = parsed.command
    if not command.applies_to(item.kind):
        raise DecisionError(f"「{command.usage}」はこの種類の案件（{KIND_LABELS.get(item.kind, item.kind)}）には使えません",
                            command=command.name)
    if item.state == states.ON_HOLD and not command.allowed_on_hold:
        raise DecisionError(hold_refusal(item, command, context.channel), item_id=item.id, command=command.name)
    state_from = item.state
    with context.session.begin_nested():
        result = EFFECTS[command.effect](context, item, parsed)
        context.session.add(AuditEntry(
            item_id=item.id,
            mentor_id=result.mentor.id if result.mentor is not None else item.mentor_id,
            actor=context.actor,
            action=command.name,
            outcome="applied",
            source_message_id=context.source_message_id,
            detail={"channel": context.channel, "line": parsed.line, "argument": parsed.argument,
                    "documents": list(parsed.documents), "override": parsed.override,
                    "state_from": state_from, "state_to": item.state,
                    **result.detail},
        ))
        context.session.flush()
    logger.info("command applied item=%s command=%s channel=%s state=%s",
                item.id, command.name, context.channel, item.state)
    return result


def move(item: ReviewItem, target: str) -> None:
    states.check_transition(item.state, target)
    item.state = target


def close(context: DecisionContext, item: ReviewItem, decision: str, reason: str | None = None) -> None:
    move(item, decision)
    item.decision = decision
    item.decision_reason = reason
    item.decided_at = clock.now()


def approve(context: DecisionContext, item: ReviewItem, parsed: ParsedCommand) -> DecisionResult:
    """Approve the item. An application needs every document, and any item 確認済 for open attention reasons."""
    if item.state in states.CLOSED:
        # A decided item reports its state before any missing document.
        states.check_transition(item.state, states.APPROVED)
    if item.kind == event_review.ITEM_KIND:
        event_review.check_approvable(context.session, context.config, item, context.channel)
    check = check_approval(item)
    if not check.allows(parsed.override):
        raise DecisionError(refusal_message(item, check, context.channel), item_id=item.id,
                            missing=list(check.missing), attention=len(check.attention))
    states.check_transition(item.state, states.APPROVED)
    if item.kind == "registration":
        result = _approve_registration(context, item)
    elif item.kind == "renewal":
        result = _approve_renewal(context, item, parsed.override)
    elif item.kind == event_review.ITEM_KIND:
        result = DecisionResult(*event_review.approve_event(context.session, context.services, context.actor, item))
    else:
        handler = approve_change_notice if item.kind == "change_notice" else approve_withdrawal
        summary, detail, mentor = handler(context.session, context.services, context.actor, item)
        result = DecisionResult(summary, detail, mentor)
    if parsed.override and check.confirmable:
        result.summary += f"（要確認の理由 {len(check.confirmable)} 件を確認済みとして承認しました）"
        if check.attention:
            result.detail["confirmed_attention"] = list(check.attention)
        if check.cautions:
            result.detail["confirmed_cautions"] = list(check.cautions)
        logger.info("approval confirmed attention item=%s reasons=%d cautions=%d channel=%s",
                    item.id, len(check.attention), len(check.cautions), context.channel)
    close(context, item, states.APPROVED)
    return result


def _approve_registration(context: DecisionContext, item: ReviewItem) -> DecisionResult:
    values = dict(item.form_values or {})
    if not values.get("name"):
        raise DecisionError("申請書の氏名が読み取れていないため登録できません。申請書を確認してください")
    existing = registry.find_by_name_and_birth_date(context.session, values.get("name"), values.get("birth_date"))
    if existing is not None:
        raise DecisionError(duplicate_refusal(item, existing, context.channel), item_id=item.id,
                            mentor_id=existing.id)
    values["email"] = registry_address(item)
    period = registration_period(clock.today(), PeriodSettings.from_config(context.config.registry))
    mentor = registry.register_mentor(context.session, values, period, context.actor, item.id)
    item.mentor_id = mentor.id
    plan_applicant_mail(context.session, context.services, item, "result_approved", f"result:{item.id}:approved",
                        mentor=mentor, period=period_words(period))
    return DecisionResult(
        f"登録しました。登録番号 {mentor.registration_number}、登録期間 {period.registered_on} 〜 {period.expires_on}、"
        f"登録簿のメールアドレス {mentor.email or 'なし'}{_address_source(item, mentor.email)}",
        {"registration_number": mentor.registration_number, "expires_on": period.expires_on.isoformat()},
        mentor=mentor)


def _address_source(item: ReviewItem, address: str | None) -> str:
    """Return a note that the registry took the Form 1 address rather than the sender's, else nothing."""
    if address and item.sender_address and not review_items.same_address(address, item.sender_address):
        return f"（差出人のアドレス {item.sender_address} ではなく、登録申請書のアドレス）"
    return ""


def _approve_renewal(context: DecisionContext, item: ReviewItem, override: bool) -> DecisionResult:
    match = matched_mentor(context.session, context.services, item)
    if match is None:
        raise DecisionError("更新するメンターが登録簿に見つかりません（登録番号、または氏名と生年月日で照合します）")
    mentor = match.mentor
    if mentor.expires_on is None:
        raise DecisionError(f"登録番号 {mentor.registration_number} に登録期間満了日がありません。登録簿を確認してください")
    doubts = renewal_doubts(item, mentor, clock.today())
    if doubts and not override:
        confirm = confirmed_approval(item, context.channel)
        raise DecisionError("\n".join([f"受付番号 {item.number} はまだ承認できません。", *(f"  ・{doubt}" for doubt in doubts),
                                       f"確かめたうえで更新するときは「{confirm}」としてください"]), item_id=item.id)
    period = renewal_period(mentor.expires_on, clock.today(), PeriodSettings.from_config(context.config.registry))
    changes = registry.renew_mentor(context.session, mentor, period, context.actor, item.id)
    item.mentor_id = mentor.id
    plan_applicant_mail(context.session, context.services, item, "result_renewed", f"result:{item.id}:approved",
                        mentor=mentor, period=period_words(period))
    return DecisionResult(
        f"更新しました。登録番号 {mentor.registration_number}、新しい登録期間 {period.registered_on} 〜 {period.expires_on}",
        {"registration_number": mentor.registration_number, "changes": changes}, mentor=mentor)


# A renewal is due in the last months of a term; a term ending later than this was renewed already.
RENEWED_AHEAD_DAYS = 400


def renewal_doubts(item: ReviewItem, mentor: Mentor, today) -> list[str]:
    """Return why renewing ``mentor`` from ``item`` needs staff to confirm: a term renewed
    already, or a Form 1 whose name or registration number is another person's."""
    doubts = []
    if (mentor.expires_on - today).days > RENEWED_AHEAD_DAYS:
        doubts.append(f"登録番号 {mentor.registration_number} の登録期間は {mentor.expires_on} までで、更新の時期では"
                      "ありません（すでに更新済みの可能性があります）")
    form = item.form_values or {}
    number = (form.get("registration_number") or "").strip().upper()
    if number and number != (mentor.registration_number or "").upper():
        doubts.append(f"更新申請書の登録番号（{number}）が、更新するメンターの登録番号（{mentor.registration_number}）と異なります")
    if form.get("name") and registry.normalize_name(form["name"]) != registry.normalize_name(mentor.name):
        doubts.append(f"更新申請書の氏名（{form['name']}）が、登録簿の氏名（{mentor.name}）と異なります")
    return doubts


def reject(context: DecisionContext, item: ReviewItem, parsed: ParsedCommand) -> DecisionResult:
    if item.kind == event_review.ITEM_KIND:
        # A rejected event mails nobody; staff tell the host themselves.
        summary, detail = event_review.reject_event(context.session, item)
        close(context, item, states.REJECTED, parsed.argument)
        return DecisionResult(summary, detail)
    close(context, item, states.REJECTED, parsed.argument)
    plan_applicant_mail(context.session, context.services, item, "result_rejected", f"result:{item.id}:rejected",
                        reason=parsed.argument)
    return DecisionResult("却下しました。理由を申請者にお知らせします")


def return_for_correction(context: DecisionContext, item: ReviewItem, parsed: ParsedCommand) -> DecisionResult:
    """Send the item back to the applicant; their next mail makes it incomplete again."""
    move(item, states.RETURNED)
    count = int((item.details or {}).get("returned_count", 0)) + 1
    item.details = {**(item.details or {}), "returned_count": count}
    plan_applicant_mail(context.session, context.services, item, "result_returned",
                        f"result:{item.id}:returned:{count}", corrections=parsed.argument)
    return DecisionResult("差し戻しました。直してほしい内容を申請者にお知らせします", {"returned_count": count})


def receive_by_post(context: DecisionContext, item: ReviewItem, parsed: ParsedCommand) -> DecisionResult:
    """Tick the documents that arrived by post; the item may become ready and notify again."""
    checklist = dict(item.checklist or {role: False for role in DOCUMENT_ROLES})
    newly = [role for role in parsed.documents if not checklist.get(role)]
    for role in parsed.documents:
        checklist[role] = True
    item.checklist = checklist
    details = dict(item.details or {})
    details["received_by_post"] = review_items.merge_unique(details.get("received_by_post"), parsed.documents)
    item.details = details
    _recompute(item)
    labels = "、".join(DOCUMENT_LABELS[role] for role in parsed.documents)
    summary = f"郵送で受領しました: {labels}" if newly else f"すでに受領済みです: {labels}"
    return DecisionResult(summary, {"newly_received": newly})


def request_resubmission(context: DecisionContext, item: ReviewItem, parsed: ParsedCommand) -> DecisionResult:
    """Purge the received copies of one document, untick it and ask the applicant again."""
    role = parsed.documents[0]
    purged = []
    for document in item.documents:
        if document.role == role and document.storage_id is not None:
            purge_document(context, document, privacy_purge.RESUBMISSION_REQUESTED)
            purged.append(document.id)
    item.checklist = {**(item.checklist or {}), role: False}
    _recompute(item)
    plan_applicant_mail(context.session, context.services, item, "result_resubmission",
                        f"result:{item.id}:resubmit:{role}:{len(item.documents)}:{'.'.join(map(str, purged))}",
                        document_label=DOCUMENT_LABELS[role], reason=parsed.argument)
    return DecisionResult(f"{DOCUMENT_LABELS[role]}を破棄し、再提出をお願いしました", {"purged_documents": purged})


def purge_document(context: DecisionContext, document, reason: str) -> None:
    """Purge a document's content everywhere it is kept, audited with the deciding staff member.

    The shared purge also strips the part from the stored mail, from staff mails and,
    through the next mailbox sync, from the mailbox copy.
    """
    privacy_purge.purge_document(context.session, context.services.store, document.id, reason, context.actor,
                                 context.services.key, outbox_folder(context.config))


def hold(context: DecisionContext, item: ReviewItem, parsed: ParsedCommand) -> DecisionResult:
    move(item, states.ON_HOLD)
    return DecisionResult("保留にしました")


def resume(context: DecisionContext, item: ReviewItem, parsed: ParsedCommand) -> DecisionResult:
    if item.state != states.ON_HOLD:
        raise DecisionError(f"この案件は保留中ではありません（状態: {states.LABELS.get(item.state, item.state)}）")
    item.state = states.INCOMPLETE
    review_items.recompute_state(item)
    states.check_transition(states.ON_HOLD, item.state)
    _bump_notification(item)
    return DecisionResult("審査を再開しました")


def add_note(context: DecisionContext, item: ReviewItem, parsed: ParsedCommand) -> DecisionResult:
    details = dict(item.details or {})
    details["notes"] = [*details.get("notes", []),
                        {"at": clock.now().isoformat(), "actor": context.actor, "text": parsed.argument}]
    item.details = details
    return DecisionResult("メモを残しました")


def close_without_decision(context: DecisionContext, item: ReviewItem, parsed: ParsedCommand) -> DecisionResult:
    """Close an item that has nothing to decide without sending mail, keeping any text after 完了 as a note.

    A change notice is closed only when no change could be read from it, because a
    readable change belongs in the registry through 承認.
    """
    if item.kind == "change_notice" and _readable_changes(context, item):
        raise DecisionError("この変更届からは変更内容を読み取れています。登録簿に反映するときは「承認」、"
                            "本人に確認するときは「差戻し 内容」としてください", item_id=item.id)
    if item.kind == event_review.ITEM_KIND and item.state == states.APPROVED:
        # An approved event is the one decided item that can still be called off: its
        # notices go out over weeks, and a host may cancel in between.
        summary = event_review.call_off_event(context.session, item)
        if parsed.argument:
            add_note(context, item, parsed)
        item.state = states.DONE
        item.decided_at = clock.now()
        return DecisionResult(summary)
    summary = "完了にしました（申請者にはメールを送っていません）"
    if item.kind == event_review.ITEM_KIND:
        summary = event_review.close_event(context.session, item)
    if parsed.argument:
        add_note(context, item, parsed)
    close(context, item, states.DONE)
    return DecisionResult(summary)


def _readable_changes(context: DecisionContext, item: ReviewItem) -> list[str]:
    notice = change_notice_values(context.session, context.services, item)
    return [name for name, entry in notice.items()
            if name != "effective_date" and isinstance(entry, dict) and entry.get("new")]


def revoke_for_item(context: DecisionContext, item: ReviewItem, parsed: ParsedCommand) -> DecisionResult:
    match = matched_mentor(context.session, context.services, item)
    if match is None:
        raise DecisionError("この案件のメンターが登録簿に見つかりません")
    return revoke_mentor(context, match.mentor, parsed.argument, item)


ENDED_MENTOR_REASON = "このメンターの登録は取り消されています。この案件は承認できないため、「却下 理由」で閉じてください"


def revoke_mentor(context: DecisionContext, mentor: Mentor, reason_text: str,
                  item: ReviewItem | None = None) -> DecisionResult:
    """Revoke a registration by the bureau: status, history, pending mails cancelled, notice mailed.

    An individual number in ``reason_text`` is masked before the reason is stored or mailed.
    """
    reason = registry.revocation_reason(mask_individual_numbers(reason_text))
    registry.end_registration(context.session, mentor, registry.REVOKED, reason, context.actor,
                              item.id if item is not None else None)
    cancelled = cancel_pending(context.session, "registration revoked", mentor_id=mentor.id)
    review_items.flag_items_of_ended_mentor(context.session, mentor.id, item.id if item is not None else None,
                                            ENDED_MENTOR_REASON)
    plan_mentor_mail(context.session, context.services, mentor, "revocation_confirmation",
                     f"revocation:{mentor.id}", item=item, reason=registry.reason_wording(reason))
    return DecisionResult(f"登録番号 {mentor.registration_number} の登録を取り消しました",
                          {"reason": reason, "cancelled_mails": cancelled}, mentor=mentor)


def revoke_registration(context: DecisionContext, mentor: Mentor, reason_text: str) -> DecisionResult:
    """Revoke a registration outside any item (``mailflow registry revoke``), audited like a command."""
    with context.session.begin_nested():
        result = revoke_mentor(context, mentor, reason_text)
        context.session.add(AuditEntry(
            mentor_id=mentor.id, actor=context.actor, action="revoke", outcome="applied",
            source_message_id=context.source_message_id,
            detail={"channel": context.channel, "argument": mask_individual_numbers(reason_text), **result.detail},
        ))
        context.session.flush()
    logger.info("registration revoked mentor=%s channel=%s", mentor.id, context.channel)
    return result


def _recompute(item: ReviewItem) -> None:
    before = item.state
    if item.state == states.RETURNED:
        item.state = states.INCOMPLETE
    review_items.recompute_state(item)
    if item.state != before:
        _bump_notification(item)


def _bump_notification(item: ReviewItem) -> None:
    """Make the next notification planner run notify again, even without a new mail."""
    details = dict(item.details or {})
    details["notify_counter"] = int(details.get("notify_counter", 0)) + 1
    item.details = details


EFFECTS: dict[str, Callable[[DecisionContext, ReviewItem, ParsedCommand], DecisionResult]] = {
    "approve": approve,
    "reject": reject,
    "return_for_correction": return_for_correction,
    "receive_by_post": receive_by_post,
    "request_resubmission": request_resubmission,
    "hold": hold,
    "resume": resume,
    "add_note": add_note,
    "revoke_for_item": revoke_for_item,
    "close_without_decision": close_without_decision,
}
