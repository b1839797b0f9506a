"""Send dates of the unattended mailings: event notice windows and renewal reminders.

Everything here is a pure function of dates, the business calendar and the rules. The
planners use these dates to decide what is due, and write the outbox rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from mailflow.calendar import BusinessCalendar
from mailflow.clock import TOKYO
from mailflow.registry.period import check_expiry_date, renewal_deadline
from mailflow.rules import RuleFile, read_rule_file

logger = logging.getLogger(__name__)

RENEWAL_RULES_FILE = "renewal.toml"

# The bureau's manual sets the notice window from 7 to 5 weeks before the first event day.
NOTICE_WINDOW_START_WEEKS = 7
NOTICE_WINDOW_END_WEEKS = 5

DEFAULT_REMINDER_OFFSETS = (90, 60, 30, 14, 0)
DEFAULT_REMINDER_TIME = dt.time(9, 0)
# A period lasts at least three years, and a reminder a year before the deadline is
# already early. A larger offset is taken for a typing error.
MAX_REMINDER_OFFSET_DAYS = 365


class NoticePlan(StrEnum):
    """Rule that picks the planned send date inside the notice window.

    ``start`` (the default) plans the notice for the first day of the window, which gives
    mentors the most time to reply. ``end`` plans it for the last day, which gives the host
    the most time to settle the programme. Both ends are business days already.
    """

    START = "start"
    END = "end"


@dataclass(frozen=True)
class NoticeWindow:
    """The days an event notice may go out, for example for an event on 2027-03-10 and 11:
    ``NoticeWindow(first_day=2027-03-10, window_start=2027-01-20, window_end=2027-02-03,
    planned_send_date=2027-01-20)``.
    """

    first_day: dt.date
    window_start: dt.date
    window_end: dt.date
    planned_send_date: dt.date

    def contains(self, day: dt.date) -> bool:
        """Return whether ``day`` lies in the window, both ends included."""
        return self.window_start <= day <= self.window_end

    def is_due(self, today: dt.date) -> bool:
        """Return whether the notice should go out on ``today``.

        It is due from the planned date to the end of the window, so a notice missed during
        downtime still goes out late in the window, and never after it.
        """
        return self.planned_send_date <= today <= self.window_end


def notice_window(
    event_days: Iterable[dt.date], calendar: BusinessCalendar, planned: NoticePlan | str = NoticePlan.START
) -> NoticeWindow:
    """Return the notice window of an event held on ``event_days``.

    The window runs from 7 weeks to 5 weeks before the first (earliest) event day. An end
    that falls on a non-business day moves to the business day before it. Raises
    ValueError when ``event_days`` is empty or ``planned`` is not a NoticePlan value.
    """
    days = list(event_days)
    if not days:
        raise ValueError("notice_window needs at least one event day")
    plan = NoticePlan(planned)
    first_day = min(days)
    window_start = calendar.previous_business_day(first_day - dt.timedelta(weeks=NOTICE_WINDOW_START_WEEKS))
    window_end = calendar.previous_business_day(first_day - dt.timedelta(weeks=NOTICE_WINDOW_END_WEEKS))
    planned_send_date = window_start if plan is NoticePlan.START else window_end
    return NoticeWindow(first_day, window_start, window_end, planned_send_date)


@dataclass(frozen=True)
class RenewalRules:
    """Renewal reminder settings from ``rules/renewal.toml``.

    ``offsets_days`` are days before the renewal deadline, largest first (0 is the deadline
    itself); ``send_time`` is an Asia/Tokyo wall-clock time.
    """

    offsets_days: tuple[int, ...] = DEFAULT_REMINDER_OFFSETS
    send_time: dt.time = DEFAULT_REMINDER_TIME


@dataclass(frozen=True)
class Reminder:
    """One renewal reminder: ``offset`` days before the deadline, sent on ``send_on`` at ``send_at``."""

    offset: int
    send_on: dt.date
    send_at: dt.datetime


def reminder_dates(expires_on: dt.date, rules: RenewalRules, calendar: BusinessCalendar) -> list[Reminder]:
    """Return the renewal reminders for a period expiring on ``expires_on``, earliest first.

    Each reminder falls ``offset`` days before the renewal deadline and moves to the
    business day before when that day is not a business day. Reminders that land on the
    same day merge into the one with the smallest offset, whose wording is the most urgent.
    No reminder falls after the deadline. Raises PeriodError when ``expires_on`` is not
    31 March.
    """
    deadline = renewal_deadline(expires_on)
    by_day: dict[dt.date, int] = {}
    for offset in rules.offsets_days:
        send_on = calendar.previous_business_day(deadline - dt.timedelta(days=offset))
        if send_on > deadline:
            continue
        if send_on not in by_day or offset < by_day[send_on]:
            by_day[send_on] = offset
    return [
        Reminder(offset, send_on, dt.datetime.combine(send_on, rules.send_time, tzinfo=TOKYO))
        for send_on, offset in sorted(by_day.items())
    ]


def due_reminder(
    expires_on: dt.date, rules: RenewalRules, calendar: BusinessCalendar, today: dt.date
) -> Reminder | None:
    """Return the reminder to send on ``today``, or None when none is due.

    That is the latest reminder dated on or before ``today``, so after downtime only the
    most recent missed reminder goes out, not all of them. After the renewal deadline
    nothing is due. Whether the reminder was already sent is for the outbox key to decide.
    """
    if today > renewal_deadline(expires_on):
        return None
    due = [reminder for reminder in reminder_dates(expires_on, rules, calendar) if reminder.send_on <= today]
    return due[-1] if due else None


def revocation_date(expires_on: dt.date) -> dt.date:
    """Return the day a registration not renewed is revoked (reason ``not_renewed``).

    That is the day after the expiry date, always 1 April. Raises PeriodError when
    ``expires_on`` is not 31 March.
    """
    check_expiry_date(expires_on)
    return expires_on + dt.timedelta(days=1)


def load_renewal_rules(rules_dir: Path) -> RenewalRules:
    """Read ``rules_dir/renewal.toml`` into RenewalRules.

    Missing keys take the defaults (90, 60, 30, 14 and 0 days; 09:00). Raises RulesError
    listing every problem, each with the file, the key and the value.
    """
    rule_file = read_rule_file(rules_dir, RENEWAL_RULES_FILE)
    for key, value in rule_file.data.items():
        if key != "reminders":
            rule_file.problem(key, value, "不明なキーです（使えるキー: reminders）")
    table = rule_file.table("reminders")
    for key, value in table.items():
        if key not in ("offsets_days", "send_time"):
            rule_file.problem(f"reminders.{key}", value, "不明なキーです（使えるキー: offsets_days, send_time）")

    offsets = _read_offsets(rule_file, table.get("offsets_days", list(DEFAULT_REMINDER_OFFSETS)))
    send_time = _read_time(rule_file, table.get("send_time", DEFAULT_REMINDER_TIME))
    rule_file.raise_if_problems()
    logger.debug("renewal rules loaded: offsets_days=%s send_time=%s", offsets, send_time)
    return RenewalRules(offsets_days=offsets, send_time=send_time)


def _read_offsets(rule_file: RuleFile, value: Any) -> tuple[int, ...]:
    key = "reminders.offsets_days"
    if not isinstance(value, list):
        rule_file.problem(key, value, "整数の配列でなければなりません（例 [90, 60, 30, 14, 0]）")
        return ()
    offsets: list[int] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            rule_file.problem(key, item, "日数は整数で書いてください")
        elif item < 0:
            rule_file.problem(key, item, "負の日数は期限後の日になるため使えません。0（期限当日）以上にしてください")
        elif item > MAX_REMINDER_OFFSET_DAYS:
            rule_file.problem(key, item, f"日数は {MAX_REMINDER_OFFSET_DAYS} 以下にしてください")
        elif item in offsets:
            rule_file.problem(key, item, "同じ日数が二度書かれています")
        else:
            offsets.append(item)
    return tuple(sorted(offsets, reverse=True))


def _read_time(rule_file: RuleFile, value: Any) -> dt.time:
    """Accept a TOML local time (09:00:00) or an "HH:MM" string."""
    key = "reminders.send_time"
    if isinstance(value, dt.time) and value.tzinfo is None:
        return value
    if isinstance(value, str) and re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        return dt.time(int(value[:2]), int(value[3:]))
    rule_file.problem(key, value, '時刻は "09:00" のように HH:MM の形で書いてください（東京時間）')
    return DEFAULT_REMINDER_TIME
