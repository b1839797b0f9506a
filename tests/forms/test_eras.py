"""Dates in every spelling Japanese forms use, era boundaries and Excel serial numbers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from mailflow.intake.forms.eras import excel_serial_to_date, format_code_is_date, parse_date_text

CASE_17 = Path(__file__).parents[1] / "fixtures" / "cases" / "case-17-xlsx-era-dates-fullwidth-merged"

SPELLINGS = [
    ("昭和35年4月1日", dt.date(1960, 4, 1)),
    ("S35.4.1", dt.date(1960, 4, 1)),
    ("s35.4.1", dt.date(1960, 4, 1)),
    ("Ｓ３５．４．１", dt.date(1960, 4, 1)),
    ("昭和３５年４月１日", dt.date(1960, 4, 1)),
    ("S35/04/01", dt.date(1960, 4, 1)),
    ("S35-4-1", dt.date(1960, 4, 1)),
    ("昭35.4.1", dt.date(1960, 4, 1)),
    ("㍼35年4月1日", dt.date(1960, 4, 1)),
    ("令和元年5月1日", dt.date(2019, 5, 1)),
    ("R6.1.15", dt.date(2024, 1, 15)),
    ("㋿6年1月15日", dt.date(2024, 1, 15)),
    ("平成28年3月31日", dt.date(2016, 3, 31)),
    ("H28.3.31", dt.date(2016, 3, 31)),
    ("1960/4/1", dt.date(1960, 4, 1)),
    ("1960-04-01", dt.date(1960, 4, 1)),
    ("1960年4月1日", dt.date(1960, 4, 1)),
    ("１９６０年４月１日", dt.date(1960, 4, 1)),
    ("2027年3月10日（水）", dt.date(2027, 3, 10)),
    ("令和 8 年 1 2 月 2 日", dt.date(2026, 12, 2)),
    ("令和9年3月末", dt.date(2027, 3, 31)),
    ("大正15年12月24日", dt.date(1926, 12, 24)),
    ("昭和元年12月25日", dt.date(1926, 12, 25)),
]

BOUNDARIES = [
    ("昭和64年1月7日", dt.date(1989, 1, 7)),
    ("平成元年1月8日", dt.date(1989, 1, 8)),
    ("平成31年4月30日", dt.date(2019, 4, 30)),
    ("令和元年5月1日", dt.date(2019, 5, 1)),
    ("明治45年7月29日", dt.date(1912, 7, 29)),
    ("大正元年7月30日", dt.date(1912, 7, 30)),
]

REJECTED = [
    ("平成元年1月7日", "平成 began on 1989-01-08"),
    ("昭和64年1月8日", "昭和 ended on 1989-01-07"),
    ("平成31年5月1日", "平成 ended on 2019-04-30"),
    ("令和元年4月30日", "令和 began on 2019-05-01"),
    ("大正元年7月29日", "大正 began on 1912-07-30"),
    ("昭和35年2月30日", "no such day"),
    ("1961/2/29", "no such day"),
    ("1960/13/1", "no such month"),
    ("昭和0年1月1日", "does not exist"),
    ("60/4/1", "not a date"),
    ("1983年4月", "not a date"),
    ("", "blank"),
]


@pytest.mark.parametrize(("text", "expected"), SPELLINGS)
def test_date_spelling(text, expected):
    result = parse_date_text(text)
    assert result.reason is None
    assert result.value == expected


@pytest.mark.parametrize(("text", "expected"), BOUNDARIES)
def test_era_boundary_day_exists(text, expected):
    assert parse_date_text(text).value == expected


@pytest.mark.parametrize(("text", "reason"), REJECTED)
def test_impossible_date_rejected(text, reason):
    result = parse_date_text(text)
    assert result.value is None
    assert reason in result.reason


def test_case_17_text_dates():
    """Every text date of case-17-xlsx-era-dates-fullwidth-merged against its expected.json."""
    expected = json.loads((CASE_17 / "expected.json").read_text(encoding="utf-8"))
    for text, expected_date in expected["expected"]["text_dates (B10..B21)"].items():
        result = parse_date_text(text)
        if expected_date.startswith("INVALID"):
            assert result.value is None, text
            assert result.reason, text
        else:
            assert result.value == dt.date.fromisoformat(expected_date), text


SERIALS = [
    (22007, False, dt.date(1960, 4, 1)),
    (22007.75, False, dt.date(1960, 4, 1)),
    (1, False, dt.date(1900, 1, 1)),
    (59, False, dt.date(1900, 2, 28)),
    (61, False, dt.date(1900, 3, 1)),
    (0, True, dt.date(1904, 1, 1)),
    (20545, True, dt.date(1960, 4, 1)),
]


@pytest.mark.parametrize(("serial", "date1904", "expected"), SERIALS)
def test_excel_serial(serial, date1904, expected):
    assert excel_serial_to_date(serial, date1904).value == expected


@pytest.mark.parametrize("serial", [60, 0, -5, 3_000_000, "22007", True])
def test_excel_serial_rejected(serial):
    result = excel_serial_to_date(serial)
    assert result.value is None
    assert result.reason


FORMAT_CODES = [
    ('[$-411]ggge"年"m"月"d"日";@', True),
    ("[$-411]ge.m.d", True),
    ('yyyy"年"m"月"d"日（"aaa"）"', True),
    ("mm-dd-yy", True),
    ('m"月"d"日"', True),
    ('0"歳"', False),
    ('0"年"', False),
    ("General", False),
    ("0.00E+00", False),
    ("h:mm", False),
    ('h"時"mm"分"', False),
    ("@", False),
]


@pytest.mark.parametrize(("code", "is_date"), FORMAT_CODES)
def test_format_code_is_date(code, is_date):
    assert format_code_is_date(code) is is_date
