"""Form readers on the file cases: old .xls, era dates in xlsx, bad base64 and a zipped form."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile

import openpyxl
import pytest

from mailflow.intake.forms.registration import read_registration
from mailflow.intake.forms.xlsx import read_xlsx
from mailflow.intake.text import document_text
from tests.forms.mailfiles import CASES, attachments

CASE_16 = CASES / "case-16-xls-biff-form"
CASE_17 = CASES / "case-17-xlsx-era-dates-fullwidth-merged"
CASE_10 = CASES / "case-10-bad-base64-padding"
CASE_13 = CASES / "case-13-ppap-encrypted-zip"

# Labels of the case JSON and the record key each one fills.
CASE_16_KEYS = {"氏名": "name", "フリガナ": "kana", "生年月日": "birth_date", "住所": "address", "電話番号": "phone", "メール": "email"}


def load(case) -> dict:
    return json.loads((case / "expected.json").read_text(encoding="utf-8"))["expected"]


def test_xls_starts_with_ole2_magic():
    payload = (CASE_16 / "申込書.xls").read_bytes()
    assert payload[:8] == bytes.fromhex("D0CF11E0A1B11AE1")


@pytest.mark.parametrize(("label", "key"), CASE_16_KEYS.items())
def test_xls_form_field(label, key):
    """case-16-xls-biff-form: each field read with xlrd."""
    record = read_registration(document_text((CASE_16 / "申込書.xls").read_bytes(), "xls").grids).as_dict()
    assert record[key] == load(CASE_16)["fields"][label]


def test_xls_read_as_xlsx_is_a_defect():
    """An .xls renamed .xlsx and routed to the xlsx reader gives a defect, not an exception."""
    text = document_text((CASE_16 / "申込書.xls").read_bytes(), "xlsx")
    assert text.grids == []
    assert text.defects


@pytest.fixture(scope="module")
def case_17_record():
    return read_registration(document_text((CASE_17 / "申込書_和暦.xlsx").read_bytes(), "xlsx").grids)


def test_era_xlsx_merged_name(case_17_record):
    """case-17-xlsx-era-dates-fullwidth-merged: the merge anchor, U+3000 folded."""
    assert case_17_record.name == load(CASE_17)["name (B3, merged B3:D3)"].split("  ")[0]


def test_era_xlsx_fullwidth_phone(case_17_record):
    assert case_17_record.phone == load(CASE_17)["phone (B4)"]


def test_era_xlsx_fullwidth_postal(case_17_record):
    assert case_17_record.postal_code == load(CASE_17)["postal (B5)"]


@pytest.mark.parametrize(("row", "key"), [(5, "B6 (numFmtId=57, no <numFmt> in styles.xml)"), (6, "B7 (numFmtId=14)")])
def test_era_xlsx_date_cells(row, key):
    """Both date cells of case 17, including numFmtId 57 that openpyxl leaves a number."""
    grid = read_xlsx((CASE_17 / "申込書_和暦.xlsx").read_bytes()).grids[0]
    expected_date = dt.date.fromisoformat(load(CASE_17)[key].split(" ")[0])
    assert grid.at(row, 1).value == expected_date


def test_era_xlsx_protected_sheet_read(case_17_record):
    workbook = openpyxl.load_workbook(CASE_17 / "申込書_和暦.xlsx")
    assert workbook.active.protection.sheet is True
    assert case_17_record.birth_date == dt.date(1960, 4, 1)


def test_bad_base64_form_b3():
    """case-10-bad-base64-padding: the leniently decoded workbook's B3."""
    case = load(CASE_10)
    payload = attachments(CASE_10 / "mail.eml")["form.xlsx"]
    assert hashlib.sha256(payload).hexdigest() == case["attachments"][0]["sha256"]
    grid = read_xlsx(payload).grids[0]
    assert grid.at(2, 1).value == case["xlsx_B3"]


def test_bad_base64_form_record():
    payload = attachments(CASE_10 / "mail.eml")["form.xlsx"]
    record = read_registration(document_text(payload, "xlsx").grids)
    assert record.name == load(CASE_10)["xlsx_B3"]
    assert record.birth_date == dt.date(1960, 4, 1)


def test_zipped_form_after_decrypt():
    """case-13-ppap-encrypted-zip: the member, once decrypted by a person, is the same form."""
    case = load(CASE_13)["mail-1-zip.eml"]
    archive = zipfile.ZipFile(CASE_13 / "申込書.zip")
    member = archive.infolist()[0]
    assert member.flag_bits & 0x1
    payload = archive.read(member, pwd=b"Ab3xY9q2")
    assert hashlib.sha256(payload).hexdigest() == case["zip_entries"][0]["sha256_after_decrypt"]
    record = read_registration(document_text(payload, "xlsx").grids)
    assert record.name == load(CASE_10)["xlsx_B3"]


def test_zip_bytes_as_xlsx_are_a_defect():
    text = document_text((CASE_13 / "申込書.zip").read_bytes(), "xlsx")
    assert text.grids == []
    assert any("encrypted" in defect or "cannot" in defect for defect in text.defects)


def test_workbook_in_memory_round_trip():
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "氏名"
    workbook.active["B1"] = "佐藤\u3000花子"
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert read_registration(document_text(buffer.getvalue(), "xlsx").grids).name == "佐藤 花子"
