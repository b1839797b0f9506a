"""The JSON report of ``mailflow inspect`` for one mail: decoded fields and every decision.

The report is for a person who holds the file already; individual numbers in texts are
masked all the same, because reports get pasted into tickets and mails.
"""

from __future__ import annotations

from typing import Any

from mailflow.intake.analyze import IntakeRules, analyze
from mailflow.intake.findings import Analysis, DocumentFinding
from mailflow.intake.message import Address, Attachment
from mailflow.intake.privacy import mask_individual_numbers


def message_report(raw: bytes, rules: IntakeRules) -> dict[str, Any]:
    """Analyse ``raw`` without touching any state and return the report as JSON-ready values."""
    analysis = analyze(raw, rules)
    message = analysis.message
    findings = {id(finding.attachment): finding for finding in analysis.documents}
    return {
        "subject": message.subject,
        "from": _address(message.from_),
        "to": [_address(address) for address in message.to],
        "cc": [_address(address) for address in message.cc],
        "date": message.date.isoformat() if message.date else None,
        "message_id": message.message_id,
        "in_reply_to": message.in_reply_to,
        "references": list(message.references),
        "body_text": mask_individual_numbers(message.body_text),
        "body_html": mask_individual_numbers(message.body_html),
        "attachments": [_attachment(attachment, findings) for attachment in message.attachments],
        "message_kind": analysis.kind,
        "decision": analysis.decision,
        "reasons": list(analysis.reasons),
        "defects": list(message.defects) + [defect for a in message.all_attachments() for defect in a.defects],
        "forwarded_from": analysis.forwarded_from,
        "bounce": _bounce(analysis),
        "auto_reply": _auto_reply(analysis),
        "staff_token": analysis.staff_token,
        "documents": analysis.documents_present(),
        "identity_document_type": next(
            (f.identity_type for f in analysis.documents if f.role == "identity_document" and f.identity_type), None),
        "form": analysis.form,
        "warnings": [warning.as_dict() for warning in analysis.warnings],
        "manual_checks": list(analysis.manual_checks),
        "needs_attention": list(analysis.needs_attention),
        "by_post": list(analysis.by_post),
        "removed_parts": list(analysis.remove_parts),
        "encrypted_parts": list(analysis.encrypted_parts),
        "details": {key: value for key, value in analysis.details.items() if key != "body_text"},
    }


def _address(address: Address | None) -> dict[str, str] | None:
    return address.as_dict() if address else None


def _attachment(attachment: Attachment, findings: dict[int, DocumentFinding]) -> dict[str, Any]:
    finding = findings.get(id(attachment))
    return {
        "filename": mask_individual_numbers(attachment.filename) if attachment.filename else None,
        "content_type": attachment.content_type,
        "disposition": attachment.disposition,
        "sniffed_type": attachment.sniffed_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "part_id": attachment.part_id,
        "kind": attachment.kind,
        "kind_reasons": list(attachment.kind_reasons),
        "encrypted": attachment.encrypted,
        "over_limit": attachment.over_limit,
        "individual_number": bool(finding and finding.individual_number),
        "unreadable": finding.unreadable if finding else None,
        "defects": list(attachment.defects),
        "attachments": [_attachment(child, findings) for child in attachment.children],
    }


def _bounce(analysis: Analysis) -> dict[str, Any] | None:
    report = analysis.bounce
    if report is None:
        return None
    return {
        "failed_recipients": [
            {"address": failed.address, "status": failed.status, "action": failed.action,
             "diagnostic": failed.diagnostic, "permanent": failed.permanent}
            for failed in report.failed_recipients
        ],
        "reporting_mta": report.reporting_mta,
        "original_message_id": report.original_message_id,
        "original_subject": report.original_subject,
        "returned_part": report.returned_part,
    }


def _auto_reply(analysis: Analysis) -> dict[str, Any] | None:
    info = analysis.auto_reply
    if info is None:
        return None
    away = getattr(info, "away_until", None)
    return {"signals": list(getattr(info, "signals", [])), "decision": getattr(info, "decision", None),
            "away_until": away.isoformat() if away else None}
