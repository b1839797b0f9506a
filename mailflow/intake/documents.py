"""Read one attached file the way intake needs it: kind, individual numbers, form contents."""

from __future__ import annotations

import logging

from mailflow.intake.attachments import AttachmentRules, classify_document
from mailflow.intake.findings import DocumentFinding
from mailflow.intake.forms.attendance import read_attendance
from mailflow.intake.forms.challenge_list import read_challenge_list
from mailflow.intake.forms.inspect import KEY_LABELS, MAX_CID_RATIO
from mailflow.intake.forms.registration import read_registration
from mailflow.intake.identity import identity_document_type, staff_checklist
from mailflow.intake.message import Attachment
from mailflow.intake.privacy import scan_document
from mailflow.intake.text import DocumentText, document_text

logger = logging.getLogger(__name__)

FORM_TYPES = frozenset({"xlsx", "xlsm", "xls", "docx", "pdf"})
PLEDGE_SCAN_CHECK = "誓約書は文字情報のないスキャンです。署名または記名押印と日付があるか確認してください"


def read_document(attachment: Attachment, rules: AttachmentRules, message_text: str = "") -> DocumentFinding:
    """Classify ``attachment`` and read what a later stage needs from it. Never raises on bad files.

    ``message_text`` is the sender's own text (quotes removed): it may name the kind of
    identity document a photo shows.
    """
    if attachment.over_limit is not None or attachment.encrypted:
        text = DocumentText()
    else:
        text = document_text(attachment.payload, attachment.sniffed_type)
    decision = classify_document(text, attachment.filename, attachment.sniffed_type, rules, attachment.encrypted)
    attachment.kind = decision.kind
    attachment.kind_reasons = decision.reasons
    finding = DocumentFinding(attachment=attachment, role=decision.kind, has_text_layer=text.has_text_layer,
                              defects=list(text.defects))

    if attachment.encrypted or attachment.over_limit is not None:
        finding.acceptable = False
        finding.unreadable = ("パスワード付きのため開封していません" if attachment.encrypted
                              else f"上限（{attachment.over_limit}）を超えるため読んでいません")
        return finding

    if scan_document(attachment.filename, text.text):
        finding.individual_number = True
        finding.acceptable = False
    if finding.role == "identity_document":
        finding.identity_type = identity_document_type(attachment, text.text, message_text)
        finding.manual_checks.extend(staff_checklist(finding.identity_type))
    elif finding.role == "pledge_form" and attachment.sniffed_type == "pdf" and not text.has_text_layer:
        finding.manual_checks.append(PLEDGE_SCAN_CHECK)
    elif finding.role == "registration_form":
        _read_registration(finding, text)
    elif finding.role == "challenge_list":
        _read_table_form(finding, text, read_challenge_list, "参加企業課題一覧")
    elif finding.role == "attendance_form":
        _read_table_form(finding, text, read_attendance, "出席希望登録票")
    elif finding.role == "other" and attachment.sniffed_type == "pdf":
        # A form whose text cannot be read is not recognised as one: hold it for a person
        # rather than let a receipt call the form missing.
        reason = untrusted_reason(text, "pdf")
        if reason:
            finding.unreadable = f"内容を確認できない PDF があります: {reason}"
    if finding.individual_number:
        # Nothing read from a document that must not be kept may be stored.
        finding.record = None
        finding.reading = None
    return finding


def untrusted_reason(text: DocumentText, sniffed: str) -> str | None:
    """Return why a file's text must not be read as applicant data, or None."""
    if sniffed not in FORM_TYPES:
        return "表計算・文書・PDF 以外の形式のため、内容を自動で読めません"
    if sniffed == "pdf" and not text.has_text_layer:
        return "文字情報のないスキャン PDF のため、内容を自動で読めません（職員が画像で確認してください）"
    if text.cid_ratio >= MAX_CID_RATIO:
        return f"PDF の文字の {text.cid_ratio:.0%} が文字コードに変換できない (cid:N) のため、内容を読めません"
    if text.cid_ratio > 0:
        # A few (cid:N) glyphs mean the font maps some characters wrongly; without the
        # form's labels the rest cannot be trusted either.
        missing = read_registration(text.grids).missing_labels
        if any(key in missing for key in KEY_LABELS):
            return "PDF の文字の一部が (cid:N) で、様式の項目名（氏名・生年月日・住所）も読めないため、内容を信頼できません"
    if text.defects and not text.grids:
        return "ファイルを開けませんでした（壊れているか、対応していない形式です）"
    return None


def _read_registration(finding: DocumentFinding, text: DocumentText) -> None:
    sniffed = finding.attachment.sniffed_type
    reason = untrusted_reason(text, sniffed)
    if reason:
        finding.unreadable = f"登録申請書: {reason}"
        return
    record = read_registration(text.grids)
    missing = [label for key, label in KEY_LABELS.items() if key in record.missing_labels]
    if missing:
        finding.unreadable = f"登録申請書の主な項目（{'・'.join(missing)}）が見つかりません"
        if sniffed == "pdf" or text.cid_ratio > 0:
            # PDF text without its labels may be mapped to the wrong fields: keep none of it.
            return
    finding.reading = record
    finding.record = record.as_dict()
    finding.defects.extend(record.defects)
    if record.unreadable:
        finding.manual_checks.append(f"登録申請書で読み取れなかった項目があります: {'、'.join(record.unreadable)}")


def _read_table_form(finding: DocumentFinding, text: DocumentText, reader, label: str) -> None:
    reason = untrusted_reason(text, finding.attachment.sniffed_type)
    if reason:
        finding.unreadable = f"{label}: {reason}"
        return
    record = reader(text.grids)
    finding.record = record.as_dict()
    finding.defects.extend(record.defects)
