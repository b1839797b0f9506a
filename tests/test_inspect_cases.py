"""Every shared case through ``mailflow inspect --json``, checked against its expected.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailflow.cli import main

from tests.conftest import CASES


def inspect(path: Path, capsys) -> dict:
    assert main(["inspect", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def expected_of(case: str) -> dict:
    return json.loads((CASES / case / "expected.json").read_text(encoding="utf-8"))


def flatten(attachments: list[dict]) -> list[dict]:
    found = []
    for attachment in attachments:
        found.append(attachment)
        found.extend(flatten(attachment["attachments"]))
    return found


EMAIL_CASES = [
    ("case-01-iso2022jp-nec-ibm-ext", "mail.eml"),
    ("case-03-iso2022jp-multi-encoded-words", "mail-a-self-contained.eml"),
    ("case-03-iso2022jp-multi-encoded-words", "mail-b-stateful-split.eml"),
    ("case-05-rfc2231-continuations", "mail.eml"),
    ("case-06-iphone-inline-and-name-only", "mail.eml"),
    ("case-07-cp932-vs-shiftjis-wave-dash", "mail.eml"),
    ("case-10-bad-base64-padding", "mail.eml"),
    ("case-11-forwarded-as-rfc822", "mail.eml"),
]


@pytest.mark.parametrize("case,name", EMAIL_CASES)
def test_email_case(case, name, capsys):
    expected = expected_of(case)["expected"]
    report = inspect(CASES / case / name, capsys)
    assert report["subject"] == expected["subject"]
    if "from_display_name" in expected:
        assert report["from"]["name"] == expected["from_display_name"]
    if "body_exact" in expected:
        assert report["body_text"] == expected["body_exact"]
    for text in expected.get("body_contains", []):
        assert text in report["body_text"]
    direct = [(a["filename"], a["sha256"]) for a in report["attachments"]]
    for attachment in expected.get("attachments", []):
        assert (attachment["filename"], attachment["sha256"]) in direct
    if "attachments" in expected:
        assert len(report["attachments"]) == len(expected["attachments"])
    nested = [(a["filename"], a["sha256"]) for a in flatten(report["attachments"])]
    for attachment in expected.get("attachments_nested", []):
        assert (attachment["filename"], attachment["sha256"]) in nested
    assert report["decision"] == expected["decision"]


def test_forward_names_original_sender(capsys):
    report = inspect(CASES / "case-11-forwarded-as-rfc822" / "mail.eml", capsys)
    expected = expected_of("case-11-forwarded-as-rfc822")["expected"]
    assert report["forwarded_from"] == expected["forwarded_original_from"]
    assert report["attachments"][0]["sniffed_type"] == "eml"


def test_bad_base64_reports_defect(capsys):
    report = inspect(CASES / "case-10-bad-base64-padding" / "mail.eml", capsys)
    assert any("base64" in defect for defect in report["defects"])


def test_ppap_zip_held(capsys):
    expected = expected_of("case-13-ppap-encrypted-zip")["expected"]["mail-1-zip.eml"]
    report = inspect(CASES / "case-13-ppap-encrypted-zip" / "mail-1-zip.eml", capsys)
    assert report["subject"] == expected["subject"]
    zip_part = report["attachments"][0]
    assert (zip_part["filename"], zip_part["sha256"]) == (expected["attachments"][0]["filename"],
                                                          expected["attachments"][0]["sha256"])
    assert zip_part["encrypted"] is True
    members = zip_part["attachments"]
    assert [member["filename"] for member in members] == [entry["name"] for entry in expected["zip_entries"]]
    assert all(member["encrypted"] for member in members)
    assert report["decision"] == expected["decision"]


def test_ppap_password_mail(capsys):
    expected = expected_of("case-13-ppap-encrypted-zip")["expected"]["mail-2-password.eml"]
    report = inspect(CASES / "case-13-ppap-encrypted-zip" / "mail-2-password.eml", capsys)
    assert report["subject"] == expected["subject"]
    assert report["attachments"] == []
    assert report["decision"] == expected["decision"]
    for text in expected["body_contains"]:
        assert text in report["body_text"]
    assert all(text not in reason for reason in report["reasons"] for text in expected["body_contains"])


@pytest.mark.parametrize("name", [
    "oof-outlook-exchange.eml", "vacation-gmail.eml", "autoreply-x-autoreply-only.eml",
    "autoreply-subject-only.eml", "human-reply-control.eml",
])
def test_auto_reply_case(name, capsys):
    expected = expected_of("case-14-auto-replies")["expected"][name]
    report = inspect(CASES / "case-14-auto-replies" / name, capsys)
    assert report["decision"] == expected["decision"]


@pytest.mark.parametrize("name", ["dsn-rfc3464.eml", "carrier-plain-bounce.eml"])
def test_bounce_case(name, capsys):
    expected = expected_of("case-15-bounces-dsn-and-carrier")["expected"][name]
    report = inspect(CASES / "case-15-bounces-dsn-and-carrier" / name, capsys)
    assert report["decision"] == "bounce"
    failed = report["bounce"]["failed_recipients"]
    assert [recipient["address"] for recipient in failed] == [expected["failed_recipient"]]
    if "status" in expected:
        assert failed[0]["status"] == expected["status"]
    assert report["form"] is None
    assert all(attachment["kind"] != "registration_form" for attachment in flatten(report["attachments"]))


def test_xls_case(capsys):
    expected = expected_of("case-16-xls-biff-form")["expected"]
    report = inspect(CASES / "case-16-xls-biff-form" / "申込書.xls", capsys)
    assert report["sniffed_type"] == "xls"
    assert report["decision"] == expected["decision"]
    record = report["record"]
    fields = expected["fields"]
    assert record["name"] == fields["氏名"]
    assert record["kana"] == fields["フリガナ"]
    assert record["birth_date"] == fields["生年月日"]
    assert record["address"] == fields["住所"]
    assert record["phone"] == fields["電話番号"]
    assert record["email"] == fields["メール"]


def test_cid_pdf_cases(capsys):
    expected = expected_of("case-19-pdf-cid-font-no-tounicode")["expected"]
    good = inspect(CASES / "case-19-pdf-cid-font-no-tounicode" / "form-with-tounicode.pdf", capsys)
    assert good["decision"] == expected["form-with-tounicode.pdf"]["decision"]
    bad = inspect(CASES / "case-19-pdf-cid-font-no-tounicode" / "form-no-tounicode.pdf", capsys)
    assert bad["decision"] == expected["form-no-tounicode.pdf"]["decision"]
    assert bad["record"] is None
    dumped = json.dumps(bad, ensure_ascii=False)
    for text in expected["form-no-tounicode.pdf"]["must_not_extract"]:
        assert text not in dumped


def test_scanned_pdf_case(capsys):
    expected = expected_of("case-20-scanned-pdf-no-text-layer")["expected"]
    report = inspect(CASES / "case-20-scanned-pdf-no-text-layer" / "scan.pdf", capsys)
    assert report["sniffed_type"] == "pdf"
    assert report["decision"] == expected["decision"]
    assert report["record"] is None
    assert "image_only_pdf" in [warning["code"] for warning in report["warnings"]]


def test_era_dates_case(capsys):
    report = inspect(CASES / "case-17-xlsx-era-dates-fullwidth-merged" / "申込書_和暦.xlsx", capsys)
    assert report["sniffed_type"] == "xlsx"
    assert report["decision"] in ("process", "manual_review")


def test_help_is_japanese(capsys):
    with pytest.raises(SystemExit):
        main(["inspect", "--help"])
    assert "読み取り" in capsys.readouterr().out
