"""Tell what kind of mail a message is, with the rules that matched and why, in words.

:func:`screen_message` recognises our own mail, bounces and automatic replies from
headers, body text and report parts, before any attachment is read as a form;
:func:`classify_message` runs the whole rule registry (see ``classify_rules``) once the
attachments' kinds are known. The rules read ``rules/messages.toml`` through
:func:`load_message_rules`.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from mailflow.intake.autoreply import AutoReplyInfo, detect_auto_reply
from mailflow.intake.bounce import BounceReport, detect_bounce
from mailflow.intake.classify_rules import (
    CONTENT,
    REGISTRY,
    SCREEN,
    STAFF,
    Finding,
    MessageFacts,
    find_staff_token,
)
from mailflow.intake.message import Message
from mailflow.intake.message_rules import (
    APPLICATION,
    DECISIONS,
    KINDS,
    MessageRules,
    load_message_rules,
)
from mailflow.intake.quoting import find_forward, normalize_text, strip_quotes

__all__ = [
    "DECISIONS",
    "KINDS",
    "Classification",
    "MessageRules",
    "classify_message",
    "load_message_rules",
    "screen_message",
]

logger = logging.getLogger(__name__)


@dataclass
class Classification:
    """What a message is and why, for example ``Classification(kind="renewal",
    decision="process", reasons=["件名に『登録更新』があります"], matched_rules=[
    "keywords.renewal"], send_reply=True)``.

    ``decision`` is process, ignore_auto_reply, bounce or manual_review. ``reasons`` are
    Japanese sentences for staff, those behind the kind first. ``staff_token`` is the
    token of a staff reply, upper case. ``send_reply`` is true when the sender gets an
    automatic reply (a receipt, or a command confirmation for staff).
    """

    kind: str
    decision: str
    reasons: list[str] = field(default_factory=list)
    matched_rules: list[str] = field(default_factory=list)
    bounce: BounceReport | None = None
    auto_reply: AutoReplyInfo | None = None
    forwarded_from: str | None = None
    staff_token: str | None = None
    send_reply: bool = False


def screen_message(message: Message, rules: MessageRules) -> Classification | None:
    """Classify our own mail, bounces and automatic replies without reading attachments.

    Returns None for every other message, which then needs :func:`classify_message`
    after its attachments are classified. Looks at headers, the body text and the report
    parts only, so a bounce's returned files are never read as forms.
    """
    facts = _gather_facts(message, rules, form_application_type=None, with_content=False)
    findings = _run_stage(SCREEN, facts)
    deciding = next((finding for finding in findings if finding.decision), None)
    if deciding is None:
        return None
    return _finish(facts, deciding.kind or "other", deciding.decision or "process", findings, [])


def classify_message(
    message: Message, rules: MessageRules, form_application_type: str | None = None
) -> Classification:
    """Classify ``message`` after its attachments' ``kind`` has been set.

    ``form_application_type`` is Form 1's 申請区分 as the form reader returned it (for
    example "更新"), which decides between renewal and new registration. Screening runs
    first, so calling this alone is safe for bounces and automatic replies too. Never
    raises on unusual mail: what nothing matches is ``other`` with decision ``process``.
    """
    screened = screen_message(message, rules)
    if screened is not None:
        return screened
    facts = _gather_facts(message, rules, form_application_type, with_content=True)

    staff = _run_stage(STAFF, facts)
    if staff:
        token, _ = find_staff_token(message, rules.staff)
        return _finish(facts, "staff_reply", "process", staff, [], staff_token=token)

    findings = _run_stage(CONTENT, facts)
    kind, notes = _resolve_kind(findings, facts)
    forced = [finding for finding in findings if finding.decision == "manual_review"]
    decision = "manual_review" if forced or _kinds_conflict(findings) else "process"
    return _finish(facts, kind, decision, findings, notes)


def _gather_facts(
    message: Message, rules: MessageRules, form_application_type: str | None, with_content: bool
) -> MessageFacts:
    auto_reply = detect_auto_reply(message, rules.auto_reply)
    bounce = detect_bounce(message, rules.bounce)
    facts = MessageFacts(
        message=message,
        rules=rules,
        form_application_type=form_application_type,
        subject=normalize_text(message.subject),
        own_text="",
        forwarded_text="",
        forwarded_from=None,
        attachments=[],
        auto_reply=auto_reply,
        bounce=bounce,
    )
    if with_content:
        facts.own_text = normalize_text(strip_quotes(message.body_text))
        facts.attachments = list(message.all_attachments())
        facts.forwarded_from, facts.forwarded_text = _forwarded(message)
    return facts


def _forwarded(message: Message) -> tuple[str | None, str]:
    """Return the forwarded message's sender and its subject and text (NFKC), if any."""
    for attachment in message.all_attachments():
        inner = attachment.forwarded
        if inner is not None:
            sender = inner.from_.address if inner.from_ else None
            return sender, normalize_text(f"{inner.subject}\n{strip_quotes(inner.body_text)}")
    block = find_forward(message.body_text, message.subject)
    if block is None:
        return None, ""
    sender = block.sender_address or block.sender or None
    return sender, normalize_text(f"{block.subject or ''}\n{strip_quotes(block.text)}")


def _run_stage(stage: str, facts: MessageFacts) -> list[Finding]:
    findings: list[Finding] = []
    for rule in REGISTRY.stage(stage):
        findings.extend(rule.check(facts))
    return findings


def _resolve_kind(findings: list[Finding], facts: MessageFacts) -> tuple[str, list[str]]:
    """Pick the kind and any note on how: decisive findings first, then the points."""
    scores: dict[str, int] = defaultdict(int)
    for finding in findings:
        if finding.kind and not finding.decisive:
            scores[finding.kind] += finding.weight
    decisive = [finding.kind for finding in findings if finding.decisive and finding.kind]
    if decisive:
        if decisive[0] == APPLICATION:
            return _application_kind(facts, scores)
        return decisive[0], []
    if not scores:
        return "other", ["どの規則にも当たりませんでした"]

    notes: list[str] = []
    documents = scores.pop(APPLICATION, 0)
    if documents:
        target, notes = _application_kind(facts, scores)
        scores[target] += documents
    order = {name: index for index, name in enumerate(facts.rules.kind_order)}
    kind = max(scores, key=lambda name: (scores[name], -order.get(name, len(order))))
    if kind in facts.rules.question_overrides and scores.get("inquiry") and not documents:
        return "inquiry", ["質問の言葉があり、申請書類が添付されていないため、問い合わせとして扱います"]
    return kind, notes


def _application_kind(facts: MessageFacts, scores: dict[str, int]) -> tuple[str, list[str]]:
    """Tell a renewal from a registration: Form 1's 申請区分 first, then the keywords."""
    application_type = (facts.form_application_type or "").strip()
    if application_type in facts.rules.renewal_types:
        return "renewal", [f"登録申請書の申請区分が『{application_type}』です"]
    if application_type in facts.rules.registration_types:
        return "registration", [f"登録申請書の申請区分が『{application_type}』です"]
    if scores.get("renewal", 0) > scores.get("registration", 0):
        return "renewal", []
    return "registration", []


def _kinds_conflict(findings: list[Finding]) -> bool:
    """Tell whether decisive findings point to different kinds (a form and a challenge list)."""
    return len({finding.kind for finding in findings if finding.decisive}) > 1


def _finish(
    facts: MessageFacts,
    kind: str,
    decision: str,
    findings: list[Finding],
    notes: list[str],
    staff_token: str | None = None,
) -> Classification:
    supporting = {kind, APPLICATION} if kind in ("registration", "renewal") else {kind}
    first = [finding.reason for finding in findings if finding.kind in supporting]
    rest = [finding.reason for finding in findings if finding.kind not in supporting]
    if _kinds_conflict(findings):
        notes = [*notes, "種類の異なる書類や目印が同時にあります。職員が確認してください"]
    auto_reply = facts.auto_reply
    bulk = auto_reply is not None and auto_reply.bulk
    classification = Classification(
        kind=kind,
        decision=decision,
        reasons=_unique([*first, *notes, *rest]),
        matched_rules=_unique(finding.rule for finding in findings),
        bounce=facts.bounce if kind == "bounce" else None,
        auto_reply=auto_reply,
        forwarded_from=facts.forwarded_from,
        staff_token=staff_token,
        send_reply=decision == "process" and kind in facts.rules.reply_kinds and not bulk,
    )
    logger.info(
        "message classified message_id_hash=%s kind=%s decision=%s rules=%s",
        _message_id_hash(facts.message),
        kind,
        decision,
        ",".join(classification.matched_rules),
    )
    return classification


def _message_id_hash(message: Message) -> str:
    return hashlib.sha256((message.message_id or "").encode("utf-8")).hexdigest()[:12]


def _unique(values) -> list[str]:
    return list(dict.fromkeys(values))
