"""Read a registry list from .xlsx or .csv into rows of cell values, with the file's row numbers.

CSV files are read as UTF-8 (with or without the byte order mark Excel writes for "CSV
UTF-8") or, when they are not valid UTF-8, as cp932, which Excel writes for plain "CSV" on
Japanese Windows. In .xlsx files a date cell becomes a ``date``. A number in a date column
stays a number, which the reader of that column takes as an Excel serial date.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailflow.errors import MailflowError

SUFFIXES = (".xlsx", ".csv")
UTF8_BOM = b"\xef\xbb\xbf"


class TableError(MailflowError):
    """The file cannot be read as a table: wrong type, damaged, or of an unknown encoding."""


@dataclass(frozen=True)
class Table:
    """The non-blank rows of a list, each as ``(row number, cell values)``.

    ``date1904`` is True for a workbook in the 1904 date system (old Mac Excel), so serial
    numbers are read from 1904-01-01. ``encoding`` names the CSV encoding that was used.
    """

    rows: list[tuple[int, list[Any]]]
    date1904: bool = False
    encoding: str | None = None


def read_table(path: Path) -> Table:
    """Read ``path`` (.xlsx or .csv) into a Table; raise TableError when it cannot be read."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise TableError(f"{path.name} は読めない種類のファイルです。Excel の .xlsx か .csv を指定してください",
                         suffix=suffix)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TableError(f"{path} を開けません: {exc.strerror}") from exc
    if suffix == ".csv":
        return _read_csv(data)
    return _read_xlsx(data, path.name)


def _read_csv(data: bytes) -> Table:
    if data.startswith(UTF8_BOM):
        text, encoding = data[len(UTF8_BOM):].decode("utf-8", errors="strict"), "utf-8-sig"
    else:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            try:
                text, encoding = data.decode("cp932"), "cp932"
            except UnicodeDecodeError as exc:
                raise TableError(
                    "CSV の文字コードを判別できません。UTF-8 か Shift_JIS（cp932）で保存してください",
                    position=exc.start,
                ) from exc
    rows = []
    # A quoted cell may hold a line break, so the record count, not the line count, gives
    # the row number that Excel shows for the same file.
    for number, cells in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        values: list[Any] = [cell.strip() for cell in cells]
        if any(values):
            rows.append((number, values))
    return Table(rows=rows, encoding=encoding)


def _read_xlsx(data: bytes, name: str) -> Table:
    import openpyxl
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise TableError(f"{name} を Excel ファイルとして読めません（{type(exc).__name__}）。"
                         "Excel で開いて .xlsx 形式で保存し直してください") from exc
    sheet = workbook.worksheets[0]
    rows = []
    for cells in sheet.iter_rows():
        values = [_cell_value(cell.value) for cell in cells]
        if any(value not in (None, "") for value in values):
            rows.append((cells[0].row, values))
    return Table(rows=rows, date1904=workbook.epoch == CALENDAR_MAC_1904)


def _cell_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return value.strip()
    return value
