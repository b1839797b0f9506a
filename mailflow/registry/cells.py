"""Write strings into openpyxl cells as text that Excel shows but never evaluates.

openpyxl 3.1 stores a string that starts with "=" as a formula and a string such as
"#REF!" as an error value. Both can come from applicants (a display name or a form field),
so every exported string is forced back to a string cell.
"""

from __future__ import annotations

from collections.abc import Iterable

from openpyxl.cell.cell import Cell

# First characters that make Excel or LibreOffice read typed or pasted text as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def keep_as_text(cells: Iterable[Cell]) -> None:
    """Store every string in ``cells`` as a string cell; other values keep their type.

    A string that starts with one of FORMULA_PREFIXES also gets Excel's quote prefix, the
    style that a leading apostrophe gives, so the cell stays text when staff edit it.
    """
    for cell in cells:
        if not isinstance(cell.value, str):
            continue
        cell.data_type = "s"
        if cell.value.startswith(FORMULA_PREFIXES):
            cell.quotePrefix = True
