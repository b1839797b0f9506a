"""Form 3: the event and the company table, against the sample mail 11 JSON."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest

from mailflow.intake.forms.challenge_list import (
    MAX_COMPANIES,
    MAX_EVENT_TEXT,
    MAX_LISTED_ROWS,
    parse_event_days,
    read_challenge_list,
)
from mailflow.intake.text import document_text
from tests.forms.mailfiles import FORMS, attachment_with_role, expected
from tests.integration.form3_mails import form3_workbook

EVENT = expected("11")["event"]


@pytest.fixture(scope="module")
def sample():
    return read_challenge_list(document_text((FORMS / "yoshiki3_sample.xlsx").read_bytes(), "xlsx").grids)


def test_mail_attachment_is_sample_form():
    payload, _, _ = attachment_with_role("11", "challenge_list")
    assert payload == (FORMS / "yoshiki3_sample.xlsx").read_bytes()


@pytest.mark.parametrize("key", ["name", "host", "venue"])
def test_event_text_fields(sample, key):
    assert getattr(sample, key) == EVENT[key]


def test_event_days_from_date_cells(sample):
    assert [day.isoformat() for day in sample.days] == EVENT["days"]


def test_company_count(sample):
    assert len(sample.companies) == EVENT["company_count"]


def test_company_numbers(sample):
    assert sample.company_numbers == EVENT["company_numbers"]


def test_first_company_row(sample):
    first = sample.companies[0]
    assert first.name == "A社"
    assert first.industry == "金属製品製造業"
    assert first.location == "東京都大田区"
    assert first.employees == 35
    assert first.challenge == "生産管理"
    assert first.help_wanted == "多品種少量生産の工程管理と納期遅れの解消"
    assert first.mentor_profile == "中小製造業の生産管理・工場運営の経験がある方"


def test_co_hosts_kept_apart(sample):
    assert sample.co_hosts == "共催：関東経済産業局"


def test_nothing_unreadable(sample):
    assert sample.unreadable == []
    assert sample.defects == []
    assert sample.problems == []


DAY_TEXTS = [
    ("2027年3月10日（水）・11日（木）", [dt.date(2027, 3, 10), dt.date(2027, 3, 11)]),
    ("令和9年3月10日、3月11日", [dt.date(2027, 3, 10), dt.date(2027, 3, 11)]),
    ("2027/3/31・4月1日", [dt.date(2027, 3, 31), dt.date(2027, 4, 1)]),
    ("R9.3.10", [dt.date(2027, 3, 10)]),
    ("各日 13:00～17:00", []),
]


@pytest.mark.parametrize(("text", "days"), DAY_TEXTS)
def test_event_days_text(text, days):
    assert parse_event_days(text)[0] == days


def test_impossible_event_day_reported():
    days, problems = parse_event_days("2027年2月30日")
    assert days == []
    assert problems


def host_layout() -> bytes:
    """A host's own layout: labels with colons in one column, text dates, rows moved down."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["B2"] = "新現役交流会　参加企業課題一覧"
    sheet["B4"] = "交流会名："
    sheet["C4"] = EVENT["name"]
    sheet["B5"] = "開催機関"
    sheet["C5"] = EVENT["host"]
    sheet["B6"] = "開催日"
    sheet["C6"] = "2027年3月10日（水）・11日（木）"
    sheet["B7"] = "会場"
    sheet["C7"] = EVENT["venue"]
    sheet.append([])
    sheet.append([None, "番号", "業種", "所在地", "従業員数", "経営課題"])
    for number in EVENT["company_numbers"]:
        sheet.append([None, number, "製造業", "東京都", f"{number * 10}名", "生産管理"])
    sheet.append([None, "※匿名で掲載しています"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_host_layout_reads_same_event():
    result = read_challenge_list(document_text(host_layout(), "xlsx").grids)
    assert result.name == EVENT["name"]
    assert result.host == EVENT["host"]
    assert result.venue == EVENT["venue"]
    assert [day.isoformat() for day in result.days] == EVENT["days"]
    assert result.company_numbers == EVENT["company_numbers"]
    assert result.companies[1].employees == 20
    assert result.companies[0].name is None


def read_workbook(workbook: bytes):
    return read_challenge_list(document_text(workbook, "xlsx").grids)


def test_long_venue_cut():
    result = read_workbook(form3_workbook(venue="会" * 5000))
    assert result.venue == "会" * MAX_EVENT_TEXT
    assert result.problems == [f"「会場」が 5000 文字と長すぎるため、先頭の {MAX_EVENT_TEXT} 文字だけを使います"]


def test_company_rows_capped():
    result = read_workbook(form3_workbook(extra_rows=MAX_COMPANIES))
    assert len(result.companies) == MAX_COMPANIES
    assert len(result.problems) == 1
    assert f"{MAX_COMPANIES} 社を超えている" in result.problems[0]


def test_unnumbered_rows_one_problem():
    result = read_workbook(form3_workbook(extra_rows=MAX_LISTED_ROWS + 5, unnumbered=True))
    assert len(result.problems) == 1
    assert f"{MAX_LISTED_ROWS + 5} 行あります" in result.problems[0]
    assert "ほか 5 件" in result.problems[0]
    assert len(result.defects) == 1
