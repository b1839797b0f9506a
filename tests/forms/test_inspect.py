"""inspect_document on the file cases and sample forms: kind, record and decision."""

from __future__ import annotations

import json

import pytest

from mailflow.intake.forms.inspect import inspect_document
from tests.forms.mailfiles import CASES, FORMS, attachment_with_role, expected

CASE_16 = CASES / "case-16-xls-biff-form"
CASE_19 = CASES / "case-19-pdf-cid-font-no-tounicode"
CASE_20 = CASES / "case-20-scanned-pdf-no-text-layer"


def case_expected(case) -> dict:
    return json.loads((case / "expected.json").read_text(encoding="utf-8"))["expected"]


def inspect_file(path) -> dict:
    return inspect_document(path.read_bytes(), path.name)


def test_inspect_result_is_json():
    result = inspect_file(CASE_16 / "申込書.xls")
    assert json.loads(json.dumps(result, ensure_ascii=False)) == result


def test_xls_form_decision():
    """case-16-xls-biff-form: read with xlrd and processed."""
    result = inspect_file(CASE_16 / "申込書.xls")
    assert result["sniffed_type"] == "xls"
    assert result["decision"] == case_expected(CASE_16)["decision"]
    assert result["record"]["name"] == case_expected(CASE_16)["fields"]["氏名"]


def test_tounicode_pdf_processed():
    """case-19-pdf-cid-font-no-tounicode, the file with a ToUnicode map."""
    result = inspect_file(CASE_19 / "form-with-tounicode.pdf")
    assert result["decision"] == case_expected(CASE_19)["form-with-tounicode.pdf"]["decision"]
    assert result["record"]["name"] == "山田 太郎"


def test_cid_pdf_manual_review():
    """case-19-pdf-cid-font-no-tounicode, the file without one: held, no applicant data."""
    result = inspect_file(CASE_19 / "form-no-tounicode.pdf")
    assert result["decision"] == case_expected(CASE_19)["form-no-tounicode.pdf"]["decision"]
    assert result["record"] is None
    assert any("(cid:N)" in reason for reason in result["reasons"])
    for forbidden in case_expected(CASE_19)["form-no-tounicode.pdf"]["must_not_extract"]:
        assert forbidden not in json.dumps(result, ensure_ascii=False)


def test_scan_manual_review():
    """case-20-scanned-pdf-no-text-layer: held with the reason, never called empty."""
    result = inspect_file(CASE_20 / "scan.pdf")
    assert result["decision"] == case_expected(CASE_20)["decision"]
    assert result["record"] is None
    assert [warning["code"] for warning in result["warnings"]] == ["image_only_pdf"]
    assert any("スキャン" in reason for reason in result["reasons"])
    assert not any("空" in reason for reason in result["reasons"])


def test_sample_form_with_eligibility_warnings():
    payload, _, name = attachment_with_role("06", "registration_form")
    result = inspect_document(payload, name)
    assert result["kind"] == "registration_form"
    assert result["decision"] == "process"
    assert sorted(w["code"] for w in result["warnings"]) == sorted(expected("06")["warnings"])
    assert result["record"]["birth_date"] == expected("06")["applicant"]["birth_date"]


def test_pdf_form_record():
    payload, _, name = attachment_with_role("05", "registration_form")
    result = inspect_document(payload, name)
    assert result["record"]["career"] == expected("05")["applicant"]["career"]


def test_challenge_list_record():
    result = inspect_file(FORMS / "yoshiki3_sample.xlsx")
    assert result["kind"] == "challenge_list"
    assert result["record"]["company_numbers"] == expected("11")["event"]["company_numbers"]


def test_photo_has_no_record():
    payload, _, name = attachment_with_role("01", "identity_document")
    result = inspect_document(payload, name)
    assert result["kind"] == "identity_document"
    assert result["record"] is None


def test_xlsx_missing_address_label_held():
    """case-17-xlsx-era-dates-fullwidth-merged has no 住所 label: kept for staff with its record."""
    result = inspect_file(CASES / "case-17-xlsx-era-dates-fullwidth-merged" / "申込書_和暦.xlsx")
    assert result["decision"] == "manual_review"
    assert result["record"]["birth_date"] == "1960-04-01"


@pytest.mark.parametrize("payload", [b"", b"PK\x03\x04", b"%PDF-1.4 broken"])
def test_broken_file_never_raises(payload):
    result = inspect_document(payload, "登録申請書.xlsx")
    assert result["decision"] in ("process", "manual_review")
