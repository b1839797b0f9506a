"""Check the rows of a registry list: headings, dates, expiry rules, statuses and duplicates.

Columns are found by their Japanese or English heading (登録番号 / registration_number, 氏名 /
name, ふりがな / kana, メールアドレス / email, 登録日 / registered_on, 満了日 / expires_on,
専門分野 / fields, 状態 / status), in any order. Every problem is reported with its row and
column, so that one pass over the list shows all that must be fixed.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from openpyxl.utils import get_column_letter

from mailflow.intake.forms.eras import DateResult, excel_serial_to_date, parse_date_text
from mailflow.intake.forms.normalize import fold_width, label_key, normalize_email
from mailflow.registry.mentors import STATUS_LABELS
from mailflow.registry.period import PeriodSettings, registration_period, renewal_period
from mailflow.registry.table import Table

HEADINGS = {
    "registration_number": "登録番号",
    "name": "氏名",
    "kana": "ふりがな",
    "email": "メールアドレス",
    "registered_on": "登録日",
    "expires_on": "満了日",
    "fields": "専門分野",
    "status": "状態",
}
# Other spellings of the headings, compared after NFKC, without blanks and in lower case.
HEADING_ALIASES = {
    "registration_number": ("登録no", "登録no.", "mm登録番号", "registrationnumber"),
    "name": ("名前", "氏名(漢字)"),
    "kana": ("フリガナ", "氏名(ふりがな)", "氏名(フリガナ)", "よみがな"),
    "email": ("メール", "e-mail", "mail", "mailaddress", "電子メールアドレス"),
    "registered_on": ("登録年月日", "registrationdate"),
    "expires_on": ("登録期間満了日", "有効期限", "expirydate"),
    "fields": ("専門", "得意分野"),
    "status": ("登録状態", "ステータス"),
}
REQUIRED_COLUMNS = ("name", "registered_on")

# Words a list may use in the 状態 column, compared after NFKC and without blanks.
STATUS_WORDS = {
    "active": ("登録中", "有効", "登録", "active"),
    "withdrawn": ("取り消し(本人の申し出)", "取消(本人の申し出)", "本人申出", "辞退", "withdrawn"),
    "revoked": ("取り消し(局の判断)", "取消(局の判断)", "取り消し", "取消", "登録取消", "revoked"),
}
FIELD_SEPARATORS = re.compile(r"[、,，/／・;；\n]+")
# How many later renewals an expiry date may be ahead of the first period.
MAX_RENEWALS_CHECKED = 25


@dataclass(frozen=True)
class Problem:
    """One reason a list cannot be imported, at a row and (where known) a column."""

    row: int
    column: int | None
    heading: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.row}行目"
        if self.column is not None:
            where += f" {get_column_letter(self.column)}列（{self.heading}）"
        return f"{where}: {self.message}"


@dataclass
class RegistryRow:
    """One checked row of the list; None means the cell was empty."""

    row: int
    name: str
    registered_on: dt.date
    expires_on: dt.date
    status: str
    registration_number: str | None = None
    kana: str | None = None
    email: str | None = None
    fields: list[str] | None = None
    columns: dict[str, int] = field(default_factory=dict)


@dataclass
class ParsedList:
    """The rows of a list that passed every check, the problems found and the columns not used."""

    rows: list[RegistryRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored_headings: list[str] = field(default_factory=list)


def normalize_registration_number(value: Any) -> str | None:
    """Return a registration number in its stored form: NFKC, no blanks, upper case ("mm-2026-0001" → "MM-2026-0001")."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value))).upper()
    return text or None


def parse_list(table: Table, settings: PeriodSettings) -> ParsedList:
    """Check every row of ``table`` and return the rows and every problem, with row and column."""
    parsed = ParsedList()
    if not table.rows:
        parsed.problems.append(Problem(1, None, None, "データがありません。1行目に見出し、2行目から登録者を書いてください"))
        return parsed
    header_row, header = table.rows[0]
    columns = _map_columns(header_row, header, parsed)
    if parsed.problems:
        return parsed
    seen_numbers: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    for row_number, values in table.rows[1:]:
        reader = _RowReader(row_number, values, columns, table.date1904, parsed.problems)
        row = reader.read(settings)
        # Duplicates are checked on rows with other problems too, so one pass reports all.
        _check_unique(reader, "registration_number", reader.number, seen_numbers, "登録番号")
        _check_unique(reader, "email", reader.email_key, seen_emails, "メールアドレス")
        if row is not None and not reader.failed:
            parsed.rows.append(row)
    return parsed


def _map_columns(header_row: int, header: list[Any], parsed: ParsedList) -> dict[str, int]:
    known = {label_key(heading).lower(): name for name, heading in HEADINGS.items()}
    known.update({name: name for name in HEADINGS})
    for name, aliases in HEADING_ALIASES.items():
        known.update({label_key(alias).lower(): name for alias in aliases})
    columns: dict[str, int] = {}
    for index, cell in enumerate(header, start=1):
        text = str(cell or "").strip()
        if not text:
            continue
        name = known.get(label_key(text).lower())
        if name is None:
            parsed.ignored_headings.append(text)
        elif name in columns:
            parsed.problems.append(Problem(header_row, index, text,
                                           f"「{HEADINGS[name]}」の列が二つあります（{get_column_letter(columns[name])}列にもあります）"))
        else:
            columns[name] = index
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            parsed.problems.append(Problem(header_row, None, None,
                                           f"「{HEADINGS[name]}」の列がありません。見出しの行に「{HEADINGS[name]}」を書いてください"))
    return columns


def _check_unique(reader: _RowReader, name: str, value: str | None, seen: dict[str, int], label: str) -> None:
    if value is None:
        return
    if value in seen:
        reader.problem(name, f"{label}が {seen[value]}行目と同じです。一人一行にしてください")
    else:
        seen[value] = reader.row_number


class _RowReader:
    """Read and check the cells of one row; problems go to the shared list."""

    def __init__(self, row_number: int, values: list[Any], columns: dict[str, int], date1904: bool,
                 problems: list[Problem]) -> None:
        self.row_number = row_number
        self.values = values
        self.columns = columns
        self.date1904 = date1904
        self.problems = problems
        self.failed = False
        self.number = normalize_registration_number(self.cell("registration_number"))
        email = normalize_email(str(self.cell("email") or ""))
        # The comparison form of the address for finding duplicates in the file.
        self.email_key = email.lower() if email else None

    def cell(self, name: str) -> Any:
        index = self.columns.get(name)
        if index is None or index > len(self.values):
            return None
        value = self.values[index - 1]
        return None if value == "" else value

    def problem(self, name: str, message: str) -> None:
        self.failed = True
        self.problems.append(Problem(self.row_number, self.columns.get(name), HEADINGS[name], message))

    def read(self, settings: PeriodSettings) -> RegistryRow | None:
        name = self.text("name")
        if name is None:
            self.problem("name", "氏名がありません")
        number = self.number
        email = self.email()
        if number is None and self.cell("email") is None:
            self.problem("registration_number", "登録番号かメールアドレスのどちらかが必要です。取り込み済みの登録者との照合に使います")
        registered_on = self.date("registered_on", required=True)
        expires_on = self.expiry(registered_on, settings)
        status = self.status()
        fields = self.fields()
        if self.failed or name is None or registered_on is None or expires_on is None or status is None:
            return None
        return RegistryRow(self.row_number, name, registered_on, expires_on, status, number,
                           self.text("kana"), email, fields, self.columns)

    def text(self, name: str) -> str | None:
        value = self.cell(name)
        if value is None:
            return None
        text = re.sub(r"[ \t]+", " ", fold_width(str(value))).strip()
        return text or None

    def email(self) -> str | None:
        value = self.cell("email")
        if value is None:
            return None
        email = normalize_email(str(value))
        if email is None:
            self.problem("email", f"メールアドレスの形式が正しくありません: {value!r}")
        return email

    def date(self, name: str, required: bool = False) -> dt.date | None:
        value = self.cell(name)
        if value is None:
            if required:
                self.problem(name, f"{HEADINGS[name]}がありません")
            return None
        result = _read_date(value, self.date1904)
        if result.value is None:
            self.problem(name, f"日付として読めません: {value!r}（2024-04-01、2024/4/1、令和6年4月1日 の形で書いてください）")
        return result.value

    def expiry(self, registered_on: dt.date | None, settings: PeriodSettings) -> dt.date | None:
        written = self.date("expires_on")
        if written is not None and (written.month, written.day) != (3, 31):
            self.problem("expires_on", f"満了日 {written.isoformat()} が3月31日ではありません。満了日は年度末の3月31日です")
            return None
        if registered_on is None:
            return written
        first = registration_period(registered_on, settings).expires_on
        if written is None:
            return first if self.cell("expires_on") is None else None
        allowed = _allowed_expiries(first, settings)
        if written not in allowed:
            self.problem("expires_on", f"満了日 {written.isoformat()} が登録日 {registered_on.isoformat()} から決まる満了日と合いません"
                                       f"（{first.isoformat()}、更新後なら {allowed[1].isoformat()} など）")
            return None
        return written

    def status(self) -> str | None:
        value = self.cell("status")
        if value is None:
            return "active"
        key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value))).lower()
        for status, words in STATUS_WORDS.items():
            if key in {re.sub(r"\s+", "", unicodedata.normalize("NFKC", word)).lower() for word in words}:
                return status
        choices = "、".join(STATUS_LABELS.values())
        self.problem("status", f"状態 {value!r} は使えません。{choices} のいずれかにしてください")
        return None

    def fields(self) -> list[str] | None:
        text = self.text("fields")
        if text is None:
            return None
        return [part.strip() for part in FIELD_SEPARATORS.split(text) if part.strip()]


def _allowed_expiries(first: dt.date, settings: PeriodSettings) -> list[dt.date]:
    """Return the expiry dates a registration may have: its first period's, then each renewal's.

    Renewed periods are counted from the day after the old expiry date, the way renewals
    with ``renewal_period_from = "old_expiry"`` are made. With ``"decision_date"`` a renewed
    period depends on the day staff decided, which the list does not hold, so any later
    31 March is allowed.
    """
    allowed = [first]
    for _ in range(MAX_RENEWALS_CHECKED):
        allowed.append(renewal_period(allowed[-1], allowed[-1], settings).expires_on)
    if settings.renewal_period_from.value == "decision_date":
        allowed = [dt.date(year, 3, 31) for year in range(first.year, allowed[-1].year + 1)]
    return allowed


def _read_date(value: Any, date1904: bool) -> DateResult:
    if isinstance(value, dt.datetime):
        return DateResult(value.date())
    if isinstance(value, dt.date):
        return DateResult(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return excel_serial_to_date(value, date1904)
    return parse_date_text(str(value))
