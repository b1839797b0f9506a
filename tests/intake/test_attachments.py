"""Attachment kinds from content first, file name second, with reasons for staff."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import openpyxl
import pytest

from mailflow.intake.attachments import classify_attachment, classify_document, load_attachment_rules
from mailflow.intake.message import Attachment
from mailflow.intake.sniff import sniff
from mailflow.intake.text import DocumentText
from mailflow.paths import DEFAULT_RULES_DIR
from mailflow.rules import RulesError
from tests.forms.mailfiles import CASES, FORMS, attachments, expected, mail_path

SAMPLE_ATTACHMENTS = [
    (number, entry["filename"], entry["role"])
    for number in ["01", "02", "03", "04", "05", "06", "07", "11", "14", "16"]
    for entry in expected(number)["attachments"]
]


@pytest.fixture(scope="module")
def rules():
    return load_attachment_rules()


def attachment(payload: bytes, filename: str | None, encrypted: bool = False) -> Attachment:
    return Attachment(filename=filename, content_type="application/octet-stream", disposition="attachment",
                      payload=payload, part_id="2", sniffed_type=sniff(payload), encrypted=encrypted)


def classified(payload: bytes, filename: str | None, rules, encrypted: bool = False) -> Attachment:
    item = attachment(payload, filename, encrypted)
    classify_attachment(item, rules)
    return item


@pytest.mark.parametrize(("number", "filename", "role"), SAMPLE_ATTACHMENTS)
def test_sample_attachment_kind(number, filename, role, rules):
    """Each sample mail attachment gets the role its JSON gives."""
    item = classified(attachments(mail_path(number))[filename], filename, rules)
    assert item.kind == role
    assert item.kind_reasons


FORM_KINDS = [
    ("yoshiki1_template.xlsx", "registration_form"),
    ("yoshiki1_template.docx", "registration_form"),
    ("yoshiki2_template.pdf", "pledge_form"),
    ("yoshiki3_sample.xlsx", "challenge_list"),
    ("yoshiki4_template.xlsx", "attendance_form"),
]


@pytest.mark.parametrize(("name", "kind"), FORM_KINDS)
def test_sample_form_kind_without_name(name, kind, rules):
    """The blank forms are recognised from their content alone (no file name)."""
    assert classified((FORMS / name).read_bytes(), None, rules).kind == kind


def test_form1_named_scan001(rules):
    payload = attachments(mail_path("01"))["様式1_登録申請書（山田太郎）.xlsx"]
    item = classified(payload, "scan001.xlsx", rules)
    assert item.kind == "registration_form"
    assert "文書の表題に『登録申請書』があります" in item.kind_reasons


def price_list() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["価格表（2026年度）"])
    sheet.append(["品名", "単価", "数量"])
    sheet.append(["コピー用紙", 500, 10])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_price_list_named_form1_is_other(rules):
    item = classified(price_list(), "登録申請書.xlsx", rules)
    assert item.kind == "other"
    assert any("ファイル名に『登録申請書』がありますが" in reason for reason in item.kind_reasons)


def test_photo_without_hint_is_identity_candidate(rules):
    payload = attachments(mail_path("03"))["PXL_20261206_011530123.jpg"]
    item = classified(payload, "PXL_20261206_011530123.jpg", rules)
    assert item.kind == "identity_document"
    assert any("候補" in reason for reason in item.kind_reasons)


@pytest.mark.parametrize("sniffed", ["heic", "png", "avif"])
def test_other_photo_types_are_identity_candidates(sniffed, rules):
    decision = classify_document(DocumentText(image_count=1), "IMG_2001.HEIC", sniffed, rules)
    assert decision.kind == "identity_document"
    assert any(sniffed.upper() in reason for reason in decision.reasons)


def test_photo_named_pledge(rules):
    payload = attachments(mail_path("03"))["PXL_20261206_011530123.jpg"]
    assert classified(payload, "誓約書.jpg", rules).kind == "pledge_form"


def test_scan_without_hint_is_other(rules):
    """case-20-scanned-pdf-no-text-layer: no text and no telling name."""
    item = classified((CASES / "case-20-scanned-pdf-no-text-layer" / "scan.pdf").read_bytes(), "scan.pdf", rules)
    assert item.kind == "other"
    assert any("文字情報のない" in reason for reason in item.kind_reasons)


def test_cid_pdf_is_not_a_form(rules):
    """case-19-pdf-cid-font-no-tounicode: scrambled text has no labels, so no Form 1."""
    payload = (CASES / "case-19-pdf-cid-font-no-tounicode" / "form-no-tounicode.pdf").read_bytes()
    assert classified(payload, "form.pdf", rules).kind == "other"


def test_xls_renamed_xlsx_read_by_bytes(rules):
    """case-16-xls-biff-form: an .xls sent with an .xlsx name is still read as .xls."""
    item = classified((CASES / "case-16-xls-biff-form" / "申込書.xls").read_bytes(), "申込書.xlsx", rules)
    assert item.sniffed_type == "xls"
    assert item.kind == "registration_form"


def test_encrypted_member_falls_back_to_name(rules):
    item = classified(b"PK\x03\x04encrypted", "申込書.xlsx", rules, encrypted=True)
    assert item.kind == "registration_form"
    assert any("暗号化" in reason for reason in item.kind_reasons)


def test_file_over_limit_not_read(rules):
    item = attachment(price_list(), "登録申請書.xlsx")
    item.over_limit = "max_member_bytes"
    classify_attachment(item, rules)
    assert item.kind == "registration_form"
    assert any("展開後のファイルの大きさの上限" in reason for reason in item.kind_reasons)


def test_unknown_bytes_are_other(rules):
    assert classified(b"\x00\x01garbage", "data.bin", rules).kind == "other"


def broken_rules(tmp_path: Path, old: str, new: str) -> Path:
    shutil.copy(DEFAULT_RULES_DIR / "attachments.toml", tmp_path / "attachments.toml")
    path = tmp_path / "attachments.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


INVALID_RULES = [
    ('sniffed_types = ["pdf", "docx"', 'sniffed_types = ["pdfx", "docx"', "kinds.pledge_form.sniffed_types", "pdfx"),
    ("[kinds.attendance_form]", "[kinds.invoice]", "kinds.invoice", "invoice"),
    ("threshold = 2", "threshold = -1", "scoring.threshold", "-1"),
    ("min_fields = 3", 'min_fields = "三"', "kinds.registration_form.min_fields", "三"),
]


@pytest.mark.parametrize(("old", "new", "key", "value"), INVALID_RULES)
def test_invalid_rules_name_file_key_value(tmp_path, old, new, key, value):
    with pytest.raises(RulesError) as raised:
        load_attachment_rules(broken_rules(tmp_path, old, new))
    message = str(raised.value)
    assert "attachments.toml" in message
    assert key in message
    assert value in message
