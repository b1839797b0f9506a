"""Read Form 1 (登録申請書) into one typed record, whatever the file format and layout.

Every format reader produces grids (``mailflow.intake.forms.grid``). This module finds
each field by its label (``labels.REGISTRATION_LABELS``), reads the value beside or below
it and records what it could not read. The same record comes from xlsx, xls, docx and
text PDFs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, fields

from mailflow.intake.forms.career import read_career
from mailflow.intake.forms.grid import Grid
from mailflow.intake.forms.labels import CAREER_HEADERS, REGISTRATION_LABELS
from mailflow.intake.forms.locate import LabelHit, LabelMatcher, find_labels, raw_value, region_cells
from mailflow.intake.forms.values import (
    BLANK,
    Read,
    read_checks,
    read_choice,
    read_consent,
    read_count,
    read_date,
    read_email,
    read_line,
    read_phone,
    read_postal_code,
    read_text,
)


@dataclass
class CareerEntry:
    """One row of the career table (職歴)."""

    period: str | None = None
    company: str | None = None
    position: str | None = None
    duties: str | None = None


@dataclass
class RegistrationRecord:
    """The contents of one Form 1.

    A field is None when the form leaves it blank or when it cannot be read. The names
    in ``unreadable`` tell the two apart: their label was not found, or their value is
    not a valid date, number, option, phone number and so on. ``defects`` gives the
    reasons, one line each. They may quote the form's text, so they are personal data
    like the record itself.
    """

    application_date: dt.date | None = None
    application_type: str | None = None
    registration_number: str | None = None
    name: str | None = None
    kana: str | None = None
    sex: str | None = None
    birth_date: dt.date | None = None
    age: int | None = None
    postal_code: str | None = None
    address: str | None = None
    phone: str | None = None
    mobile: str | None = None
    email: str | None = None
    employment_status: str | None = None
    retirement_date: dt.date | None = None
    last_employer: str | None = None
    position: str | None = None
    fields: list[str] = field(default_factory=list)
    experience_years: int | None = None
    career: list[CareerEntry] = field(default_factory=list)
    qualifications: str | None = None
    pr: str | None = None
    areas: str | None = None
    consent: bool | None = None
    unreadable: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    missing_labels: list[str] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        """Return the applicant keys plus ``unreadable`` and ``defects`` as JSON-ready values.

        Dates become ISO strings and career rows dicts; ``missing_labels`` is left out.
        """
        data = {key: getattr(self, key) for key in [*FIELD_KEYS, "unreadable", "defects"]}
        for key, value in data.items():
            if isinstance(value, dt.date):
                data[key] = value.isoformat()
        data["career"] = [asdict(entry) for entry in self.career]
        data["fields"] = list(self.fields)
        data["unreadable"] = list(self.unreadable)
        data["defects"] = list(self.defects)
        return data

    @property
    def labels_found(self) -> int:
        """How many fields had their label on the form: a measure of how much this is Form 1."""
        return len(FIELD_KEYS) - len(self.missing_labels)


FIELD_KEYS = [f.name for f in fields(RegistrationRecord) if f.name not in ("unreadable", "defects", "missing_labels")]

_READERS = {
    "application_date": read_date,
    "application_type": lambda value: read_choice(value, "application_type"),
    "registration_number": read_line,
    "name": read_line,
    "kana": read_line,
    "sex": lambda value: read_choice(value, "sex"),
    "birth_date": read_date,
    "age": lambda value: read_count(value, "歳"),
    "postal_code": read_postal_code,
    "address": read_line,
    "phone": read_phone,
    "mobile": read_phone,
    "email": read_email,
    "employment_status": lambda value: read_choice(value, "employment_status"),
    "retirement_date": read_date,
    "last_employer": read_line,
    "position": read_line,
    "experience_years": lambda value: read_count(value, "年"),
    "qualifications": read_text,
    "pr": read_text,
    "areas": read_text,
    "consent": read_consent,
}

FIELD_MATCHER = LabelMatcher(REGISTRATION_LABELS)
_ANY_LABEL = LabelMatcher({**REGISTRATION_LABELS, **{f"career.{k}": v for k, v in CAREER_HEADERS.items()}})


def read_registration(grids: list[Grid]) -> RegistrationRecord:
    """Read Form 1 from the grids of one document; never raises.

    Visible sheets are searched before hidden ones. For each field the first label whose
    value can be read wins; a field whose labels all have blank values is None and not
    unreadable.
    """
    ordered = [grid for grid in grids if not grid.hidden] + [grid for grid in grids if grid.hidden]
    record = RegistrationRecord()
    career = read_career(ordered, _ANY_LABEL)
    hits: dict[str, list[LabelHit]] = {}
    for hit in find_labels(ordered, FIELD_MATCHER, skip=career.header_cells):
        hits.setdefault(hit.key, []).append(hit)
    for key in FIELD_KEYS:
        if key == "career":
            continue
        found = hits.get(key, [])
        if not found:
            record.unreadable.append(key)
            record.missing_labels.append(key)
            record.defects.append(f"{key}: label not found")
            continue
        read = _read_field(key, found)
        if read.problem:
            record.unreadable.append(key)
            record.defects.append(f"{key}: {read.problem}")
        if read.value is not None:
            setattr(record, key, read.value)
    _apply_career(record, career, "career" in hits)
    return record


def _read_field(key: str, found: list[LabelHit]) -> Read:
    first_problem: Read | None = None
    for hit in found:
        if key == "fields":
            cells = region_cells(hit, _ANY_LABEL)
            values = [cell.value for cell in cells]
            if hit.inline_value or not cells:
                # Written after the label in its own cell, or in the cell below it.
                values = [raw_value(hit, _ANY_LABEL)]
            read = read_checks(values)
        else:
            raw = raw_value(hit, _ANY_LABEL)
            read = _READERS[key](raw) if raw is not None else BLANK
        if read.problem is None and read.value not in (None, []):
            return read
        if read.problem and first_problem is None:
            first_problem = read
    return first_problem or (Read([]) if key == "fields" else BLANK)


def _apply_career(record: RegistrationRecord, career, label_found: bool) -> None:
    if career.found:
        record.career = [CareerEntry(**row) for row in career.rows]
        return
    record.unreadable.append("career")
    if not label_found:
        record.missing_labels.append("career")
    record.defects.append("career: table headings (期間/会社名/業務内容) not found")
