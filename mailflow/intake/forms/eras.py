"""Dates as Japanese forms hold them: era text, western text and Excel serial numbers.

Every parser returns a :class:`DateResult`; an impossible or unreadable date carries the
reason instead of raising, because a bad date on a form is data for staff, not a crash.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Era:
    """A Japanese era: its kanji name, its initial and its first and last day."""

    name: str
    initial: str
    first_day: dt.date
    last_day: dt.date | None


# First days as fixed by the era-name ordinances; each era ends the day before the next begins.
ERAS: tuple[Era, ...] = (
    Era("明治", "M", dt.date(1868, 1, 25), dt.date(1912, 7, 29)),
    Era("大正", "T", dt.date(1912, 7, 30), dt.date(1926, 12, 24)),
    Era("昭和", "S", dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    Era("平成", "H", dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    Era("令和", "R", dt.date(2019, 5, 1), None),
)
_ERA_BY_TOKEN = {era.name: era for era in ERAS}
_ERA_BY_TOKEN.update({era.initial: era for era in ERAS})
_ERA_BY_TOKEN.update({era.name[0]: era for era in ERAS})

# Built-in number formats of the Japanese locale that display a date (ECMA-376 Part 1,
# 18.8.30: ids 27–31, 34–36 and 50–58 are 「ge.m.d」, 「ggge"年"m"月"d"日"」, 「yyyy"年"m"月"」 and
# the like). openpyxl 3.1 knows none of them and hands back the bare serial number.
# Ids 32 and 33 are times of day (「h"時"mm"分"」) and are not dates.
JAPANESE_DATE_FORMAT_IDS = frozenset([*range(27, 32), *range(34, 37), *range(50, 59)])

_SEPARATOR = r"[./\-年]"
_ERA_PATTERN = re.compile(
    r"(?P<era>明治|大正|昭和|平成|令和|[MTSHR明大昭平令])"
    r"(?P<year>元|\d{1,2})" + _SEPARATOR + r"(?P<month>\d{1,2})[./\-月](?P<day>\d{1,2}|末)日?"
)
_WESTERN_PATTERN = re.compile(
    r"(?:西暦)?(?P<year>\d{4})" + _SEPARATOR + r"(?P<month>\d{1,2})[./\-月](?P<day>\d{1,2}|末)日?"
)
_WEEKDAY_SUFFIX = re.compile(r"[(（][月火水木金土日祝][)）]$|\((mon|tue|wed|thu|fri|sat|sun)\)$", re.I)


@dataclass(frozen=True)
class DateResult:
    """A date read from a form, or the reason it could not be read.

    Exactly one of ``value`` and ``reason`` is set: ``DateResult(dt.date(1960, 4, 1))`` or
    ``DateResult(None, "no such day: 1960-02-30")``.
    """

    value: dt.date | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


def parse_date_text(text: str) -> DateResult:
    """Read a date written as text, in era or western spelling.

    Accepts 昭和35年4月1日, S35.4.1, Ｓ３５．４．１, 令和元年5月1日, R6.1.15, 昭35/4/1, ㍼35年4月1日,
    1960/4/1, 1960-04-01 and 1960年4月1日, with spaces anywhere (PDF text often splits
    digits: 「令和 8 年 1 2 月 2 日」) and an optional weekday such as （水）. 「末」 as the day
    means the last day of that month. Two-digit western years and dates without a day are
    rejected rather than guessed.
    """
    compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    compact = _WEEKDAY_SUFFIX.sub("", compact)
    if not compact:
        return DateResult(None, "date is blank")
    match = _ERA_PATTERN.fullmatch(compact.upper()) or _ERA_PATTERN.fullmatch(compact)
    if match:
        return _era_date(match)
    match = _WESTERN_PATTERN.fullmatch(compact)
    if match:
        return _calendar_date(int(match["year"]), int(match["month"]), match["day"])
    return DateResult(None, f"not a date in a known spelling: {text!r}")


def _era_date(match: re.Match[str]) -> DateResult:
    era = _ERA_BY_TOKEN[match["era"]]
    era_year = 1 if match["year"] == "元" else int(match["year"])
    if era_year < 1:
        return DateResult(None, f"{era.name}{era_year}年 does not exist")
    year = era.first_day.year + era_year - 1
    result = _calendar_date(year, int(match["month"]), match["day"])
    if not result.ok:
        return result
    written = f"{era.name}{match['year']}年{match['month']}月{match['day']}日"
    if result.value < era.first_day:
        return DateResult(None, f"{written} does not exist: {era.name} began on {era.first_day}")
    if era.last_day is not None and result.value > era.last_day:
        return DateResult(None, f"{written} does not exist: {era.name} ended on {era.last_day}")
    return result


def _calendar_date(year: int, month: int, day: str) -> DateResult:
    if not 1 <= month <= 12:
        return DateResult(None, f"no such month: {year}-{month}")
    last = calendar.monthrange(year, month)[1]
    day_number = last if day == "末" else int(day)
    if not 1 <= day_number <= last:
        return DateResult(None, f"no such day: {year}-{month:02d}-{day_number:02d}")
    return DateResult(dt.date(year, month, day_number))


def excel_serial_to_date(serial: float, date1904: bool = False) -> DateResult:
    """Convert an Excel date serial number to a date, dropping any time of day.

    In the 1900 date system serial 1 is 1900-01-01 and serial 60 is the 29 February 1900
    that Lotus 1-2-3 invented and Excel kept, so it is rejected; serials from 61 on count
    from 1899-12-30. In the 1904 system (old Mac workbooks) serial 0 is 1904-01-01.
    """
    if isinstance(serial, bool) or not isinstance(serial, (int, float)):
        return DateResult(None, f"not a date serial number: {serial!r}")
    whole = int(serial)
    if date1904:
        base, offset = dt.date(1904, 1, 1), whole
    elif whole == 60:
        return DateResult(None, "serial 60 is 1900-02-29, which does not exist")
    elif whole > 60:
        base, offset = dt.date(1899, 12, 30), whole
    else:
        base, offset = dt.date(1899, 12, 31), whole
    if whole < (0 if date1904 else 1) or whole > 2958465:
        return DateResult(None, f"date serial number out of range: {serial!r}")
    return DateResult(base + dt.timedelta(days=offset))


def format_code_is_date(code: str | None) -> bool:
    """Return whether an Excel number format code displays a date.

    Quoted literals, ``[...]`` locale and colour sections and backslash escapes are removed
    first; what remains is a date when it has a year, day or era token (y, d, e, g) or an
    ``m`` outside a time (``h:mm``). 「[$-411]ggge"年"m"月"d"日";@」 is a date; 「0"歳"」 is not.
    """
    if not code:
        return False
    bare = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.', "", code.split(";")[0]).lower()
    bare = re.sub(r"general|e[+-]", "", bare)
    if re.search(r"[ydeg]", bare):
        return True
    return bool(re.search(r"m", bare)) and not re.search(r"[hs]", bare)
