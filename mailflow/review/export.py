"""Export the review queue and the registry to an Excel workbook with Japanese headings.

Dates are written as Excel dates (not text), so staff can sort and filter them.
Timestamps are converted to Asia/Tokyo wall-clock time first, because Excel has no time
zones. Strings are text cells, so a sender's name such as "=HYPERLINK(…)" is never run as
a formula. The file holds personal data and is created owner-only (0600).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.db.models import Mentor, ReviewItem
from mailflow.intake.findings import DOCUMENT_LABELS, DOCUMENT_ROLES
from mailflow.registry.cells import keep_as_text
from mailflow.registry.mentors import STATUS_LABELS, reason_wording
from mailflow.review import states
from mailflow.review.mailings import KIND_LABELS

DATE_FORMAT = "yyyy/mm/dd"
DATETIME_FORMAT = "yyyy/mm/dd hh:mm"

ITEM_COLUMNS = ["受付番号", "種別", "状態", "受付日時", "書類がそろった日時", "結論の日時", "結論", "理由",
                "申請者", "メールアドレス", *(DOCUMENT_LABELS[role] for role in DOCUMENT_ROLES), "注意事項", "登録番号"]
MENTOR_COLUMNS = ["登録番号", "氏名", "ふりがな", "状態", "取り消しの理由", "登録日", "登録期間満了日", "生年月日",
                  "メールアドレス", "電話番号", "携帯電話", "郵便番号", "住所", "専門分野"]


def export_workbook(session: Session, path: str | Path, include_closed: bool = True) -> tuple[int, int]:
    """Write the items (all, or only open ones) and the registry to ``path``.

    Returns (number of items, number of mentors) written.
    """
    workbook = Workbook()
    items_sheet = workbook.active
    items_sheet.title = "審査案件"
    query = select(ReviewItem).order_by(ReviewItem.id)
    if not include_closed:
        query = query.where(ReviewItem.state.in_(sorted(states.OPEN)))
    items = list(session.scalars(query))
    numbers = {mentor.id: mentor.registration_number for mentor in session.scalars(select(Mentor))}
    _write(items_sheet, ITEM_COLUMNS, [_item_row(item, numbers) for item in items])

    mentors_sheet = workbook.create_sheet("登録簿")
    mentors = list(session.scalars(select(Mentor).order_by(Mentor.registration_number)))
    _write(mentors_sheet, MENTOR_COLUMNS, [_mentor_row(mentor) for mentor in mentors])
    _save_private(workbook, Path(path))
    return len(items), len(mentors)


def _item_row(item: ReviewItem, numbers: dict[int, str | None]) -> list[Any]:
    checklist = item.checklist or {}
    return [
        item.number,
        KIND_LABELS.get(item.kind, item.kind),
        states.LABELS.get(item.state, item.state),
        _local(item.created_at),
        _local(item.complete_at),
        _local(item.decided_at),
        states.LABELS.get(item.decision or "", item.decision or ""),
        item.decision_reason or "",
        item.applicant_name or item.sender_name or "",
        item.sender_address or "",
        *_checklist_marks(checklist),
        "、".join(warning.get("message", "") for warning in item.warnings or []),
        numbers.get(item.mentor_id) or "",
    ]


def _checklist_marks(checklist: dict[str, Any]) -> list[str]:
    """Return 〇 or × per checklist document; blanks for kinds without a checklist."""
    if not checklist:
        return ["" for _role in DOCUMENT_ROLES]
    return ["〇" if checklist.get(role) else "×" for role in DOCUMENT_ROLES]


def _mentor_row(mentor: Mentor) -> list[Any]:
    return [
        mentor.registration_number, mentor.name, mentor.kana or "", STATUS_LABELS.get(mentor.status, mentor.status),
        reason_wording(mentor.status_reason) if mentor.status != "active" else "",
        mentor.registered_on, mentor.expires_on, mentor.birth_date, mentor.email or "", mentor.phone or "",
        mentor.mobile or "", mentor.postal_code or "", mentor.address or "", "、".join(mentor.fields or []),
    ]


def _local(value: dt.datetime | None) -> dt.datetime | None:
    moment = clock.as_utc(value)
    return moment.astimezone(clock.TOKYO).replace(tzinfo=None) if moment else None


def _write(sheet, headings: list[str], rows: list[list[Any]]) -> None:
    sheet.append(headings)
    for row in rows:
        sheet.append(row)
    widths = [max(len(str(value or "")) for value in column) for column in zip(headings, *rows)]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width * 2, 10), 60)
    for row in sheet.iter_rows(min_row=2):
        keep_as_text(row)
        for cell in row:
            if isinstance(cell.value, dt.datetime):
                cell.number_format = DATETIME_FORMAT
            elif isinstance(cell.value, dt.date):
                cell.number_format = DATE_FORMAT
    sheet.freeze_panes = "A2"
    if rows:
        sheet.auto_filter.ref = sheet.dimensions


def _save_private(workbook: Workbook, path: Path) -> None:
    """Save to ``path`` created with mode 0600, replacing an existing file."""
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        workbook.save(handle)
    os.replace(temporary, path)
