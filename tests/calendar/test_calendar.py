"""Tests of BusinessCalendar, the calendar.toml loader and the holiday coverage probe."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mailflow import calendar as calendar_module
from mailflow.calendar import (
    BusinessCalendar,
    CalendarError,
    CalendarRules,
    YearlyClosure,
    holidays_covered_until,
    load_calendar_rules,
)
from mailflow.paths import DEFAULT_RULES_DIR
from mailflow.rules import RulesError

D = dt.date

YEAR_END = """
[closed]
yearly = [
  { from = "12-29", to = "01-03", name = "年末年始" },
]
dates = [
  2025-08-13,
  { date = "2025-08-14", name = "庁舎点検" },
]

[open]
dates = [2025-11-08]
"""


def write_rules(folder: Path, text: str) -> Path:
    (folder / "calendar.toml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def year_end_calendar(tmp_path: Path) -> BusinessCalendar:
    return BusinessCalendar(load_calendar_rules(write_rules(tmp_path, YEAR_END)))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2024, 4, 26), True),  # Friday
        (D(2024, 4, 27), False),  # Saturday
        (D(2024, 4, 28), False),  # Sunday
        (D(2024, 4, 29), False),  # 昭和の日, Monday
        (D(2024, 5, 6), False),  # こどもの日 振替休日
        (D(2024, 5, 7), True),  # Tuesday after Golden Week
        (D(2026, 9, 22), False),  # 国民の休日 between 敬老の日 and 秋分の日
        (D(2026, 12, 29), True),  # year-end closure is not in the default rules
        (D(2027, 1, 1), False),  # 元日
        (D(2027, 1, 4), True),  # first Monday of 2027
    ],
)
def test_business_day_default(day: dt.date, expected: bool) -> None:
    assert BusinessCalendar().is_business_day(day) is expected


def test_holiday_name_substitute() -> None:
    assert BusinessCalendar().holiday_name(D(2024, 2, 12)) == "建国記念の日 振替休日"


def test_holiday_name_citizens_holiday() -> None:
    assert BusinessCalendar().holiday_name(D(2026, 9, 22)) == "国民の休日"


def test_holiday_name_weekday() -> None:
    assert BusinessCalendar().holiday_name(D(2024, 4, 30)) is None


@pytest.mark.parametrize(
    ("day", "previous", "following"),
    [
        (D(2024, 4, 30), D(2024, 4, 30), D(2024, 4, 30)),  # a business day returns itself
        (D(2024, 4, 29), D(2024, 4, 26), D(2024, 4, 30)),  # 昭和の日 after a weekend
        (D(2024, 5, 4), D(2024, 5, 2), D(2024, 5, 7)),  # Golden Week, Saturday holiday
        (D(2027, 1, 1), D(2026, 12, 31), D(2027, 1, 4)),  # 元日 on a Friday
    ],
)
def test_rolling_default(day: dt.date, previous: dt.date, following: dt.date) -> None:
    calendar = BusinessCalendar()
    assert calendar.previous_business_day(day) == previous
    assert calendar.next_business_day(day) == following


@pytest.mark.parametrize(
    ("day", "count", "expected"),
    [
        (D(2024, 4, 26), 1, D(2024, 4, 30)),  # Friday + 1 skips the weekend and 昭和の日
        (D(2024, 4, 27), 1, D(2024, 4, 30)),  # from a Saturday
        (D(2024, 4, 30), 3, D(2024, 5, 7)),  # 5/1, 5/2, then 5/3-5/6 are closed
        (D(2024, 5, 7), -3, D(2024, 4, 30)),
        (D(2024, 4, 27), 0, D(2024, 4, 27)),
    ],
)
def test_add_business_days(day: dt.date, count: int, expected: dt.date) -> None:
    assert BusinessCalendar().add_business_days(day, count) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2025, 12, 26), True),  # Friday before the closure
        (D(2025, 12, 29), False),  # first closed day
        (D(2025, 12, 31), False),
        (D(2026, 1, 2), False),  # the range runs over the new year
        (D(2026, 1, 5), True),  # first Monday after it
        (D(2025, 8, 13), False),  # single date written as a TOML date
        (D(2025, 8, 14), False),  # single date written as a string with a name
        (D(2025, 8, 15), True),
        (D(2025, 11, 8), True),  # a Saturday opened by open.dates
    ],
)
def test_business_day_closed_days(year_end_calendar: BusinessCalendar, day: dt.date, expected: bool) -> None:
    assert year_end_calendar.is_business_day(day) is expected


def test_closure_name_yearly(year_end_calendar: BusinessCalendar) -> None:
    assert year_end_calendar.closure_name(D(2026, 1, 3)) == "年末年始"


def test_closure_name_dated(year_end_calendar: BusinessCalendar) -> None:
    assert year_end_calendar.closure_name(D(2025, 8, 14)) == "庁舎点検"


def test_closure_name_unnamed(year_end_calendar: BusinessCalendar) -> None:
    assert year_end_calendar.closure_name(D(2025, 8, 13)) == "閉庁日"


def test_previous_business_day_year_end(year_end_calendar: BusinessCalendar) -> None:
    assert year_end_calendar.previous_business_day(D(2027, 1, 1)) == D(2026, 12, 28)


def test_open_date_overrides_holiday() -> None:
    calendar = BusinessCalendar(CalendarRules(open_dates=frozenset({D(2024, 4, 29)})))
    assert calendar.is_business_day(D(2024, 4, 29))


def test_yearly_closure_leap_day() -> None:
    closure = YearlyClosure((2, 29), (2, 29))
    assert closure.contains(D(2028, 2, 29))
    assert not closure.contains(D(2027, 2, 28))


def test_no_business_day_raises() -> None:
    closed_all_year = BusinessCalendar(CalendarRules(yearly_closures=(YearlyClosure((1, 1), (12, 31)),)))
    with pytest.raises(CalendarError):
        closed_all_year.previous_business_day(D(2025, 6, 2))


def test_shipped_rules_follow_manual() -> None:
    rules = load_calendar_rules(DEFAULT_RULES_DIR)
    assert rules == CalendarRules()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[closed]\nyearly = [{ from = "13-01", to = "01-03" }]\n', "closed.yearly[0].from"),
        ('[closed]\nyearly = [{ from = "12-29" }]\n', "closed.yearly[0]"),
        ('[closed]\nyearly = [{ from = "12-29", to = "1-3" }]\n', "closed.yearly[0].to"),
        ('[closed]\ndates = ["2025-02-30"]\n', "closed.dates[0]"),
        ("[closed]\ndates = [2025-08-13T09:00:00]\n", "closed.dates[0]"),
        ('[closed]\ndates = [{ date = 2025-08-13, name = 3 }]\n', "closed.dates[0].name"),
        ('[closed]\ndates = "2025-08-13"\n', "closed.dates"),
        ("[closed]\nweekly = []\n", "closed.weekly"),
        ("[holidays]\n", "holidays"),
        ("[closed]\ndates = [2025-08-13]\n[open]\ndates = [2025-08-13]\n", "open.dates[0]"),
    ],
)
def test_invalid_rules_name_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(RulesError) as caught:
        load_calendar_rules(write_rules(tmp_path, text))
    assert len(caught.value.problems) == 1
    assert f"calendar.toml: {key} = " in caught.value.problems[0]


def test_invalid_rules_collect_all(tmp_path: Path) -> None:
    text = '[closed]\nyearly = [{ from = "00-01", to = "12-32" }]\ndates = ["soon"]\n'
    with pytest.raises(RulesError) as caught:
        load_calendar_rules(write_rules(tmp_path, text))
    assert len(caught.value.problems) == 3


@pytest.fixture
def fresh_coverage_cache():
    holidays_covered_until.cache_clear()
    yield
    holidays_covered_until.cache_clear()


def test_covered_until_installed_jpholiday(fresh_coverage_cache: None) -> None:
    # Registration periods reach four fiscal years ahead, so the holidays must reach as far.
    assert holidays_covered_until(2024) >= D(2030, 12, 31)


def test_covered_until_table_ends(fresh_coverage_cache: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Older jpholiday releases compute the equinox days only up to 2150.
    real = calendar_module.jpholiday.is_holiday_name

    def old_jpholiday(day: dt.date) -> str | None:
        name = real(day)
        if day.year > 2150 and name in ("春分の日", "秋分の日"):
            return None
        return name

    monkeypatch.setattr(calendar_module.jpholiday, "is_holiday_name", old_jpholiday)
    assert holidays_covered_until(2024, horizon_years=200) == D(2150, 12, 31)


def test_covered_until_start_uncovered(fresh_coverage_cache: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calendar_module.jpholiday, "is_holiday_name", lambda day: None)
    assert holidays_covered_until(2024) == D(2023, 12, 31)


def test_shipped_example_loads(tmp_path: Path) -> None:
    # The year-end closure ships commented out; uncommented, it must be a valid rule.
    shipped = (DEFAULT_RULES_DIR / "calendar.toml").read_text(encoding="utf-8")
    lines = [line.replace("# {", "{", 1) if line.lstrip().startswith("# {") else line for line in shipped.splitlines()]
    calendar = BusinessCalendar(load_calendar_rules(write_rules(tmp_path, "\n".join(lines))))
    assert calendar.closure_name(D(2025, 12, 29)) == "年末年始"
