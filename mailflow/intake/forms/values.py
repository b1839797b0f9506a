"""Turn the cell found beside a label into a typed value, or give the reason it cannot be read.

Every reader returns a :class:`Read`: ``Read(value)`` for a value, ``Read(None)`` for a
blank, ``Read(None, problem)`` for text that is there but cannot be read. Nothing is
guessed: a choice that matches no option, or two ticked boxes, is a problem.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from mailflow.intake.forms.eras import parse_date_text
from mailflow.intake.forms.grid import CellValue
from mailflow.intake.forms.labels import CHOICES, CONSENT_NO, CONSENT_YES
from mailflow.intake.forms.normalize import (
    checked_items,
    clean_text,
    has_check_marks,
    normalize_email,
    normalize_phone,
    normalize_postal_code,
)


@dataclass(frozen=True)
class Read:
    """A value read from a form: ``value`` (None when blank or unreadable) and ``problem``."""

    value: Any
    problem: str | None = None


BLANK = Read(None)

# What a blank template prints in a value box: 「令和　　年　　月　　日」, 「　　歳」, 「〒　－」.
_PLACEHOLDER = re.compile(r"[\s年月日歳〒()（）\-－ー・/:：]|明治|大正|昭和|平成|令和|西暦")


def is_placeholder(value: CellValue) -> bool:
    """Return whether ``value`` is a template's empty placeholder, with nothing filled in."""
    return isinstance(value, str) and bool(value.strip()) and not _PLACEHOLDER.sub("", value)


def read_text(value: CellValue) -> Read:
    """Read free text: widths folded, spaces collapsed, line breaks kept."""
    if isinstance(value, dt.date):
        return Read(value.isoformat())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return Read(clean_text(None if value is None else str(value)))


def read_line(value: CellValue) -> Read:
    """Read a one-line value (a name, a company): line breaks become single spaces."""
    text = read_text(value).value
    return Read(re.sub(r"\s*\n\s*", " ", text) if text else None)


def read_date(value: CellValue) -> Read:
    """Read a real date cell or a date written as text in any era or western spelling."""
    if value is None or (isinstance(value, str) and not value.strip()) or is_placeholder(value):
        return BLANK
    if isinstance(value, dt.datetime):
        return Read(value.date())
    if isinstance(value, dt.date):
        return Read(value)
    if isinstance(value, (int, float)):
        return Read(None, f"a number ({value}) where a date was expected")
    result = parse_date_text(str(value))
    return Read(result.value, result.reason)


def read_count(value: CellValue, unit: str, below: int = 200) -> Read:
    """Read a whole number under ``below``: an age or years (35, 35.0, 「35年」, 「３５歳」),
    or, with a larger ``below``, a company number or a head count (「1,200名」)."""
    if value is None:
        return BLANK
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if float(value).is_integer() and 0 <= value < below:
            return Read(int(value))
        return Read(None, f"not a whole number of {unit}: {value}")
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))
    if not text or is_placeholder(value):
        return BLANK
    match = re.fullmatch(r"(?:満)?(\d{1,3}(?:,\d{3})*|\d+)(?:" + re.escape(unit) + r")?(?:以上)?", text)
    if not match or int(match.group(1).replace(",", "")) >= below:
        return Read(None, f"not a whole number of {unit}: {value!r}")
    return Read(int(match.group(1).replace(",", "")))


def read_choice(value: CellValue, field: str) -> Read:
    """Read a choice written as the option, or as ticked boxes (「□在職中　■退職済」)."""
    text = clean_text(None if value is None else str(value))
    if not text:
        return BLANK
    options = CHOICES[field]
    if has_check_marks(text):
        ticked, _ = checked_items(text)
        if not ticked:
            return BLANK
        if len(ticked) > 1:
            return Read(None, f"more than one option ticked: {', '.join(ticked)}")
        text = ticked[0]
    compact = re.sub(r"\s+", "", text)
    for option, spellings in options.items():
        if compact in spellings:
            return Read(option)
    return Read(None, f"not one of the options {'/'.join(options)}: {text!r}")


def read_checks(values: list[CellValue]) -> Read:
    """Read a check-box list spread over cells: the ticked item names, in form order.

    Cells without any box are taken as a typed list separated by 「、」, commas or new lines.
    """
    ticked: list[str] = []
    for value in values:
        text = clean_text(None if value is None else str(value))
        if not text:
            continue
        if has_check_marks(text):
            ticked.extend(checked_items(text)[0])
        else:
            ticked.extend(part.strip() for part in re.split(r"[、,，\n]", text) if part.strip())
    return Read(ticked)


def read_consent(value: CellValue) -> Read:
    """Read consent: 「■同意する」 is True, 「□同意する」 False, plain 「同意する」/「はい」 True."""
    text = clean_text(None if value is None else str(value))
    if not text:
        return BLANK
    if has_check_marks(text):
        ticked, unticked = checked_items(text)
        if any(item in CONSENT_NO for item in ticked):
            return Read(False)
        if ticked:
            return Read(True)
        return Read(False) if unticked else BLANK
    compact = re.sub(r"\s+", "", text)
    if compact in CONSENT_YES:
        return Read(True)
    if compact in CONSENT_NO:
        return Read(False)
    return Read(None, f"consent answer not understood: {text!r}")


def read_postal_code(value: CellValue) -> Read:
    """Read a postal code as NNN-NNNN."""
    return _read_normalized(value, normalize_postal_code, "a 7-digit postal code")


def read_phone(value: CellValue) -> Read:
    """Read a phone number with hyphens."""
    return _read_normalized(value, normalize_phone, "a phone number")


def read_email(value: CellValue) -> Read:
    """Read an e-mail address."""
    return _read_normalized(value, normalize_email, "an e-mail address")


def _read_normalized(value: CellValue, normalize, what: str) -> Read:
    text = read_text(value).value
    if not text or is_placeholder(text):
        return BLANK
    normalized = normalize(text)
    return Read(normalized) if normalized else Read(None, f"not {what}: {text!r}")
