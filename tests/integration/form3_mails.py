"""Build a host's Form 3 mail from the sample challenge list, changed the way a test needs."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from email.message import EmailMessage
from email.utils import format_datetime

import openpyxl

from tests.conftest import SAMPLE

SAMPLE_FORM3 = SAMPLE / "forms" / "yoshiki3_sample.xlsx"
HOST = "tanto@test-cci.example.jp"
SUBJECT = "【テスト商工会議所】新現役交流会（3/10・3/11開催）参加企業課題一覧の送付"
# Cells of the sample workbook: the two event days and the venue.
DAY_CELLS = ("C4", "D4")
VENUE_CELL = "C5"
SENT_AT = dt.datetime(2026, 12, 15, 17, 31, tzinfo=dt.timezone(dt.timedelta(hours=9)))


def form3_workbook(days: list[dt.date] | None = None, venue: str | None = None, extra_rows: int = 0,
                   unnumbered: bool = False) -> bytes:
    """Return the sample Form 3 with other event days, another venue or more company rows.

    ``extra_rows`` rows are added under the table; with ``unnumbered`` they have no company number.
    """
    workbook = openpyxl.load_workbook(SAMPLE_FORM3)
    sheet = workbook.active
    if days is not None:
        for cell, day in zip(DAY_CELLS, [*days, None, None], strict=False):
            sheet[cell] = day
    if venue is not None:
        sheet[VENUE_CELL] = venue
    first = sheet.max_row + 1
    for offset in range(extra_rows):
        row = first + offset
        # The reader takes company numbers below 200, so long lists repeat numbers.
        sheet.cell(row=row, column=1, value=None if unnumbered else 100 + offset % 99)
        sheet.cell(row=row, column=2, value=f"企業{offset}")
        sheet.cell(row=row, column=3, value="製造業")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def with_members(workbook: bytes, members: dict[str, bytes]) -> bytes:
    """Return ``workbook`` with zip members added or replaced, as a macro or an external link would be."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            if name not in members:
                target.writestr(name, source.read(name))
        for name, data in members.items():
            target.writestr(name, data)
    return buffer.getvalue()


def form3_mail(workbook: bytes, message_id: str, sender: str = HOST,
               filename: str = "新現役交流会参加企業課題一覧（様式3）.xlsx") -> bytes:
    """Return a host's mail that sends ``workbook`` as its challenge list."""
    message = EmailMessage()
    message["From"] = f"テスト商工会議所 山本 <{sender}>"
    message["To"] = "intake@bureau.example.jp"
    message["Subject"] = SUBJECT
    message["Date"] = format_datetime(SENT_AT)
    message["Message-ID"] = message_id
    message.set_content("新現役交流会の参加企業課題一覧（様式3）を送付します。\n")
    message.add_attachment(workbook, maintype="application",
                           subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename=filename)
    return message.as_bytes()
