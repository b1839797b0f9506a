"""Files that cannot be read are held for a person with a Japanese reason, never passed as "other"."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest

from mailflow.intake.analyze import analyze, load_intake_rules
from mailflow.intake.attachments import load_attachment_rules
from mailflow.intake.documents import DAMAGED_IN_TRANSFER, EMPTY_FILE, read_document
from mailflow.intake.forms.inspect import inspect_document
from mailflow.intake.message import Attachment
from mailflow.intake.parse import parse_message
from mailflow.intake.sniff import sniff
from mailflow.paths import DEFAULT_RULES_DIR

from tests.conftest import CASES
from tests.hostile.builders import BILLION_LAUGHS_DTD, FORMS, pdf_document

RULES = load_attachment_rules()
INTAKE_RULES = load_intake_rules(DEFAULT_RULES_DIR)
CASE_06 = CASES / "case-06-iphone-inline-and-name-only"
CASE_10 = CASES / "case-10-bad-base64-padding"
CASE_20 = CASES / "case-20-scanned-pdf-no-text-layer"
BROKEN_PDF_REASON = "PDF ファイルが壊れているため開けません"


def attachment_of(payload: bytes, filename: str, defects: list[str] | None = None) -> Attachment:
    return Attachment(filename, "application/octet-stream", "attachment", payload, "2",
                      sniffed_type=sniff(payload), defects=list(defects or []))


def expected_of(case_dir) -> dict:
    return json.loads((case_dir / "expected.json").read_text(encoding="utf-8"))["expected"]


def mail_with_base64(filename: str, base64_body: str) -> bytes:
    return (
        "From: sender@example.net\r\nTo: intake@bureau.example.jp\r\nSubject: =?utf-8?b?55m76Yyy55Sz6KuL?=\r\n"
        "Message-ID: <broken@example.net>\r\nDate: Fri, 04 Dec 2026 10:00:00 +0900\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
        "書類を送ります。\r\n--B\r\nContent-Type: application/pdf\r\n"
        f'Content-Disposition: attachment; filename="{filename}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        f"{base64_body}\r\n--B--\r\n"
    ).encode("utf-8")


def package_with_part(base: bytes, part: str, data: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(base))
    buffer = io.BytesIO()
    with source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info, data if info.filename == part else source.read(info))
    return buffer.getvalue()


def test_empty_file_unreadable():
    finding = read_document(attachment_of(b"", "様式1.xlsx"), RULES)

    assert finding.unreadable == EMPTY_FILE
    assert finding.acceptable is False
    assert finding.role == "other"


def test_broken_base64_unreadable():
    message = parse_message(mail_with_base64("誓約書.pdf", "JVBERi0xLjQKあ====AAAA=AA"))

    finding = read_document(message.attachments[0], RULES)

    assert finding.unreadable == DAMAGED_IN_TRANSFER
    assert finding.acceptable is False


def test_missing_padding_still_read():
    # case-10-bad-base64-padding: lenient decoding restores the exact workbook.
    analysis = analyze((CASE_10 / "mail.eml").read_bytes(), INTAKE_RULES)

    assert analysis.decision == expected_of(CASE_10)["decision"]
    assert [finding.unreadable for finding in analysis.documents] == [None]
    assert analysis.form["name"] == expected_of(CASE_10)["xlsx_B3"]


@pytest.mark.parametrize("form,reason", [
    # Cut by a tenth the package still sniffs as xlsx; cut in half it is only a zip.
    (("yoshiki1_template.xlsx", 10), "Excel ファイルが壊れているため開けません"),
    (("yoshiki1_template.xlsx", 2), "ZIP 形式のファイルが壊れているため開けません"),
    (("yoshiki1_template.docx", 2), "Word ファイルが壊れているため開けません"),
    (("yoshiki2_template.pdf", 2), "PDF ファイルが壊れているため開けません"),
])
def test_truncated_form_unreadable(form, reason):
    name, fraction = form
    payload = (FORMS / name).read_bytes()

    finding = read_document(attachment_of(payload[: len(payload) * (fraction - 1) // fraction], name), RULES)

    assert finding.unreadable == reason


def test_truncated_xls_unreadable():
    # case-16-xls-biff-form: a BIFF8 form; cut short, olefile cannot read its sectors.
    payload = (CASES / "case-16-xls-biff-form" / "申込書.xls").read_bytes()

    finding = read_document(attachment_of(payload[: len(payload) // 2], "申込書.xls"), RULES)

    assert finding.unreadable == "Office 形式のファイルが壊れているため開けません"


def test_dtd_xlsx_unreadable():
    base = (FORMS / "yoshiki1_template.xlsx").read_bytes()
    hostile = package_with_part(base, "xl/workbook.xml", (BILLION_LAUGHS_DTD + "<workbook>&lol2;</workbook>").encode())

    finding = read_document(attachment_of(hostile, "様式1.xlsx"), RULES)

    assert finding.unreadable == "Excel ファイルに安全でない定義（DTD・エンティティ宣言）が含まれているため、開いていません"


def test_broken_pdf_not_called_scan():
    # case-06-iphone-inline-and-name-only carries a 47-byte placeholder named 本人確認書類.pdf.
    analysis = analyze((CASE_06 / "mail.eml").read_bytes(), INTAKE_RULES)

    assert "image_only_pdf" not in analysis.warning_codes()
    assert f"本人確認書類.pdf: {BROKEN_PDF_REASON}" in analysis.needs_attention


def test_broken_pdf_not_counted():
    analysis = analyze((CASE_06 / "mail.eml").read_bytes(), INTAKE_RULES)

    pdf = next(finding for finding in analysis.documents if finding.attachment.sniffed_type == "pdf")

    assert pdf.acceptable is False
    assert pdf.unreadable == BROKEN_PDF_REASON


def test_scan_pdf_image_only():
    # case-20-scanned-pdf-no-text-layer: one image and no characters.
    report = inspect_document((CASE_20 / "scan.pdf").read_bytes(), "scan.pdf")

    assert report["decision"] == expected_of(CASE_20)["decision"]
    assert "image_only_pdf" in [warning["code"] for warning in report["warnings"]]


def test_pdf_without_text_or_images_not_scan():
    drawing = pdf_document(b"0 0 m 100 100 l S")

    report = inspect_document(drawing, "様式1.pdf")

    assert "image_only_pdf" not in [warning["code"] for warning in report["warnings"]]
    assert "登録申請書: PDF のページに文字も画像もないため、内容を自動で読めません" in report["reasons"]


@pytest.mark.parametrize("members", [1, 3])
def test_held_members_one_line(members):
    zeros = b"\0" * (400 * 1024)  # 400 KiB of zeros: a compression ratio far above 100
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(members):
            archive.writestr(f"zeros{index}.bin", zeros)
    message = (
        "From: sender@example.net\r\nTo: intake@bureau.example.jp\r\nSubject: =?utf-8?b?55m76Yyy55Sz6KuL?=\r\n"
        "Message-ID: <zip@example.net>\r\nDate: Fri, 04 Dec 2026 10:00:00 +0900\r\nMIME-Version: 1.0\r\n"
        "Content-Type: application/zip\r\nContent-Disposition: attachment; filename=docs.zip\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + base64.encodebytes(buffer.getvalue())

    analysis = analyze(message, INTAKE_RULES)

    held_lines = [line for line in analysis.needs_attention if line.startswith("上限を超えるファイルがあります")]
    files = "zeros0.bin" if members == 1 else f"zeros0.bin ほか {members - 1} 件"
    assert len(held_lines) == 1
    assert held_lines[0].startswith(f"上限を超えるファイルがあります（{files}）: 圧縮率が上限を超えている")
    assert analysis.decision == "manual_review"
