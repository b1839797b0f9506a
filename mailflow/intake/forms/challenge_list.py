"""Read Form 3 (参加企業課題一覧), the host's challenge list: the event and one row per company.

Event facts are found by label (交流会名, 主催, 開催日, 会場) and the company table by its
heading row (No., 企業名, 業種, …), so a host's own layout reads the same way. Event
days may be real date cells, one per cell, or text such as 「2027年3月10日（水）・11日（木）」.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import asdict, dataclass, field

from mailflow.intake.forms.eras import parse_date_text
from mailflow.intake.forms.grid import Grid, GridCell
from mailflow.intake.forms.locate import LabelMatcher, find_labels, raw_value
from mailflow.intake.forms.table import body_rows, find_table
from mailflow.intake.forms.values import read_count, read_line, read_text

EVENT_LABELS: dict[str, list[str]] = {
    "name": [r"(新現役)?交流会(の)?名(称)?", r"イベント名", r"名称"],
    "host": [r"主催(者)?", r"開催機関(名)?", r"主催機関"],
    "days": [r"開催日(時|程)?", r"開催期間", r"日時", r"日程"],
    "venue": [r"会場", r"開催場所", r"場所"],
}

COMPANY_HEADINGS: dict[str, list[str]] = {
    "number": [r"No\.?", r"NO\.?", r"番号", r"企業No\.?", r"整理番号"],
    "name": [r"企業名", r"会社名", r"企業名\(匿名\)"],
    "industry": [r"業種"],
    "location": [r"所在地", r"所在地\(市区町村\)"],
    "employees": [r"従業員数", r"従業員"],
    "business": [r"事業内容", r"主な事業"],
    "challenge": [r"経営課題", r"課題"],
    "help_wanted": [r"支援してほしい内容", r"支援を希望する内容", r"相談したい内容"],
    "mentor_profile": [r"求めるメンター像", r"希望するメンター像", r"求める人材像"],
}

# The Japanese names of the event facts, for the problems staff read.
EVENT_LABEL_NAMES = {"name": "交流会名", "host": "主催", "days": "開催日", "venue": "会場"}
# A matching event lists tens of companies (the sample lists 15), so 500 leaves ample room.
# Reading on would copy a hostile list of 100,000 rows into the database and staff mail.
MAX_COMPANIES = 500
# Longer event names, hosts and venues are cut, because they go into every mentor's notice.
MAX_EVENT_TEXT = 200
# Row numbers listed in one problem. The rest are counted as 「ほか N 件」.
MAX_LISTED_ROWS = 10

_EVENT = LabelMatcher(EVENT_LABELS)
_COMPANY = LabelMatcher(COMPANY_HEADINGS)
# 「主催」 values often end with the co-hosts: 「テスト商工会議所（共催：関東経済産業局）」.
_CO_HOSTS = re.compile(r"\s*[（(]\s*((共催|後援|協賛|協力)[:：]?.*?)\s*[）)]\s*$")
_FULL_DATE = re.compile(r"(明治|大正|昭和|平成|令和|[MTSHR])?\s*\d{1,4}\s*[年./\-]\s*\d{1,2}\s*[月./\-]\s*\d{1,2}\s*日?")
_DAY_ONLY = re.compile(r"^\s*[・、,，&＆]\s*(?:(\d{1,2})\s*月\s*)?(\d{1,2})\s*日")


@dataclass
class Company:
    """One row of the company table; ``name`` is None when the list is anonymous."""

    number: int | None
    name: str | None = None
    industry: str | None = None
    location: str | None = None
    employees: int | None = None
    business: str | None = None
    challenge: str | None = None
    help_wanted: str | None = None
    mentor_profile: str | None = None


@dataclass
class ChallengeList:
    """The event a challenge list announces and its companies, with what could not be read.

    ``defects`` are English notes for developers (``mailflow inspect``), and ``problems``
    the same findings as Japanese sentences for staff, each listed once.
    """

    name: str | None = None
    host: str | None = None
    co_hosts: str | None = None
    days: list[dt.date] = field(default_factory=list)
    venue: str | None = None
    companies: list[Company] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def company_numbers(self) -> list[int]:
        return [company.number for company in self.companies if company.number is not None]

    def as_dict(self) -> dict:
        """Return JSON-ready values: dates as ISO strings, companies as dicts."""
        data = asdict(self)
        data["days"] = [day.isoformat() for day in self.days]
        data["company_count"] = len(self.companies)
        data["company_numbers"] = self.company_numbers
        return data


def read_challenge_list(grids: list[Grid]) -> ChallengeList:
    """Read the event and companies of a challenge list; never raises."""
    ordered = [grid for grid in grids if not grid.hidden] + [grid for grid in grids if grid.hidden]
    result = ChallengeList()
    table = find_table(ordered, _COMPANY, minimum=3, anchors={"number", "name"})
    skip = table.heading_ids if table else set()
    found = {}
    for hit in find_labels(ordered, _EVENT, skip=skip):
        found.setdefault(hit.key, hit)
    for key in EVENT_LABELS:
        if key not in found:
            result.unreadable.append(key)
            result.defects.append(f"{key}: label not found")
            result.problems.append(f"「{EVENT_LABEL_NAMES[key]}」の欄が見つかりませんでした")
    if "days" in found:
        _read_days(found["days"], result)
    for key in ("name", "host", "venue"):
        if key in found:
            setattr(result, key, _capped_text(key, read_line(raw_value(found[key], _EVENT)).value, result))
    if result.host:
        match = _CO_HOSTS.search(result.host)
        if match:
            result.co_hosts = match.group(1)
            result.host = result.host[: match.start()].strip()
    if table is None:
        result.unreadable.append("companies")
        result.defects.append("companies: table headings (No./企業名/業種) not found")
        result.problems.append("参加企業の表（No.・企業名・業種の見出し）が見つかりませんでした")
    else:
        result.companies = _companies(table, result)
    return result


def _capped_text(key: str, value: str | None, result: ChallengeList) -> str | None:
    """Return ``value`` cut to MAX_EVENT_TEXT characters, noting a cut in ``result``."""
    if value is None or len(value) <= MAX_EVENT_TEXT:
        return value
    result.defects.append(f"{key}: {len(value)} characters, cut to {MAX_EVENT_TEXT}")
    result.problems.append(f"「{EVENT_LABEL_NAMES[key]}」が {len(value)} 文字と長すぎるため、"
                           f"先頭の {MAX_EVENT_TEXT} 文字だけを使います")
    return value[:MAX_EVENT_TEXT]


def _read_days(hit, result: ChallengeList) -> None:
    cells: list[GridCell] = [cell for cell in hit.grid.right_of(hit.last_cell) if cell.row == hit.last_cell.row]
    values = [hit.inline_value] if hit.inline_value else [cell.value for cell in cells if not cell.is_blank]
    for value in values:
        if isinstance(value, dt.date):
            result.days.append(value)
        elif isinstance(value, str):
            days, problems = parse_event_days(value)
            result.days.extend(days)
            result.defects.extend(f"days: {problem}" for problem in problems)
            if problems:
                result.problems.append(f"開催日の欄に、日付として読み取れないものがあります（{len(problems)} 件）")
    result.days = sorted(set(result.days))
    if not result.days:
        result.unreadable.append("days")


def parse_event_days(text: str) -> tuple[list[dt.date], list[str]]:
    """Read the event days in a text: each full date, and days that follow one.

    「2027年3月10日（水）・11日（木）」 gives 10 and 11 March 2027; 「令和9年3月10日、3月11日」 the
    same. Text without a date (「各日 13:00～17:00」) gives no day and no problem.
    """
    folded = unicodedata.normalize("NFKC", text)
    days: list[dt.date] = []
    problems: list[str] = []
    for match in _FULL_DATE.finditer(folded):
        result = parse_date_text(match.group(0))
        if not result.ok:
            problems.append(result.reason)
            continue
        days.append(result.value)
        rest = re.sub(r"^\s*\([月火水木金土日祝]\)", "", folded[match.end():])
        days.extend(_following_days(result.value, rest, problems))
    return days, problems


def _following_days(first: dt.date, rest: str, problems: list[str]) -> list[dt.date]:
    days = []
    month = first.month
    while True:
        match = _DAY_ONLY.match(rest)
        if not match:
            return days
        month = int(match.group(1)) if match.group(1) else month
        result = parse_date_text(f"{first.year}年{month}月{match.group(2)}日")
        if result.ok:
            days.append(result.value)
        else:
            problems.append(result.reason)
        rest = re.sub(r"^\s*\([月火水木金土日祝]\)", "", rest[match.end():])


def _companies(table, result: ChallengeList) -> list[Company]:
    companies: list[Company] = []
    unnumbered: list[int] = []
    for row, cells in body_rows(table, _is_note_row):
        values = {key: (cell.value if cell else None) for key, cell in cells.items()}
        if all(value is None for value in values.values()):
            continue
        if len(companies) == MAX_COMPANIES:
            result.defects.append(f"companies: reading stopped at row {row + 1} after {MAX_COMPANIES} companies")
            result.problems.append(f"参加企業が {MAX_COMPANIES} 社を超えているため、{row + 1} 行目から先は読み取っていません")
            break
        company = _company(values)
        if company.number is None:
            unnumbered.append(row + 1)
        companies.append(company)
    if unnumbered:
        result.defects.append(f"companies: {len(unnumbered)} rows have no company number, "
                              f"first at row {unnumbered[0]}")
        result.problems.append(f"企業の No. がない行が {len(unnumbered)} 行あります（{listed_rows(unnumbered)}）")
    return companies


def listed_rows(rows: list[int]) -> str:
    """Return at most MAX_LISTED_ROWS row numbers, e.g. 「12行目、15行目 ほか 3 件」."""
    listed = "、".join(f"{row}行目" for row in rows[:MAX_LISTED_ROWS])
    rest = len(rows) - MAX_LISTED_ROWS
    return f"{listed} ほか {rest} 件" if rest > 0 else listed


# Company numbers and head counts run past the 200 that bounds ages and years.
LARGE_COUNT = 1_000_000


def _company(values: dict) -> Company:
    number = read_count(values.get("number"), "", below=LARGE_COUNT)
    employees = read_count(values.get("employees"), "名", below=LARGE_COUNT)
    if employees.problem:
        employees = read_count(values.get("employees"), "人", below=LARGE_COUNT)
    return Company(
        number=number.value,
        name=read_line(values.get("name")).value,
        industry=read_line(values.get("industry")).value,
        location=read_line(values.get("location")).value,
        employees=employees.value,
        business=read_text(values.get("business")).value,
        challenge=read_text(values.get("challenge")).value,
        help_wanted=read_text(values.get("help_wanted")).value,
        mentor_profile=read_text(values.get("mentor_profile")).value,
    )


def _is_note_row(anchored: list[GridCell]) -> bool:
    """Return whether a row is a note under the table (「※…」) rather than a company."""
    first = anchored[0]
    return isinstance(first.value, str) and first.text.lstrip().startswith(("※", "*", "注"))
