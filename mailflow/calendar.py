"""Business days of the bureau: weekdays that are neither national holidays nor closed days.

National holidays come from jpholiday, which includes substitute holidays (振替休日) and
citizens' holidays (国民の休日). ``rules/calendar.toml`` may add closed days (a yearly range
such as 12-29..01-03, or single dates) and extra open days. The shipped file adds none, so
the default calendar follows the manual: Saturdays, Sundays and national holidays are closed.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jpholiday

from mailflow import clock
from mailflow.errors import MailflowError
from mailflow.rules import RuleFile, read_rule_file

logger = logging.getLogger(__name__)

CALENDAR_RULES_FILE = "calendar.toml"

# Steps of one day tried before a search for a business day gives up. A year is far more
# than any real run of closed days, so hitting it means the rules close every day.
MAX_SEARCH_DAYS = 366

# How far ahead covered_until() probes jpholiday. jpholiday 1.x computes holidays by rule
# for any year, so without a horizon the probe would never find an end.
COVERAGE_HORIZON_YEARS = 100


class CalendarError(MailflowError):
    """No business day was found where one is needed, because the rules close too many days."""


@dataclass(frozen=True)
class YearlyClosure:
    """A range of closed days repeated every year, both ends included.

    ``start`` and ``end`` are (month, day) pairs; a range whose end comes before its start
    runs over the new year, for example ``YearlyClosure((12, 29), (1, 3), "年末年始")``.
    """

    start: tuple[int, int]
    end: tuple[int, int]
    name: str = ""

    def contains(self, day: dt.date) -> bool:
        """Return whether ``day`` falls in the range."""
        key = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= key <= self.end
        return key >= self.start or key <= self.end


@dataclass(frozen=True)
class CalendarRules:
    """Closed and open days added to the national calendar by ``rules/calendar.toml``.

    An open day wins over everything else: it makes a Saturday, a Sunday, a national
    holiday or a closed day a business day.
    """

    yearly_closures: tuple[YearlyClosure, ...] = ()
    closed_dates: dict[dt.date, str] = field(default_factory=dict)
    open_dates: frozenset[dt.date] = frozenset()


class BusinessCalendar:
    """Business-day arithmetic on Asia/Tokyo calendar dates: tests, rolling and counting."""

    def __init__(self, rules: CalendarRules | None = None) -> None:
        self.rules = rules or CalendarRules()

    def is_business_day(self, day: dt.date) -> bool:
        """Return whether ``day`` is a business day (平日) of the bureau."""
        if day in self.rules.open_dates:
            return True
        if day.weekday() >= 5:
            return False
        if jpholiday.is_holiday(day):
            return False
        return self.closure_name(day) is None

    def holiday_name(self, day: dt.date) -> str | None:
        """Return the national holiday's name for ``day`` (e.g. "昭和の日"), or None."""
        return jpholiday.is_holiday_name(day)

    def closure_name(self, day: dt.date) -> str | None:
        """Return the name of the closed day from the rules that covers ``day``, or None.

        A closure without a name returns "閉庁日", so that None always means "not closed".
        """
        if day in self.rules.closed_dates:
            return self.rules.closed_dates[day] or "閉庁日"
        for closure in self.rules.yearly_closures:
            if closure.contains(day):
                return closure.name or "閉庁日"
        return None

    def previous_business_day(self, day: dt.date) -> dt.date:
        """Return ``day`` if it is a business day, else the last business day before it.

        Raises CalendarError when no business day lies within MAX_SEARCH_DAYS.
        """
        return self._roll(day, -1)

    def next_business_day(self, day: dt.date) -> dt.date:
        """Return ``day`` if it is a business day, else the first business day after it.

        Raises CalendarError when no business day lies within MAX_SEARCH_DAYS.
        """
        return self._roll(day, 1)

    def add_business_days(self, day: dt.date, count: int) -> dt.date:
        """Return the date ``count`` business days after ``day`` (before it when negative).

        Only days strictly after (before) ``day`` are counted, so ``day`` itself need not be
        a business day: from Saturday 2024-04-27, one business day later is Tuesday
        2024-04-30, because Monday is 昭和の日. ``count == 0`` returns ``day`` unchanged.
        """
        step = 1 if count > 0 else -1
        current = day
        for _ in range(abs(count)):
            current = self._roll(current + dt.timedelta(days=step), step)
        return current

    def covered_until(self) -> dt.date:
        """Return the last date for which jpholiday returns the national holidays.

        See :func:`holidays_covered_until`; the search starts from today's year.
        """
        return holidays_covered_until(clock.today().year)

    def _roll(self, day: dt.date, step: int) -> dt.date:
        current = day
        for _ in range(MAX_SEARCH_DAYS):
            if self.is_business_day(current):
                return current
            current += dt.timedelta(days=step)
        direction = "前" if step < 0 else "後"
        raise CalendarError(
            f"{day.isoformat()} の{direction} {MAX_SEARCH_DAYS} 日間に営業日がありません。"
            f"rules/{CALENDAR_RULES_FILE} の閉庁日の指定を確認してください",
            day=day.isoformat(),
        )


WEEKDAY_NAMES = "月火水木金土日"


def format_japanese_date(day: dt.date) -> str:
    """Return ``day`` as mails and the CLI show it, e.g. "2027年1月29日（金）"."""
    return f"{day.year}年{day.month}月{day.day}日（{WEEKDAY_NAMES[day.weekday()]}）"


def _year_has_holidays(year: int) -> bool:
    """Return whether jpholiday returns 元日 and both equinox days for ``year``.

    The equinox days are the first holidays an old jpholiday drops: older releases compute
    them from constants that cover only 1851-2150, while jpholiday 1.0.3 computes them
    astronomically for any year.
    """
    if jpholiday.is_holiday_name(dt.date(year, 1, 1)) != "元日":
        return False
    names: set[str] = set()
    # For 1948-2300 jpholiday 1.0.3 puts the vernal equinox day on 19-21 March and the
    # autumnal one on 22-24 September. The probe looks one day further on either side.
    for month, days in ((3, range(18, 23)), (9, range(21, 26))):
        for day in days:
            name = jpholiday.is_holiday_name(dt.date(year, month, day))
            if name:
                names.add(name)
    return "春分の日" in names and "秋分の日" in names


@functools.lru_cache(maxsize=8)
def holidays_covered_until(start_year: int, horizon_years: int = COVERAGE_HORIZON_YEARS) -> dt.date:
    """Return 31 December of the last year, from ``start_year`` on, that jpholiday covers.

    A year is covered when jpholiday returns 元日 and both equinox days for it. The probe
    assumes the covered years run without a gap, and stops after ``horizon_years``, so
    jpholiday 1.x, which computes every year by rule, returns the horizon's end. A result
    before ``start_year`` means that even ``start_year`` is not covered.

    NOTE: jpholiday computes future holidays from today's law. The equinox days are fixed
    officially only in February of the year before, and a change in the law reaches the
    calendar only with a new jpholiday release.
    """
    if not _year_has_holidays(start_year):
        return dt.date(start_year - 1, 12, 31)
    low, high = start_year, start_year + horizon_years
    if _year_has_holidays(high):
        return dt.date(high, 12, 31)
    # Invariant: ``low`` is covered and ``high`` is not.
    while high - low > 1:
        middle = (low + high) // 2
        if _year_has_holidays(middle):
            low = middle
        else:
            high = middle
    return dt.date(low, 12, 31)


def load_calendar_rules(rules_dir: Path) -> CalendarRules:
    """Read ``rules_dir/calendar.toml`` into CalendarRules.

    Raises RulesError listing every problem, each with the file, the key and the value.
    """
    rule_file = read_rule_file(rules_dir, CALENDAR_RULES_FILE)
    _reject_unknown_keys(rule_file, rule_file.data, "", {"closed", "open"})
    closed = rule_file.table("closed")
    opened = rule_file.table("open")
    _reject_unknown_keys(rule_file, closed, "closed.", {"yearly", "dates"})
    _reject_unknown_keys(rule_file, opened, "open.", {"dates"})

    yearly = tuple(_read_yearly_closures(rule_file, _read_list(rule_file, closed, "closed.yearly")))
    closed_dates = _read_closed_dates(rule_file, _read_list(rule_file, closed, "closed.dates"))
    open_dates: set[dt.date] = set()
    for index, item in enumerate(_read_list(rule_file, opened, "open.dates")):
        day = _read_date(rule_file, f"open.dates[{index}]", item)
        if day is None:
            continue
        if day in closed_dates:
            rule_file.problem(f"open.dates[{index}]", item, "closed.dates にも同じ日付があります。どちらか一方にしてください")
        open_dates.add(day)

    rule_file.raise_if_problems()
    logger.debug(
        "calendar rules loaded: yearly_closures=%d closed_dates=%d open_dates=%d",
        len(yearly), len(closed_dates), len(open_dates),
    )
    return CalendarRules(yearly_closures=yearly, closed_dates=closed_dates, open_dates=frozenset(open_dates))


def _reject_unknown_keys(rule_file: RuleFile, table: dict[str, Any], prefix: str, known: set[str]) -> None:
    for key, value in table.items():
        if key not in known:
            rule_file.problem(prefix + key, value, f"不明なキーです（使えるキー: {', '.join(sorted(known))}）")


def _read_list(rule_file: RuleFile, table: dict[str, Any], key: str) -> list[Any]:
    value = table.get(key.rsplit(".", 1)[-1], [])
    if not isinstance(value, list):
        rule_file.problem(key, value, "配列でなければなりません")
        return []
    return value


def _read_yearly_closures(rule_file: RuleFile, items: Iterable[Any]) -> Iterable[YearlyClosure]:
    for index, item in enumerate(items):
        key = f"closed.yearly[{index}]"
        if not isinstance(item, dict) or not {"from", "to"} <= item.keys():
            rule_file.problem(key, item, '{ from = "12-29", to = "01-03", name = "年末年始" } の形で書いてください')
            continue
        _reject_unknown_keys(rule_file, item, key + ".", {"from", "to", "name"})
        start = _read_month_day(rule_file, key + ".from", item["from"])
        end = _read_month_day(rule_file, key + ".to", item["to"])
        name = _read_name(rule_file, key + ".name", item.get("name", ""))
        if start is not None and end is not None:
            yield YearlyClosure(start, end, name)


def _read_closed_dates(rule_file: RuleFile, items: Iterable[Any]) -> dict[dt.date, str]:
    closed: dict[dt.date, str] = {}
    for index, item in enumerate(items):
        key = f"closed.dates[{index}]"
        name = ""
        if isinstance(item, dict):
            _reject_unknown_keys(rule_file, item, key + ".", {"date", "name"})
            name = _read_name(rule_file, key + ".name", item.get("name", ""))
            item = item.get("date")
            key += ".date"
        day = _read_date(rule_file, key, item)
        if day is not None:
            closed[day] = name
    return closed


def _read_date(rule_file: RuleFile, key: str, value: Any) -> dt.date | None:
    """Accept a TOML local date (2025-08-13) or the same date as an ISO string."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    rule_file.problem(key, value, "日付は 2025-08-13 の形で書いてください")
    return None


def _read_month_day(rule_file: RuleFile, key: str, value: Any) -> tuple[int, int] | None:
    """Accept "MM-DD"; 02-29 is allowed and then matches only in leap years."""
    if isinstance(value, str) and re.fullmatch(r"\d{2}-\d{2}", value):
        try:
            # 2000 is a leap year, so 02-29 passes the check.
            day = dt.date(2000, int(value[:2]), int(value[3:]))
            return (day.month, day.day)
        except ValueError:
            pass
    rule_file.problem(key, value, '月日は "12-29" のように MM-DD の形で書いてください')
    return None


def _read_name(rule_file: RuleFile, key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    rule_file.problem(key, value, "名前は文字列で書いてください")
    return ""
