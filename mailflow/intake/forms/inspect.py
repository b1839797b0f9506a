"""Inspect one document the way intake would: type, kind, record, warnings and decision.

Backs ``mailflow inspect FILE --json``. Some text cannot be trusted: a scan without a
text layer, or a PDF whose glyphs are ``(cid:N)`` or that lacks the form's labels. Such a
document gets the decision ``manual_review`` with the reason, and its text is never
returned as applicant data.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mailflow.intake.attachments import AttachmentRules, classify_document, load_attachment_rules
from mailflow.intake.forms.attendance import AttendanceForm, read_attendance
from mailflow.intake.forms.challenge_list import ChallengeList, read_challenge_list
from mailflow.intake.forms.eligibility import EligibilityRules, check_eligibility, load_eligibility_rules
from mailflow.intake.forms.registration import RegistrationRecord, read_registration
from mailflow.intake.sniff import sniff
from mailflow.intake.text import DocumentText, document_text
from mailflow.paths import DEFAULT_RULES_DIR

logger = logging.getLogger(__name__)

PROCESS = "process"
MANUAL_REVIEW = "manual_review"
# A text layer with at least this share of (cid:N) glyphs is unreadable as a whole. Below
# it, a few such glyphs still mean manual review when the form's labels are missing too.
MAX_CID_RATIO = 0.5
# Form 1 labels without which a record is not trusted: who the applicant is.
KEY_LABELS = {"name": "氏名", "birth_date": "生年月日", "address": "住所"}


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
    ``defects``. Raises RulesError only when the rule files are invalid.
    """
    attachment_rules = attachment_rules or load_attachment_rules(rules_dir)
    eligibility_rules = eligibility_rules or load_eligibility_rules(rules_dir)
    sniffed = sniff(payload)
    text = document_text(payload, sniffed)
    kind = classify_document(text, filename, sniffed, attachment_rules)
    result = {
        "sniffed_type": sniffed,
        "kind": kind.kind,
        "decision": PROCESS,
        "record": None,
        "warnings": [],
        "reasons": list(kind.reasons),
        "checklist": [],
        "defects": list(text.defects),
    }
    untrusted = _untrusted_text(text, sniffed)
    if untrusted:
        result["decision"] = MANUAL_REVIEW
        result["reasons"].append(untrusted)
        if sniffed == "pdf" and not text.has_text_layer:
            result["warnings"].append({"code": "image_only_pdf", "message": untrusted, "values": {}})
    elif kind.kind == "registration_form":
        _add_registration(result, text, eligibility_rules, keep_partial=sniffed != "pdf")
    elif kind.kind == "challenge_list":
        _add_record(result, read_challenge_list(text.grids))
    elif kind.kind == "attendance_form":
        _add_record(result, read_attendance(text.grids))
    if text.defects and not text.grids and sniffed in ("xlsx", "xlsm", "xls", "docx", "pdf"):
        result["decision"] = MANUAL_REVIEW
        result["reasons"].append("ファイルを開けませんでした（壊れているか、対応していない形式です）")
    logger.info("document inspected: sniffed=%s kind=%s decision=%s", sniffed, kind.kind, result["decision"])
    return result


def _untrusted_text(text: DocumentText, sniffed: str) -> str | None:
    """Return why a PDF's text must not be read as data, or None when it can be."""
    if sniffed != "pdf":
        return None
    if not text.has_text_layer:
        return "文字情報のないスキャン PDF のため、内容を自動で読めません（職員が画像で確認してください）"
    if text.cid_ratio >= MAX_CID_RATIO:
        return f"PDF の文字の {text.cid_ratio:.0%} が文字コードに変換できない (cid:N) のため、内容を読めません"
    if text.cid_ratio > 0:
        record = read_registration(text.grids)
        if any(key in record.missing_labels for key in KEY_LABELS):
            return "PDF の文字の一部が (cid:N) で、様式の項目名（氏名・生年月日・住所）も読めないため、内容を信頼できません"
    return None


def _add_registration(
    result: dict, text: DocumentText, eligibility_rules: EligibilityRules, keep_partial: bool
) -> None:
    """Add Form 1's record, warnings and checklist; without its key labels, hold it for staff.

    A PDF's partial record is dropped, because text that lacks the labels may be mapped
    wrongly. A workbook's or Word file's cells are what the applicant typed, so they are kept.
    """
    record = read_registration(text.grids)
    missing = [key for key in KEY_LABELS if key in record.missing_labels]
    if missing:
        result["decision"] = MANUAL_REVIEW
        names = "・".join(KEY_LABELS[key] for key in missing)
        result["reasons"].append(f"登録申請書の主な項目（{names}）が見つかりません")
        if not keep_partial:
            result["defects"].extend(record.defects)
            return
    _add_record(result, record)
    eligibility = check_eligibility(record, eligibility_rules)
    result["warnings"].extend(
        {"code": warning.code, "message": warning.message, "values": warning.values}
        for warning in eligibility.warnings
    )
    result["checklist"].extend(eligibility.checklist)
    if record.unreadable:
        result["checklist"].append(f"読み取れなかった項目があります: {'、'.join(record.unreadable)}")


def _add_record(result: dict, record: RegistrationRecord | ChallengeList | AttendanceForm) -> None:
    result["record"] = record.as_dict()
    result["defects"].extend(record.defects)
