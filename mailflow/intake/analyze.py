"""Run the whole intake analysis of one raw message, without touching any state.

Order matters: our own mail, bounces and automatic replies are recognised from headers
and body before any attachment is read; then every document (containers and forwards
opened) is classified, scanned for individual numbers and read as a form; last the
message kind is decided with the forms' answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from mailflow.intake.attachments import AttachmentRules, classify_document, load_attachment_rules
from mailflow.intake.classify import Classification, MessageRules, classify_message, load_message_rules, screen_message
from mailflow.intake.documents import read_document
from mailflow.intake.findings import Analysis, DocumentFinding, Warning
from mailflow.intake.forms.eligibility import EligibilityRules, check_eligibility, load_eligibility_rules
from mailflow.intake.forms.registration import RegistrationRecord
from mailflow.intake.masking import mask_password_notice
from mailflow.intake.message import Attachment, Message
from mailflow.intake.parse import parse_message
from mailflow.intake.privacy import find_individual_numbers, mask_individual_numbers
from mailflow.intake.quoting import strip_quotes
from mailflow.intake.redact import MaskedCopy, mask_message_text, remove_parts

logger = logging.getLogger(__name__)

REMOVED_NOTE = "個人番号（マイナンバー）が写っていたため、この書類は保存していません。"
CONTAINER_TYPES = frozenset({"zip", "tnef", "eml"})


@dataclass(frozen=True)
class IntakeRules:
    """Every rule file intake reads, loaded and checked once at start-up."""

    messages: MessageRules
    attachments: AttachmentRules
    eligibility: EligibilityRules


def load_intake_rules(rules_dir: Path) -> IntakeRules:
    """Load the intake rule files; raises RulesError naming every bad file, key and value."""
    return IntakeRules(
        messages=load_message_rules(rules_dir),
        attachments=load_attachment_rules(rules_dir),
        eligibility=load_eligibility_rules(rules_dir),
    )


def analyze(raw: bytes, rules: IntakeRules) -> Analysis:
    """Parse and judge ``raw``; returns the Analysis the review stage files.

    ``Analysis.stored_raw`` is set when the copy to keep differs from ``raw``: documents
    with an individual number removed, and individual numbers written in the text (or,
    in a password notice, the password) masked. Never raises on malformed mail (the
    parser reports defects instead); a programming error does raise, and the caller
    quarantines the message with the reason.
    """
    analysis, password_notice = _judge(raw, rules)
    _mask_stored_text(analysis, raw, password_notice)
    analysis.quarantine_reason = quarantine_reason(analysis)
    return analysis


def quarantine_reason(analysis: Analysis) -> str | None:
    """Return why a message cannot be filed at all, in Japanese for the person who looks.

    Automatic replies and bounces are never quarantined here: they need no answer and no
    sender. A message with no sender address cannot be answered or matched; a message
    that nothing classified and whose MIME structure is damaged may be an application
    that did not survive transport, so a person looks at it.
    """
    if analysis.decision in ("ignore_auto_reply", "bounce"):
        return None
    message = analysis.message
    if message.from_ is None or "@" not in (message.from_.address or ""):
        return "差出人のメールアドレスがないため、返信も案件への振り分けもできません"
    if analysis.kind == "other" and message.defects:
        shown = "; ".join(message.defects[:3])
        more = f"（ほか {len(message.defects) - 3} 件）" if len(message.defects) > 3 else ""
        return f"メールの構造が壊れていて、内容を確実に読み取れません。元のメールを開いて確認してください（技術的な詳細: {shown}{more}）"
    return None


def mask_unanalysed(raw: bytes) -> MaskedCopy | None:
    """Return ``raw`` with individual numbers in its text masked, for a message that could not be analysed.

    Returns None when nothing was masked or masking failed too, so that the caller keeps
    ``raw``. Never raises.
    """
    try:
        masked = mask_message_text(raw, mask_individual_numbers)
    except Exception as exc:  # the message already broke analysis; keep it as it came
        logger.warning("masking an unanalysed message failed error=%s", type(exc).__name__)
        return None
    return masked if masked.parts else None


def _judge(raw: bytes, rules: IntakeRules) -> tuple[Analysis, bool]:
    """Return the analysis of ``raw`` and whether the message is a password notice."""
    message = parse_message(raw)
    screened = screen_message(message, rules.messages)
    if screened is not None:
        return _from_classification(message, screened), False

    own_text = strip_quotes(message.body_text)
    findings = [read_document(attachment, rules.attachments, own_text) for attachment in leaf_documents(message)]
    form_finding = next((f for f in findings if f.role == "registration_form" and f.record), None)
    form = form_finding.record if form_finding else None
    classification = classify_message(message, rules.messages,
                                      form_application_type=form.get("application_type") if form else None)
    analysis = _from_classification(message, classification)
    analysis.documents = findings
    password_notice = "password_notice" in classification.matched_rules
    if classification.kind == "staff_reply":
        return analysis, password_notice

    analysis.form = form
    _check_documents(analysis, findings)
    _check_form(analysis, form_finding, rules.eligibility)
    _check_body(analysis, rules.messages)
    _collect_details(analysis)
    if analysis.remove_parts:
        analysis.stored_raw = remove_parts(raw, analysis.remove_parts, REMOVED_NOTE)
    return analysis, password_notice


def _mask_stored_text(analysis: Analysis, raw: bytes, password_notice: bool) -> None:
    """Mask individual numbers (and a password notice's password) in the copy that is kept.

    The masked Subject replaces ``message.subject``, which is stored as a column, and the
    kept body text is masked the same way. ``masked_for`` lists what was found.
    """
    stored = analysis.stored_raw if analysis.stored_raw is not None else raw
    maskers = [("individual_number", mask_individual_numbers)]
    if password_notice:
        maskers.append(("password", mask_password_notice))
    for reason, masker in maskers:
        masked = mask_message_text(stored, masker)
        if masked.parts:
            stored = masked.raw
            analysis.masked_parts = list(dict.fromkeys([*analysis.masked_parts, *masked.parts]))
            analysis.masked_for.append(reason)
        analysis.message.subject = masker(analysis.message.subject)
        for address in [analysis.message.from_, *analysis.message.to, *analysis.message.cc,
                        *analysis.message.reply_to]:
            if address is not None:
                address.name = masker(address.name)
        if "body_text" in analysis.details:
            analysis.details["body_text"] = masker(analysis.details["body_text"])
    if analysis.masked_parts:
        analysis.stored_raw = stored


def leaf_documents(message: Message) -> list[Attachment]:
    """Return every file a person sent: direct attachments, container members and the
    files inside forwarded mail, but not the containers that only wrap them."""
    leaves = []
    for attachment in message.all_attachments():
        if attachment.children or (attachment.sniffed_type in CONTAINER_TYPES and not attachment.encrypted
                                   and attachment.over_limit is None and attachment.forwarded is not None):
            continue
        leaves.append(attachment)
    return leaves


def _from_classification(message: Message, classification: Classification) -> Analysis:
    return Analysis(
        message=message,
        kind=classification.kind,
        decision=classification.decision,
        reasons=list(classification.reasons),
        staff_token=classification.staff_token,
        forwarded_from=classification.forwarded_from,
        bounce=classification.bounce,
        auto_reply=classification.auto_reply,
        send_reply=classification.send_reply,
    )


def _top_part(part_id: str) -> str:
    """Return the MIME part that carries ``part_id``: a zip member is removed with its zip."""
    return part_id.split("/", 1)[0]


def _check_documents(analysis: Analysis, findings: list[DocumentFinding]) -> None:
    held_files: dict[str, list[str]] = {}
    for finding in findings:
        attachment = finding.attachment
        if finding.individual_number:
            analysis.remove_parts.append(_top_part(attachment.part_id))
            if "individual_number_found" not in analysis.warning_codes():
                analysis.warnings.append(Warning(
                    "individual_number_found",
                    "書類に個人番号（マイナンバー）が写っていたため、その書類は保存せず、マスキングした写しの再送を依頼します",
                ))
                analysis.needs_attention.append("個人番号が写った書類を破棄しました。再送された写しを確認してください")
        if attachment.encrypted:
            analysis.encrypted_parts.append(_top_part(attachment.part_id))
        held = attachment.encrypted or attachment.over_limit is not None  # reported once, below
        if finding.unreadable and not held and finding.role in ("registration_form", "challenge_list", "other"):
            # A file that could not be read at all is named, because its kind is unknown.
            line = finding.unreadable if finding.acceptable else f"{_file_label(attachment)}: {finding.unreadable}"
            if line not in analysis.needs_attention:
                analysis.needs_attention.append(line)
        if attachment.over_limit:
            held_files.setdefault(finding.unreadable or attachment.over_limit, []).append(_file_label(attachment))
        if attachment.sniffed_type == "pdf" and finding.has_text_layer is False and \
                "image_only_pdf" not in analysis.warning_codes():
            analysis.warnings.append(Warning("image_only_pdf", "文字情報のない PDF があり、内容を自動で確認できません"))
        analysis.manual_checks.extend(check for check in finding.manual_checks if check not in analysis.manual_checks)
    for reason, names in held_files.items():
        # One line per limit, however many members of a zip bomb it held.
        files = names[0] if len(names) == 1 else f"{names[0]} ほか {len(names) - 1} 件"
        analysis.needs_attention.append(f"上限を超えるファイルがあります（{files}）: {reason}")
    if held_files and analysis.decision == "process":
        # A file held over a limit may be an attack or a lost form: a person decides.
        analysis.decision = "manual_review"
    if analysis.encrypted_parts:
        analysis.needs_attention.append(
            "パスワード付きのファイルがあります。開封せずに保留し、パスワードなしでの再送を依頼しました")
    analysis.remove_parts = list(dict.fromkeys(analysis.remove_parts))
    analysis.encrypted_parts = list(dict.fromkeys(analysis.encrypted_parts))


def _file_label(attachment: Attachment) -> str:
    """Return the file's name for staff, with any individual number in it masked."""
    return mask_individual_numbers(attachment.filename) if attachment.filename else f"添付 {attachment.part_id}"


def _check_form(analysis: Analysis, form_finding: DocumentFinding | None, rules: EligibilityRules) -> None:
    if form_finding is None or form_finding.reading is None:
        return
    record: RegistrationRecord = form_finding.reading
    eligibility = check_eligibility(record, rules)
    for warning in eligibility.warnings:
        analysis.warnings.append(Warning(warning.code, warning.message, dict(warning.values)))
    analysis.manual_checks.extend(eligibility.checklist)
    analysis.form_unreadable = list(record.unreadable)
    sender = analysis.message.from_.address if analysis.message.from_ else None
    if record.email and sender and record.email.lower() != sender.lower():
        analysis.warnings.append(Warning(
            "sender_differs_from_form_email",
            "差出人のメールアドレスが、登録申請書のメールアドレスと異なります",
            {"sender": sender, "form_email": record.email},
        ))


def _check_body(analysis: Analysis, rules: MessageRules) -> None:
    own_text = strip_quotes(analysis.message.body_text)
    if any(pattern.search(own_text) for pattern in rules.identity_by_post):
        analysis.by_post.append("identity_document")
        analysis.warnings.append(Warning("identity_document_by_post", "本人確認書類は郵送するとの記載があります"))
    if find_individual_numbers(analysis.message.body_text):
        analysis.warnings.append(Warning("individual_number_in_body", "本文に個人番号（マイナンバー）らしき番号があります"))
        analysis.needs_attention.append("本文に個人番号らしき番号があります（保存した本文では伏せています）")


def _collect_details(analysis: Analysis) -> None:
    from mailflow.intake.notices import (
        find_registration_number,
        parse_change_notice,
        parse_withdrawal,
    )

    message = analysis.message
    own_text = strip_quotes(message.body_text)
    number = (analysis.form or {}).get("registration_number") or find_registration_number(
        f"{message.subject}\n{own_text}")
    if number:
        analysis.details["registration_number"] = number
    if analysis.kind == "change_notice":
        analysis.details["change_notice"] = parse_change_notice(own_text)
    elif analysis.kind == "withdrawal":
        analysis.details["withdrawal"] = parse_withdrawal(own_text)
    if analysis.kind in ("inquiry", "change_notice", "withdrawal", "other") or analysis.decision == "manual_review":
        analysis.details["body_text"] = mask_individual_numbers(own_text)[:20000]
    for finding in analysis.documents:
        if finding.role == "challenge_list" and finding.record:
            analysis.details["event"] = finding.record
            break
