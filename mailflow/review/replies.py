"""Handle a staff reply: check who sent it and which item it names, apply its command, answer.

The checks run in this order, and the first that fails refuses the reply:

1. The mail has a Message-ID that no earlier staff reply had. A command is applied once
   even if the mail arrives twice; the intake ledger already drops byte-identical
   copies, and this catches a copy re-delivered with other trace headers. Two different
   mails with the same command are both applied (a second note is wanted; a second
   approval fails on the item's state), so there is no time-window rule.
2. The sender is on ``bureau.staff_addresses`` and authenticated (``review.auth``).
3. Exactly one token is named (sub-address and subject), it belongs to an item, any
   In-Reply-To/References pointing at our staff mails point at that same item, the item
   is open and the token has not expired. The Message-IDs alone never identify an item:
   they are not secret, since every reply and forward repeats them.

A refusal changes nothing but an AuditEntry (outcome ``refused``) and is reported to the
staff list, never to the sender. A reply that passes the checks but holds no readable
command is answered to its (authenticated) sender with the valid commands.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.db.models import AuditEntry, InboundMessage, Outbox, ReviewItem
from mailflow.errors import MailflowError
from mailflow.intake.findings import Analysis
from mailflow.intake.message import Message
from mailflow.review import states
from mailflow.review.auth import check_sender
from mailflow.review.commands import REGISTRY, ParseFailure, help_entries, parse_reply
from mailflow.review.decisions import DecisionContext, apply_command
from mailflow.review.mailings import STAFF_THREAD_KINDS, Services, plan_staff_answer, plan_staff_list_mail

logger = logging.getLogger(__name__)

ACTION = "staff_reply"
TOKEN = re.compile(r"(?<![0-9A-Za-z])MF[0-9A-HJKMNP-TV-Z]{10}(?![0-9A-Za-z])", re.IGNORECASE)
SUBADDRESS_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To")

REFUSAL_TEXTS = {
    "missing_message_id": "Message-ID がないため、二重の処理を防げません",
    "duplicate_message_id": "同じ Message-ID の返信をすでに受け取っています（再送または再生の可能性）",
    "from_ambiguous": "差出人（From）が1つのアドレスとして読めません（複数のアドレス、または解釈が割れる書き方）",
    "not_staff": "差出人が職員のアドレスの一覧にありません",
    "not_authenticated": "送信元の認証（DMARC、DKIM、SPF、または社内メールの印）に合格していません",
    "no_token": "件名にも宛先にも案件のトークンがありません",
    "token_conflict": "件名・宛先・返信先のメールが、別々の案件を指しています",
    "unknown_token": "トークンに当たる案件がありません",
    "item_closed": "案件はすでに承認・却下・完了のいずれかになっています",
    "token_expired": "トークンの有効期限が切れています",
}


@dataclass
class ReplyOutcome:
    """Outcome of one staff reply: ``status`` is applied, refused, unreadable or failed."""

    status: str
    reason: str | None = None
    item: ReviewItem | None = None


def handle_staff_reply(session: Session, services: Services, inbound: InboundMessage,
                       analysis: Analysis) -> ReplyOutcome:
    """Authenticate, parse and apply one staff reply stored as ``inbound``; plan the answers.

    Runs in the caller's transaction. Raises nothing for a bad reply; every outcome is
    audited and returned.
    """
    message = analysis.message
    refusal, item, sender = _check(session, services, message, analysis.staff_token)
    if refusal is not None:
        return _refuse(session, services, inbound, message, refusal, item, sender)

    parsed = parse_reply(message.body_text)
    context = DecisionContext(session, services, actor=sender, source_message_id=message.message_id)
    if isinstance(parsed, ParseFailure):
        _record(session, item, sender, message, "refused", {"reason": parsed.reason, "line": parsed.line,
                                                              "inbound_id": inbound.id})
        _answer_help(session, services, inbound, message, sender, item, parsed.message, parsed.line)
        return ReplyOutcome("unreadable", parsed.reason, item)
    try:
        result = apply_command(context, item, parsed)
    except MailflowError as error:
        _record(session, item, sender, message, "failed", {"command": parsed.command.name, "line": parsed.line,
                                                           "error": error.message, "inbound_id": inbound.id})
        _answer_help(session, services, inbound, message, sender, item, error.message, parsed.line)
        logger.info("staff command failed item=%s command=%s", item.id, parsed.command.name)
        return ReplyOutcome("failed", type(error).__name__, item)
    plan_staff_answer(session, services, sender, message.message_id, "staff_confirmation",
                      f"staff-confirmation:{inbound.id}", item, usage=parsed.command.usage, line=parsed.line,
                      argument=parsed.argument, summary=result.summary,
                      state_label=states.LABELS.get(item.state, item.state))
    return ReplyOutcome("applied", None, item)


def _check(session: Session, services: Services, message: Message,
           classified_token: str | None) -> tuple[str | None, ReviewItem | None, str]:
    """Return (refusal code or None, the item, the sender address) for a staff reply."""
    if not message.message_id:
        return "missing_message_id", None, _sender(message)
    if _seen_before(session, message.message_id):
        return "duplicate_message_id", None, _sender(message)
    check = check_sender(message, services.config.staff, services.config.bureau.staff_addresses)
    if not check.ok:
        return check.reason, None, check.address or _sender(message)
    item, reason = resolve_item(session, message, classified_token)
    return reason, item, check.address or ""


def resolve_item(session: Session, message: Message,
                 classified_token: str | None = None) -> tuple[ReviewItem | None, str | None]:
    """Return the item a reply names and None, or (the item if known, a refusal code)."""
    tokens = named_tokens(message)
    if classified_token:
        tokens.add(classified_token.upper())
    if not tokens:
        return None, "no_token"
    if len(tokens) > 1:
        return None, "token_conflict"
    item = session.scalar(select(ReviewItem).where(ReviewItem.token == tokens.pop()))
    if item is None:
        return None, "unknown_token"
    threaded = threaded_item_ids(session, message)
    if threaded and threaded != {item.id}:
        return item, "token_conflict"
    if not states.is_open(item.state):
        return item, "item_closed"
    expires = clock.as_utc(item.token_expires_at)
    if expires is not None and expires <= clock.now():
        return item, "token_expired"
    return item, None


def named_tokens(message: Message) -> set[str]:
    """Return every token in the sub-address of the address headers and in the subject, upper case."""
    tokens = set()
    for name in SUBADDRESS_HEADERS:
        for value in message.header_all(name):
            for local in re.findall(r"([^\s<>,;:\"@]+)@", value):
                if "+" in local:
                    detail = local.split("+", 1)[1]
                    if TOKEN.fullmatch(detail):
                        tokens.add(detail.upper())
    tokens.update(match.upper() for match in TOKEN.findall(message.subject or ""))
    return tokens


def threaded_item_ids(session: Session, message: Message) -> set[int]:
    """Return the items whose staff mails the reply's In-Reply-To or References name."""
    ids = {value for value in [message.in_reply_to, *message.references] if value}
    if not ids:
        return set()
    rows = session.scalars(select(Outbox.item_id).where(Outbox.message_id.in_(sorted(ids)),
                                                       Outbox.kind.in_(STAFF_THREAD_KINDS)))
    return {item_id for item_id in rows if item_id is not None}


def _seen_before(session: Session, message_id: str) -> bool:
    """Tell whether a staff reply with this Message-ID was applied, answered or refused before."""
    actions = [ACTION, *(command.name for command in REGISTRY)]
    count = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.source_message_id == message_id, AuditEntry.action.in_(actions)))
    return bool(count)


def _sender(message: Message) -> str:
    return message.from_.address if message.from_ else ""


def _record(session: Session, item: ReviewItem | None, sender: str, message: Message, outcome: str,
            detail: dict) -> None:
    session.add(AuditEntry(item_id=item.id if item is not None else None, actor=sender or "unknown",
                           action=ACTION, outcome=outcome, source_message_id=message.message_id, detail=detail))


def _refuse(session: Session, services: Services, inbound: InboundMessage, message: Message, reason: str,
            item: ReviewItem | None, sender: str) -> ReplyOutcome:
    _record(session, item, sender, message, "refused", {"reason": reason, "inbound_id": inbound.id})
    logger.warning("staff reply refused inbound=%s item=%s reason=%s", inbound.id,
                   item.id if item is not None else None, reason)
    if _replies_to_staff_answer(session, message):
        # An out-of-office reply to a refusal or help mail would be refused and reported
        # again, for ever: a reply to our own answer is recorded, never reported.
        logger.info("staff refusal report skipped inbound=%s reason=reply_to_our_answer", inbound.id)
    elif _refusal_reports_left(session, services):
        plan_staff_list_mail(session, services, "staff_refusal", f"staff-refusal:{inbound.id}", item,
                             reason_text=REFUSAL_TEXTS.get(reason, reason), sender=sender,
                             message_id=message.message_id, inbound_id=inbound.id)
    else:
        logger.warning("staff refusal report skipped inbound=%s reason=hourly_limit", inbound.id)
    return ReplyOutcome("refused", reason, item)


STAFF_ANSWER_KINDS = ("staff_refusal", "staff_help", "staff_confirmation")
# Help mails (the list of valid commands) one staff address gets in an hour at most.
HELP_MAILS_PER_HOUR = 3


def _replies_to_staff_answer(session: Session, message: Message) -> bool:
    """Tell whether ``message`` answers a refusal, help or confirmation mail we sent."""
    thread = [value for value in [message.in_reply_to, *message.references] if value]
    if not thread:
        return False
    found = session.scalar(select(Outbox.id).where(Outbox.message_id.in_(thread),
                                                   Outbox.kind.in_(STAFF_ANSWER_KINDS)).limit(1))
    return found is not None


def _refusal_reports_left(session: Session, services: Services) -> bool:
    """Allow ``staff.refusal_reports_per_hour`` reports, so a flood of forgeries cannot flood staff."""
    since = clock.now() - dt.timedelta(hours=1)
    sent = session.scalar(select(func.count()).select_from(Outbox).where(
        Outbox.kind == "staff_refusal", Outbox.created_at >= since))
    return (sent or 0) < services.config.staff.refusal_reports_per_hour


def _help_mails_last_hour(session: Session, sender: str) -> int:
    """Return how many help mails went to ``sender`` in the last hour."""
    since = clock.now() - dt.timedelta(hours=1)
    recipients = session.scalars(select(Outbox.recipients).where(Outbox.kind == "staff_help",
                                                                 Outbox.created_at >= since))
    return sum(1 for listed in recipients if sender.lower() in {address.lower() for address in listed or []})


def _answer_help(session: Session, services: Services, inbound: InboundMessage, message: Message, sender: str,
                 item: ReviewItem, problem: str, line: str) -> None:
    if _replies_to_staff_answer(session, message):
        # Help sent in answer to our own help mail would loop with an out-of-office reply.
        logger.info("staff help skipped inbound=%s reason=reply_to_our_answer", inbound.id)
        return
    if _help_mails_last_hour(session, sender) >= HELP_MAILS_PER_HOUR:
        # Out-of-office replies to many notifications at once would each get help.
        logger.info("staff help skipped inbound=%s reason=hourly_limit", inbound.id)
        return
    plan_staff_answer(session, services, sender, message.message_id, "staff_help", f"staff-help:{inbound.id}", item,
                      problem=problem, line=line, commands=help_entries(item.kind),
                      state_label=states.LABELS.get(item.state, item.state))
