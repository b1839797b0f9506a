"""Tests of notice windows, renewal reminder dates and the renewal.toml loader."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from mailflow.calendar import BusinessCalendar, CalendarRules, YearlyClosure
from mailflow.clock import TOKYO
from mailflow.paths import DEFAULT_RULES_DIR
from mailflow.planning.schedule import (
    NoticeWindow,
    RenewalRules,
    due_reminder,
    load_renewal_rules,
    notice_window,
    reminder_dates,
    revocation_date,
)
from mailflow.registry.period import PeriodError
from mailflow.rules import RulesError

D = dt.date
SAMPLE_MAILBOX = Path(__file__).parent.parent / "fixtures" / "sample" / "mailbox"
DEFAULT = BusinessCalendar()
YEAR_END = BusinessCalendar(CalendarRules(yearly_closures=(YearlyClosure((12, 29), (1, 3), "年末年始"),)))


def test_notice_window_sample_event() -> None:
    # The challenge list in 11-challenge-list is for an event on 2027-03-10 and 11.
    event = json.loads((SAMPLE_MAILBOX / "11-challenge-list.json").read_text(encoding="utf-8"))["event"]
    days = [D.fromisoformat(day) for day in event["days"]]
    window = notice_window(days, DEFAULT)
    assert window.window_start == D.fromisoformat(event["notice_window"]["from"])
    assert window.window_end == D.fromisoformat(event["notice_window"]["to"])


# Event days, then the window start and end worked out by hand: 7 and 5 weeks before the
# first day, each moved back to a business day.
NOTICE_TABLE = [
    # Multi-day event in any order: Wednesday 2027-03-10 is the first day.
    ([D(2027, 3, 11), D(2027, 3, 10)], D(2027, 1, 20), D(2027, 2, 3)),
    # Saturday event: 2027-01-23 and 2027-02-06 are Saturdays, so both ends move to Friday.
    ([D(2027, 3, 13)], D(2027, 1, 22), D(2027, 2, 5)),
    # Golden Week: the end 2026-05-04 (みどりの日) moves past 5/3, 5/2 to Friday 5/1.
    ([D(2026, 6, 8)], D(2026, 4, 20), D(2026, 5, 1)),
    # Substitute holiday at the end: 2026-05-06 (振替休日) moves back to Friday 5/1.
    ([D(2026, 6, 10)], D(2026, 4, 22), D(2026, 5, 1)),
    # Substitute holiday at the start: 2025-05-06 (振替休日) moves back to Friday 5/2.
    ([D(2025, 6, 24)], D(2025, 5, 2), D(2025, 5, 20)),
    # Substitute holiday 2024-02-12 (建国記念の日 振替休日) moves the end to Friday 2/9.
    ([D(2024, 3, 18)], D(2024, 1, 29), D(2024, 2, 9)),
    # Citizens' holiday 2026-09-22 (国民の休日) after 敬老の日 moves the start to 9/18.
    ([D(2026, 11, 10)], D(2026, 9, 18), D(2026, 10, 6)),
    # New year: the end 2027-01-01 (元日) moves to Thursday 2026-12-31.
    ([D(2027, 2, 5)], D(2026, 12, 18), D(2026, 12, 31)),
    # New year: the start 2026-01-01 (元日) moves to Wednesday 2025-12-31.
    ([D(2026, 2, 19)], D(2025, 12, 31), D(2026, 1, 15)),
]


@pytest.mark.parametrize(("event_days", "start", "end"), NOTICE_TABLE)
def test_notice_window_table(event_days: list[dt.date], start: dt.date, end: dt.date) -> None:
    window = notice_window(event_days, DEFAULT)
    assert window.first_day == min(event_days)
    assert window.window_start == start
    assert window.window_end == end
    assert window.planned_send_date == start


@pytest.mark.parametrize(
    ("event_days", "start", "end"),
    [
        # With 12-29..01-03 closed, 2027-01-01 moves past the closure to Monday 2026-12-28.
        ([D(2027, 2, 5)], D(2026, 12, 18), D(2026, 12, 28)),
        # 2026-01-01 moves to Friday 2025-12-26, before the closure and its weekend.
        ([D(2026, 2, 19)], D(2025, 12, 26), D(2026, 1, 15)),
    ],
)
def test_notice_window_year_end(event_days: list[dt.date], start: dt.date, end: dt.date) -> None:
    window = notice_window(event_days, YEAR_END)
    assert window.window_start == start
    assert window.window_end == end


def test_notice_window_planned_end() -> None:
    window = notice_window([D(2027, 3, 13)], DEFAULT, planned="end")
    assert window.planned_send_date == D(2027, 2, 5)


def test_notice_window_rejects_empty() -> None:
    with pytest.raises(ValueError):
        notice_window([], DEFAULT)


def test_notice_window_rejects_plan() -> None:
    with pytest.raises(ValueError):
        notice_window([D(2027, 3, 10)], DEFAULT, planned="middle")


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (D(2027, 1, 19), False),
        (D(2027, 1, 20), True),
        (D(2027, 2, 3), True),
        (D(2027, 2, 4), False),
    ],
)
def test_notice_window_due(today: dt.date, expected: bool) -> None:
    window = NoticeWindow(D(2027, 3, 10), D(2027, 1, 20), D(2027, 2, 3), D(2027, 1, 20))
    assert window.is_due(today) is expected


# Expiry date, calendar, then (offset, send date) pairs worked out by hand. The deadline is
# 31 January: a Sunday in 2027 and a Monday in 2028.
REMINDER_TABLE = [
    (
        D(2027, 3, 31),
        DEFAULT,
        [
            (90, D(2026, 11, 2)),  # Monday
            (60, D(2026, 12, 2)),  # Wednesday
            (30, D(2026, 12, 31)),  # 2027-01-01 is 元日
            (14, D(2027, 1, 15)),  # 2027-01-17 is a Sunday
            (0, D(2027, 1, 29)),  # the deadline 2027-01-31 is a Sunday
        ],
    ),
    (
        D(2027, 3, 31),
        YEAR_END,
        [
            (90, D(2026, 11, 2)),
            (60, D(2026, 12, 2)),
            (30, D(2026, 12, 28)),  # 12-29..01-03 closed
            (14, D(2027, 1, 15)),
            (0, D(2027, 1, 29)),
        ],
    ),
    (
        D(2028, 3, 31),
        DEFAULT,
        [
            (90, D(2027, 11, 2)),  # Tuesday, before 文化の日
            (60, D(2027, 12, 2)),
            (30, D(2027, 12, 31)),  # 2028-01-01 is a Saturday and 元日
            (14, D(2028, 1, 17)),  # Monday
            (0, D(2028, 1, 31)),  # Monday
        ],
    ),
]


@pytest.mark.parametrize(("expires_on", "calendar", "expected"), REMINDER_TABLE)
def test_reminder_dates_table(
    expires_on: dt.date, calendar: BusinessCalendar, expected: list[tuple[int, dt.date]]
) -> None:
    reminders = reminder_dates(expires_on, RenewalRules(), calendar)
    assert [(reminder.offset, reminder.send_on) for reminder in reminders] == expected


def test_reminder_moved_off_holiday() -> None:
    # 20 days before 2027-01-31 is 2027-01-11, 成人の日; the Friday before is 2027-01-08.
    reminders = reminder_dates(D(2027, 3, 31), RenewalRules(offsets_days=(20,)), DEFAULT)
    assert [reminder.send_on for reminder in reminders] == [D(2027, 1, 8)]


def test_reminder_send_at_tokyo() -> None:
    rules = RenewalRules(offsets_days=(0,), send_time=dt.time(9, 30))
    reminders = reminder_dates(D(2028, 3, 31), rules, DEFAULT)
    assert reminders[0].send_at == dt.datetime(2028, 1, 31, 9, 30, tzinfo=TOKYO)


def test_reminders_same_day_merge() -> None:
    # 2, 1 and 0 days before Sunday 2027-01-31 all move to Friday 2027-01-29.
    reminders = reminder_dates(D(2027, 3, 31), RenewalRules(offsets_days=(2, 1, 0)), DEFAULT)
    assert [(reminder.offset, reminder.send_on) for reminder in reminders] == [(0, D(2027, 1, 29))]


def test_reminders_never_after_deadline() -> None:
    # An open Sunday deadline keeps offset 0 on the deadline; nothing comes later.
    calendar = BusinessCalendar(CalendarRules(open_dates=frozenset({D(2027, 1, 31)})))
    reminders = reminder_dates(D(2027, 3, 31), RenewalRules(), calendar)
    assert max(reminder.send_on for reminder in reminders) == D(2027, 1, 31)


@pytest.mark.parametrize(
    ("today", "offset"),
    [
        (D(2026, 11, 1), None),  # before the first reminder
        (D(2026, 11, 2), 90),
        (D(2026, 12, 30), 60),  # downtime: the latest due one only
        (D(2027, 1, 20), 14),
        (D(2027, 1, 31), 0),  # the deadline itself
        (D(2027, 2, 1), None),  # after the deadline nothing is due
    ],
)
def test_due_reminder(today: dt.date, offset: int | None) -> None:
    reminder = due_reminder(D(2027, 3, 31), RenewalRules(), DEFAULT, today)
    assert (reminder.offset if reminder else None) == offset


def test_revocation_day_after_expiry() -> None:
    assert revocation_date(D(2027, 3, 31)) == D(2027, 4, 1)


def test_revocation_rejects_bad_expiry() -> None:
    with pytest.raises(PeriodError):
        revocation_date(D(2027, 4, 1))


def test_shipped_renewal_rules() -> None:
    rules = load_renewal_rules(DEFAULT_RULES_DIR)
    assert rules.offsets_days == (90, 60, 30, 14, 0)
    assert rules.send_time == dt.time(9, 0)


def write_rules(folder: Path, text: str) -> Path:
    (folder / "renewal.toml").write_text(text, encoding="utf-8")
    return folder


def test_renewal_rules_toml_time(tmp_path: Path) -> None:
    rules = load_renewal_rules(write_rules(tmp_path, "[reminders]\noffsets_days = [0, 30]\nsend_time = 10:15:00\n"))
    assert rules.offsets_days == (30, 0)
    assert rules.send_time == dt.time(10, 15)


def test_renewal_rules_defaults(tmp_path: Path) -> None:
    assert load_renewal_rules(write_rules(tmp_path, "")) == RenewalRules()


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("[reminders]\noffsets_days = [90, -1]\n", "reminders.offsets_days", "-1"),
        ("[reminders]\noffsets_days = [400]\n", "reminders.offsets_days", "400"),
        ("[reminders]\noffsets_days = [30, 30]\n", "reminders.offsets_days", "30"),
        ('[reminders]\noffsets_days = ["30"]\n', "reminders.offsets_days", "'30'"),
        ("[reminders]\noffsets_days = [true]\n", "reminders.offsets_days", "True"),
        ("[reminders]\noffsets_days = 30\n", "reminders.offsets_days", "30"),
        ('[reminders]\nsend_time = "9:00"\n', "reminders.send_time", "'9:00'"),
        ('[reminders]\nsend_time = "24:00"\n', "reminders.send_time", "'24:00'"),
        ("[reminders]\noffset_days = [30]\n", "reminders.offset_days", "[30]"),
        ('notices = "start"\n', "notices", "'start'"),
    ],
)
def test_renewal_rules_invalid(tmp_path: Path, text: str, key: str, value: str) -> None:
    with pytest.raises(RulesError) as caught:
        load_renewal_rules(write_rules(tmp_path, text))
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{tmp_path / 'renewal.toml'}: {key} = {value}: ")
