"""Read Form 4 (出席希望登録票), a mentor's request to attend an event and the companies chosen.

The person's fields are found with Form 1's labels (氏名, メールアドレス, …); the choices
come from the table headed 希望順位 / 企業No. / 企業名 / 提案内容, one row per choice.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from mailflow.intake.forms.challenge_list import EVENT_LABELS
from mailflow.intake.forms.grid import Grid, GridCell
from mailflow.intake.forms.labels import REGISTRATION_LABELS
from mailflow.intake.forms.locate import LabelMatcher, find_labels, raw_value
from mailflow.intake.forms.table import body_rows, find_table
from mailflow.intake.forms.values import Read, read_checks, read_count, read_email, read_line, read_phone, read_text

_PERSON_KEYS = ("registration_number", "kana", "name", "mobile", "phone", "email")
ATTENDANCE_LABELS: dict[str, list[str]] = {
    **{key: REGISTRATION_LABELS[key] for key in _PERSON_KEYS},
    "event_name": EVENT_LABELS["name"],
    "participation": [r"参加方法", r"参加形態", r"出席方法"],
    "experience": [r"関連する経歴[・/]?実績", r"経歴[・/]?実績"],
    "remarks": [r"備考"],
}
CHOICE_HEADINGS: dict[str, list[str]] = {
    "rank": [r"希望順位", r"順位", r"希望"],
    "number": [r"企業No\.?", r"企業番号", r"No\.?"],
    "company": [r"企業名"],
    "proposal": [r"提案内容", r"提案"],
}
_LABELS = LabelMatcher(ATTENDANCE_LABELS)
_CHOICES = LabelMatcher(CHOICE_HEADINGS)
_READERS = {
    "registration_number": read_line,
    "kana": read_line,
    "name": read_line,
    "mobile": read_phone,
    "phone": read_phone,
    "email": read_email,
    "event_name": read_line,
    "experience": read_text,
    "remarks": read_text,
}
# Form 3 numbers its companies from 1; a Form 4 choice outside this range is a typo.
# NOTE: a Form 3 may list up to challenge_list.MAX_COMPANIES companies, so on a list of
# more than 99 a valid choice is reported as a reading problem here.
MAX_COMPANY_NUMBER = 99


@dataclass
class Choice:
    """One chosen company: its rank text (「第1希望」), number, name and the mentor's proposal."""

    rank: str | None
    company_number: int | None
    company_name: str | None = None
    proposal: str | None = None


@dataclass
class AttendanceForm:
    """The contents of one Form 4, with what could not be read."""

    event_name: str | None = None
    registration_number: str | None = None
    kana: str | None = None
    name: str | None = None
    phone: str | None = None
    mobile: str | None = None
    email: str | None = None
    participation: list[str] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)
    experience: str | None = None
    remarks: str | None = None
    unreadable: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    @property
    def company_numbers(self) -> list[int]:
        """The chosen company numbers in order of preference."""
        return [choice.company_number for choice in self.choices if choice.company_number is not None]

    def as_dict(self) -> dict:
        data = asdict(self)
        data["company_numbers"] = self.company_numbers
        return data


def read_attendance(grids: list[Grid]) -> AttendanceForm:
    """Read Form 4 from the grids of one document; never raises."""
    ordered = [grid for grid in grids if not grid.hidden] + [grid for grid in grids if grid.hidden]
    form = AttendanceForm()
    table = find_table(ordered, _CHOICES, minimum=2, anchors={"number"})
    skip = table.heading_ids if table else set()
    hits = {}
    for hit in find_labels(ordered, _LABELS, skip=skip):
        hits.setdefault(hit.key, hit)
    for key in ATTENDANCE_LABELS:
        if key not in hits:
            if key in ("name", "email"):
                form.unreadable.append(key)
                form.defects.append(f"{key}: label not found")
            continue
        raw = raw_value(hits[key], _LABELS)
        if key == "participation":
            read = read_checks([raw])
        elif raw is None:
            read = Read(None)
        else:
            read = _READERS[key](raw)
        if read.problem:
            form.unreadable.append(key)
            form.defects.append(f"{key}: {read.problem}")
        if read.value is not None:
            setattr(form, key, read.value)
    if table is None:
        form.unreadable.append("choices")
        form.defects.append("choices: table headings (希望順位/企業No.) not found")
    else:
        form.choices = _choices(table, form.defects)
    return form


def _choices(table, defects: list[str]) -> list[Choice]:
    choices = []
    seen: set[int] = set()
    for row, cells in body_rows(table, _is_note_row):
        values = {key: (cell.value if cell else None) for key, cell in cells.items()}
        number = read_count(values.get("number"), "", below=1_000_000)
        if values.get("number") is None and values.get("company") is None:
            continue
        company_number = number.value
        if number.problem or (company_number is not None and not 1 <= company_number <= MAX_COMPANY_NUMBER):
            defects.append(f"choices: row {row + 1} has no valid company number")
            company_number = None
        elif company_number in seen:
            defects.append(f"choices: company {company_number} is chosen twice")
        if company_number is not None:
            seen.add(company_number)
        choices.append(Choice(
            rank=read_line(values.get("rank")).value,
            company_number=company_number,
            company_name=read_line(values.get("company")).value,
            proposal=read_text(values.get("proposal")).value,
        ))
    return choices


def _is_note_row(anchored: list[GridCell]) -> bool:
    """Return whether a row is past the choices: a note or the next labelled field."""
    first = anchored[0]
    if not isinstance(first.value, str):
        return False
    text = first.text.strip()
    return text.startswith(("※", "*")) or (_LABELS.match(text) is not None and not re.match(r"第?\d", text))
