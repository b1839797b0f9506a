"""Inspect one document the way intake would: type, kind, record, warnings and decision.

Backs ``mailflow inspect FILE --json``. Some text cannot be trusted: a scan without a
text layer, or a PDF whose glyphs are ``(cid:N)`` or that lacks the form's labels. Such a
document gets the decision ``manual_review`` with the reason, and its text is never
returned as applicant data.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mailflow.intake.attachments import AttachmentRules, load_attachment_rules
from mailflow.intake.forms.eligibility import EligibilityRules, check_eligibility, load_eligibility_rules
from mailflow.intake.sniff import sniff
from mailflow.paths import DEFAULT_RULES_DIR

logger = logging.getLogger(__name__)

PROCESS = "process"
MANUAL_REVIEW = "manual_review"
# A text layer with at least this share of (cid:N) glyphs is unreadable as a whole. Below
# it, a few such glyphs still mean manual review when the form's labels are missing too.
MAX_CID_RATIO = 0.5
# Form 1 labels without which a record is not trusted: who the applicant is.
KEY_LABELS = {"name": "氏名", "birth_date": "生年月日", "address": "住所"}
# Kinds whose content is read as data: an unreadable one goes to a person.
HELD_KINDS = frozenset({"registration_form", "challenge_list", "attendance_form", "other"})


def inspect_document(
    payload: bytes,
    filename: str | None,
    attachment_rules: AttachmentRules | None = None,
    eligibility_rules: EligibilityRules | None = None,
    rules_dir: Path = DEFAULT_RULES_DIR,
) -> dict:
    """Return what intake makes of one document, as JSON-ready values.

    Keys: ``sniffed_type``, ``kind``, ``decision`` (process or manual_review), ``record``
    (the form's contents, or None), ``warnings`` ([{code, message, values}]), ``reasons``
    (Japanese sentences for staff), ``checklist`` (what staff must confirm by hand) and
    ``defects``. The document goes through the same reader as an attachment of a mail.
    Raises RulesError only when the rule files are invalid.
    """
    from mailflow.intake.containers import expand
    from mailflow.intake.documents import read_document
    from mailflow.intake.message import Attachment

    attachment_rules = attachment_rules or load_attachment_rules(rules_dir)
    eligibility_rules = eligibility_rules or load_eligibility_rules(rules_dir)
    attachment = Attachment(filename=filename, content_type="application/octet-stream", disposition="attachment",
                            payload=payload, part_id="1", sniffed_type=sniff(payload))
    expand(attachment)
    finding = read_document(attachment, attachment_rules)
    result = {
        "sniffed_type": attachment.sniffed_type,
        "kind": finding.role,
        # A file that was not read at all (over a limit, encrypted, broken) goes to a person
        # whatever kind its name suggests.
        "decision": MANUAL_REVIEW if finding.unreadable and (finding.role in HELD_KINDS or not finding.acceptable)
        else PROCESS,
        "record": finding.record,
        "warnings": [],
        "reasons": list(attachment.kind_reasons) + ([finding.unreadable] if finding.unreadable else []),
        "checklist": list(finding.manual_checks),
        "defects": list(finding.defects),
    }
    if attachment.sniffed_type == "pdf" and finding.has_text_layer is False:
        result["decision"] = MANUAL_REVIEW
        result["warnings"].append({"code": "image_only_pdf", "message": finding.unreadable or
                                   "文字情報のないスキャン PDF のため、内容を自動で読めません", "values": {}})
    if finding.individual_number:
        result["decision"] = MANUAL_REVIEW
        result["warnings"].append({"code": "individual_number_found",
                                   "message": "個人番号（マイナンバー）が含まれています", "values": {}})
    if finding.reading is not None:
        eligibility = check_eligibility(finding.reading, eligibility_rules)
        result["warnings"].extend(
            {"code": warning.code, "message": warning.message, "values": warning.values}
            for warning in eligibility.warnings
        )
        result["checklist"].extend(eligibility.checklist)
    logger.info("document inspected: sniffed=%s kind=%s decision=%s",
                attachment.sniffed_type, finding.role, result["decision"])
    return result
