"""Form 4: name, e-mail and the chosen companies, read by the template's labels."""

from __future__ import annotations

import io

import openpyxl
import pytest

from mailflow.intake.forms.attendance import read_attendance
from mailflow.intake.text import document_text
from tests.forms.mailfiles import FORMS


def filled(cells: dict[str, object]) -> bytes:
    workbook = openpyxl.load_workbook(FORMS / "yoshiki4_template.xlsx")
    sheet = workbook.active
    for coordinate, value in cells.items():
        sheet[coordinate] = value
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def read(payload: bytes):
    return read_attendance(document_text(payload, "xlsx").grids)


@pytest.fixture(scope="module")
def form():
    return read(filled({
        "B9": "山田\u3000太郎", "B8": "やまだ たろう", "B11": "ｔａｒｏ．ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ",
        "B12": "■対面\u3000□オンライン", "B15": 3, "C15": "C社", "B16": "１２", "D16": "販路の提案", "B17": 7,
    }))


def test_attendance_name(form):
    assert form.name == "山田 太郎"


def test_attendance_email(form):
    assert form.email == "taro.yamada@example.jp"


def test_attendance_company_numbers_in_order(form):
    assert form.company_numbers == [3, 12, 7]


def test_attendance_choice_details(form):
    assert form.choices[0].rank == "第1希望"
    assert form.choices[0].company_name == "C社"
    assert form.choices[1].proposal == "販路の提案"


def test_attendance_participation(form):
    assert form.participation == ["対面"]


def test_blank_template_reads_blank():
    form = read((FORMS / "yoshiki4_template.xlsx").read_bytes())
    assert form.name is None
    assert form.email is None
    assert form.company_numbers == []
    assert form.unreadable == []


def test_duplicate_choice_reported():
    form = read(filled({"B15": 3, "B16": 3}))
    assert form.company_numbers == [3, 3]
    assert any("chosen twice" in defect for defect in form.defects)


def test_out_of_range_number_reported():
    form = read(filled({"B15": 300}))
    assert form.company_numbers == []
    assert any("no valid company number" in defect for defect in form.defects)
