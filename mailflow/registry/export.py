"""Write the registry to an .xlsx workbook that staff open in Excel and that imports back unchanged.

The headings are the Japanese ones the importer reads, and the status is written with the
wording the importer accepts. Dates are date cells with a ``yyyy/mm/dd`` number format, so
Excel sorts and filters them as dates. Strings are text cells, never formulas.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from mailflow.db.models import Mentor
from mailflow.registry.cells import keep_as_text
from mailflow.registry.rows import HEADINGS, STATUS_LABELS

SHEET_TITLE = "登録簿"
DATE_FORMAT = "yyyy/mm/dd"
FIELD_SEPARATOR = "、"
COLUMNS = ("registration_number", "name", "kana", "email", "registered_on", "expires_on", "fields", "status")
# Column widths in Excel's character units, wide enough for typical values.
WIDTHS = {"registration_number": 16, "name": 16, "kana": 20, "email": 32, "registered_on": 12,
          "expires_on": 12, "fields": 40, "status": 22}


def export_registry(mentors: Iterable[Mentor], path: Path) -> int:
    """Write ``mentors`` to the workbook ``path``, replacing it; return how many rows were written.

    The file is written to a temporary name in the same folder and renamed, so an
    interrupted export never leaves a half-written workbook behind. The workbook contains
    personal data, so it keeps the owner-only mode (0600) of the temporary file.
    """
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_TITLE
    sheet.append([HEADINGS[name] for name in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    count = 0
    for mentor in mentors:
        sheet.append([_value(mentor, name) for name in COLUMNS])
        keep_as_text(sheet[sheet.max_row])
        for index, name in enumerate(COLUMNS, start=1):
            if name in ("registered_on", "expires_on"):
                sheet.cell(row=sheet.max_row, column=index).number_format = DATE_FORMAT
        count += 1
    for index, name in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = WIDTHS[name]
    sheet.freeze_panes = "A2"

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".export-", suffix=".xlsx", dir=path.parent)
    os.close(handle)
    try:
        workbook.save(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


def _value(mentor: Mentor, name: str) -> object:
    value = getattr(mentor, name)
    if name == "fields":
        return FIELD_SEPARATOR.join(value or []) or None
    if name == "status":
        return STATUS_LABELS.get(value, value)
    return value
