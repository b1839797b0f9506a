"""document_text: visible text of each format, text-layer facts, and hostile input."""

from __future__ import annotations

import io
import json
import zipfile

import docx
import openpyxl
import pytest

from mailflow.intake.text import document_text
from tests.forms.mailfiles import CASES, FORMS, attachment_with_role

CASE_19 = CASES / "case-19-pdf-cid-font-no-tounicode"
CASE_20 = CASES / "case-20-scanned-pdf-no-text-layer"

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
)


def case_json(case) -> dict:
    return json.loads((case / "expected.json").read_text(encoding="utf-8"))["expected"]


def test_xlsx_text_all_sheets():
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "登録申請書"
    second = workbook.create_sheet("別紙")
    second["B2"] = "職歴"
    second.merge_cells("B2:D2")
    buffer = io.BytesIO()
    workbook.save(buffer)
    text = document_text(buffer.getvalue(), "xlsx")
    assert "登録申請書" in text.text
    assert "職歴" in text.text
    assert text.has_text_layer is True


def test_docx_merged_cell_text_once():
    """python-docx repeats a merged cell per grid column; the text must appear once."""
    payload, _, _ = attachment_with_role("04", "registration_form")
    text = document_text(payload, "docx")
    assert text.text.count("すずき いちろう") == 1
    assert "マネジメントメンター登録申請書" in text.text


def test_docx_symbol_check_box():
    document = docx.Document()
    paragraph = document.add_paragraph()
    run = paragraph.add_run()
    symbol = run._r.makeelement(docx.oxml.ns.qn("w:sym"), {docx.oxml.ns.qn("w:font"): "Wingdings", docx.oxml.ns.qn("w:char"): "F0FE"})
    run._r.append(symbol)
    paragraph.add_run("同意する")
    buffer = io.BytesIO()
    document.save(buffer)
    assert "☑同意する" in document_text(buffer.getvalue(), "docx").text


def test_pdf_text_layer_counts():
    payload, _, _ = attachment_with_role("05", "registration_form")
    text = document_text(payload, "pdf")
    assert text.has_text_layer is True
    assert text.page_count == 1
    assert text.cid_ratio == 0.0
    assert "登録申請書" in text.text


@pytest.mark.parametrize("line", case_json(CASE_19)["form-with-tounicode.pdf"]["text_contains"])
def test_pdf_with_tounicode_text(line):
    """case-19-pdf-cid-font-no-tounicode: the file with a ToUnicode map reads as text."""
    text = document_text((CASE_19 / "form-with-tounicode.pdf").read_bytes(), "pdf")
    assert line in text.text


def test_pdf_without_tounicode_has_cid_glyphs():
    text = document_text((CASE_19 / "form-no-tounicode.pdf").read_bytes(), "pdf")
    assert text.cid_ratio > 0
    for forbidden in case_json(CASE_19)["form-no-tounicode.pdf"]["must_not_extract"]:
        assert forbidden not in text.text


def test_scanned_pdf_no_text_layer():
    """case-20-scanned-pdf-no-text-layer: no characters, one image."""
    text = document_text((CASE_20 / "scan.pdf").read_bytes(), "pdf")
    assert text.has_text_layer is False
    assert text.text == ""
    assert text.image_count == 1


def test_image_has_no_text_layer():
    payload, _, _ = attachment_with_role("01", "identity_document")
    text = document_text(payload, "jpeg")
    assert text.has_text_layer is False
    assert text.image_count == 1


@pytest.mark.parametrize(("payload", "expected"), [("申込書です".encode("cp932"), "申込書です"), ("\ufeff申込書".encode("utf-8"), "申込書")])
def test_plain_text_decoded(payload, expected):
    assert document_text(payload, "text").text == expected


def test_utf16_text_decoded():
    assert document_text("申込書".encode("utf-16"), "text").text == "申込書"


def test_html_text_without_markup():
    markup = "<html><style>p{}</style><body><p>登録申請書</p><script>x()</script></body></html>"
    assert document_text(markup.encode(), "html").text == "登録申請書"


def test_sheet_protection_is_not_encryption():
    text = document_text((CASES / "case-17-xlsx-era-dates-fullwidth-merged" / "申込書_和暦.xlsx").read_bytes(), "xlsx")
    assert text.defects == []
    assert "交付申請書" in text.text


def package_with_part(base: bytes, part: str, data: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(base))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            target.writestr(info, data if info.filename == part else source.read(info))
    return buffer.getvalue()


def test_xlsx_with_dtd_rejected():
    base = (FORMS / "yoshiki1_template.xlsx").read_bytes()
    hostile = package_with_part(base, "xl/workbook.xml", BILLION_LAUGHS + b"<workbook>&lol2;</workbook>")
    text = document_text(hostile, "xlsx")
    assert text.grids == []
    assert any("DTD" in defect for defect in text.defects)


def test_docx_with_dtd_rejected():
    base = (FORMS / "yoshiki1_template.docx").read_bytes()
    hostile = package_with_part(base, "word/document.xml", BILLION_LAUGHS + b"<document>&lol2;</document>")
    text = document_text(hostile, "docx")
    assert text.grids == []
    assert any("DTD" in defect for defect in text.defects)


def test_zip_bomb_part_not_inflated():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (70 * 1024 * 1024))
    text = document_text(buffer.getvalue(), "xlsx")
    assert text.grids == []
    assert text.defects


GARBAGE = [b"", b"\x00" * 64, b"PK\x03\x04broken", b"%PDF-1.7\n%broken", bytes(range(256)) * 8]


@pytest.mark.parametrize("sniffed", ["xlsx", "xlsm", "xls", "docx", "pdf", "text", "jpeg", "zip", "unknown"])
@pytest.mark.parametrize("payload", GARBAGE)
def test_garbage_never_raises(sniffed, payload):
    text = document_text(payload, sniffed)
    assert isinstance(text.defects, list)


@pytest.mark.parametrize("sniffed", ["xlsx", "docx", "pdf"])
def test_truncated_file_is_a_defect(sniffed):
    source = {"xlsx": FORMS / "yoshiki1_template.xlsx", "docx": FORMS / "yoshiki1_template.docx", "pdf": FORMS / "yoshiki2_template.pdf"}[sniffed]
    payload = source.read_bytes()
    text = document_text(payload[: len(payload) // 2], sniffed)
    assert text.defects
