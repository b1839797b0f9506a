"""Read one attached file the way intake needs it: kind, individual numbers, form contents.

A file that cannot be read (held over a limit, encrypted, empty, damaged in transfer or
unopenable) gets ``unreadable`` with a Japanese reason for staff. It never counts for
the checklist, so the item goes to a person instead of passing silently as "other".
"""

from __future__ import annotations

import io
import logging
import zipfile

import olefile

from mailflow.intake.attachments import OTHER, AttachmentRules, KindDecision, classify_attachment, classify_document
from mailflow.intake.findings import DocumentFinding
from mailflow.intake.forms.attendance import read_attendance
from mailflow.intake.forms.challenge_list import read_challenge_list
from mailflow.intake.forms.grid import DAMAGED, ENCRYPTED, READER_CRASHED, UNSAFE_XML
from mailflow.intake.forms.inspect import KEY_LABELS, MAX_CID_RATIO
from mailflow.intake.forms.registration import read_registration
from mailflow.intake.identity import identity_document_type, staff_checklist
from mailflow.intake.limits import DEFAULT_LIMITS, Limits, held_limit, hold
from mailflow.intake.message import Attachment
from mailflow.intake.privacy import scan_document
from mailflow.intake.text import DocumentText, document_text

logger = logging.getLogger(__name__)

FORM_TYPES = frozenset({"xlsx", "xlsm", "xls", "docx", "pdf"})
PLEDGE_SCAN_CHECK = "誓約書は文字情報のないスキャンです。署名または記名押印と日付があるか確認してください"
EMPTY_FILE = "ファイルが空です（0 バイト）"
DAMAGED_IN_TRANSFER = "メールの送信途中でファイルが壊れているため、元の内容を復元できません"
# Transfer-decoding defects (mailflow.intake.transfer) after which the bytes differ from
# what the sender attached. Stray blanks, missing padding and lowercase hex lose nothing.
_TRANSFER_LOSSES = (
    "base64 contained characters outside its alphabet",
    "base64 continued after its padding",
    "base64 ended with a lone character",
    "quoted-printable had '=' not followed by two hex digits",
    "uuencoded line was invalid",
)
# Containers that no reader handles, named for staff when they are damaged: a truncated
# xlsx sniffs as a zip and a truncated xls as an OLE2 file.
_CONTAINER_LABELS = {"zip": "ZIP 形式のファイル", "ole": "Office 形式のファイル"}
_TYPE_LABELS = {"pdf": "PDF ファイル", "xlsx": "Excel ファイル", "xlsm": "Excel ファイル", "xls": "Excel ファイル",
                "docx": "Word ファイル"}
_OPEN_ERRORS = {
    DAMAGED: "{type}が壊れているため開けません",
    UNSAFE_XML: "{type}に安全でない定義（DTD・エンティティ宣言）が含まれているため、開いていません",
    ENCRYPTED: "{type}はパスワードで保護されているため開けません",
    READER_CRASHED: "{type}の読み取り中に処理が異常終了したため、内容を読めません",
}


def read_document(attachment: Attachment, rules: AttachmentRules, message_text: str = "",
                  limits: Limits = DEFAULT_LIMITS) -> DocumentFinding:
    """Classify ``attachment`` and read what a later stage needs from it. Never raises on bad files.

    ``message_text`` is the sender's own text (quotes removed): it may name the kind of
    identity document a photo shows. The text is read under ``limits``; a reader stopped
    at one holds the attachment (``over_limit``) like the checks before reading do.
    ``has_text_layer`` is None for a file that was not read, and False only for a PDF
    scan (pages with images and no text), which is what the image_only_pdf warning means.
    """
    not_read = unread_reason(attachment)
    text = DocumentText()
    if not_read is None and attachment.over_limit is None and not attachment.encrypted:
        text = document_text(attachment.payload, attachment.sniffed_type, limits)
        if text.exceeded is not None:
            hold(attachment, text.exceeded)
        elif text.open_error is not None:
            label = _TYPE_LABELS.get(attachment.sniffed_type, "ファイル")
            not_read = _OPEN_ERRORS.get(text.open_error, _OPEN_ERRORS[DAMAGED]).format(type=label)
    if attachment.encrypted or attachment.over_limit is not None:
        return _held(attachment, rules, text)
    if not_read is not None:
        return _not_read(attachment, not_read, text)

    decision = classify_document(text, attachment.filename, attachment.sniffed_type, rules, attachment.encrypted)
    attachment.kind = decision.kind
    attachment.kind_reasons = decision.reasons
    finding = DocumentFinding(attachment=attachment, role=decision.kind,
                              has_text_layer=_text_layer(text, attachment.sniffed_type), defects=list(text.defects))

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


def unread_reason(attachment: Attachment) -> str | None:
    """Return why the bytes of ``attachment`` are not worth reading, or None.

    The reasons: an empty file, bytes lost in transfer decoding, or a zip or OLE2 file
    (a truncated xlsx or xls sniffs as one) that cannot be opened at all.
    """
    if attachment.size == 0:
        return EMPTY_FILE
    if any(loss in defect for defect in attachment.defects for loss in _TRANSFER_LOSSES):
        return DAMAGED_IN_TRANSFER
    if attachment.sniffed_type in _CONTAINER_LABELS and not attachment.children and _unopenable(attachment):
        return _OPEN_ERRORS[DAMAGED].format(type=_CONTAINER_LABELS[attachment.sniffed_type])
    return None


def _unopenable(attachment: Attachment) -> bool:
    """Return whether a zip or OLE2 file fails to open; reads only its directory."""
    try:
        if attachment.sniffed_type == "zip":
            zipfile.ZipFile(io.BytesIO(attachment.payload)).close()
        else:
            olefile.OleFileIO(io.BytesIO(attachment.payload)).close()
    except Exception:  # zipfile and olefile raise many types on damaged input
        return True
    return False


def _text_layer(text: DocumentText, sniffed: str) -> bool | None:
    # A PDF without text is called a scan (False) only when its pages show images.
    if text.has_text_layer:
        return True
    if sniffed == "pdf" and not text.image_only:
        return None
    return False


def _held(attachment: Attachment, rules: AttachmentRules, text: DocumentText) -> DocumentFinding:
    """Return the finding of an encrypted file or one over a limit, classified by its name alone."""
    classify_attachment(attachment, rules)
    finding = DocumentFinding(attachment=attachment, role=attachment.kind or OTHER, acceptable=False,
                              defects=list(text.defects))
    exceeded = held_limit(attachment)
    finding.unreadable = exceeded.label() if exceeded is not None else "パスワード付きのため開封していません"
    logger.debug("document held: part=%s limit=%s encrypted=%s", attachment.part_id, attachment.over_limit,
                 attachment.encrypted)
    return finding


def _not_read(attachment: Attachment, reason: str, text: DocumentText) -> DocumentFinding:
    """Return the finding of a file whose content could not be read; its kind stays "other"."""
    decision = KindDecision(OTHER, [reason])
    attachment.kind = decision.kind
    attachment.kind_reasons = decision.reasons
    logger.debug("document not read: part=%s sniffed=%s", attachment.part_id, attachment.sniffed_type)
    return DocumentFinding(attachment=attachment, role=OTHER, acceptable=False, unreadable=reason,
                           defects=list(text.defects))


def untrusted_reason(text: DocumentText, sniffed: str) -> str | None:
    """Return why a file's text must not be read as applicant data, or None."""
    if sniffed not in FORM_TYPES:
        return "表計算・文書・PDF 以外の形式のため、内容を自動で読めません"
    if sniffed == "pdf" and text.image_only:
        return "文字情報のないスキャン PDF のため、内容を自動で読めません（職員が画像で確認してください）"
    if sniffed == "pdf" and not text.has_text_layer:
        return "PDF のページに文字も画像もないため、内容を自動で読めません"
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
