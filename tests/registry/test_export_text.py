"""Exported workbooks keep strings that look like formulas as text, and dates as dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from mailflow.cli import main
from mailflow.db.models import Mentor, ReviewItem
from mailflow.db.session import transaction
from mailflow.review.export import export_workbook

FORMULA_NAME = '=HYPERLINK("http://127.0.0.1/x","click")'
FORMULA_FIELD = "=1+2"
# Strings that openpyxl would store as a formula or an error value, or that start with
# a character Excel reads as the start of a formula.
RISKY_NAMES = [FORMULA_NAME, "+81-3-0000", "-1", "@SUM(A1)", "\tname", "#REF!"]

LIST_CSV = (
    "登録番号,氏名,ふりがな,メールアドレス,登録日,満了日,専門分野,状態\n"
    f'MM-2023-0201,"{FORMULA_NAME.replace(chr(34), chr(34) * 2)}",かな,f1@example.jp,'
    f"2023-04-01,2027-03-31,{FORMULA_FIELD},登録中\n"
)


@pytest.fixture
def registry_sheet(config_path: Path, tmp_path: Path, capsys):
    """Import one mentor whose name and field are formulas, export the registry and return its sheet."""
    source = tmp_path / "list.csv"
    source.write_text(LIST_CSV, encoding="utf-8")
    assert main(["--config", str(config_path), "registry", "import", str(source)]) == 0
    target = tmp_path / "registry.xlsx"
    assert main(["--config", str(config_path), "registry", "export", str(target)]) == 0
    capsys.readouterr()
    return openpyxl.load_workbook(target).active


def test_registry_export_name_text(registry_sheet) -> None:
    cell = registry_sheet["B2"]
    assert cell.value == FORMULA_NAME
    assert cell.data_type == "s"
    assert cell.quotePrefix


def test_registry_export_field_text(registry_sheet) -> None:
    cell = registry_sheet["G2"]
    assert cell.value == FORMULA_FIELD
    assert cell.data_type == "s"


def test_registry_export_dates_stay_dates(registry_sheet) -> None:
    cell = registry_sheet["F2"]
    assert cell.value == dt.datetime(2027, 3, 31)
    assert cell.is_date


@pytest.fixture
def queue_sheets(sessions, tmp_path: Path):
    """Export one item per risky sender name and one mentor with a risky name; return both sheets."""
    with transaction(sessions) as session:
        for index, name in enumerate(RISKY_NAMES, start=1):
            session.add(ReviewItem(number=f"2026-{index:04d}", kind="registration", state="ready",
                                   sender_name=name, sender_address=f"a{index}@example.jp",
                                   created_at=dt.datetime(2026, 4, 1, 1, 0, tzinfo=dt.UTC)))
        session.add(Mentor(registration_number="MM-2026-0001", name=FORMULA_NAME, email="m@example.jp",
                           registered_on=dt.date(2026, 4, 1), expires_on=dt.date(2030, 3, 31), status="active"))
    target = tmp_path / "queue.xlsx"
    with sessions() as session:
        export_workbook(session, target)
    workbook = openpyxl.load_workbook(target)
    return workbook["審査案件"], workbook["登録簿"]


@pytest.mark.parametrize("row", range(2, 2 + len(RISKY_NAMES)))
def test_queue_export_sender_text(queue_sheets, row: int) -> None:
    cell = queue_sheets[0].cell(row=row, column=9)
    assert cell.value == RISKY_NAMES[row - 2]
    assert cell.data_type == "s"


def test_queue_export_quote_prefix(queue_sheets) -> None:
    prefixed = [queue_sheets[0].cell(row=row, column=9).quotePrefix for row in range(2, 2 + len(RISKY_NAMES))]
    assert prefixed == [True, True, True, True, True, False]


def test_queue_export_mentor_text(queue_sheets) -> None:
    cell = queue_sheets[1]["B2"]
    assert cell.value == FORMULA_NAME
    assert cell.data_type == "s"


def test_queue_export_dates_stay_dates(queue_sheets) -> None:
    assert queue_sheets[0]["D2"].value == dt.datetime(2026, 4, 1, 10, 0)
    assert queue_sheets[1]["F2"].is_date
