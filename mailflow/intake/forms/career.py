"""Read the career table (職歴) of Form 1: a heading row, then one row per position held.

The heading row is the first row with at least two of the headings 期間, 会社名,
部署・役職 and 業務内容 (in any of their spellings). Entries are the rows below it until a
row that contains a field label (保有資格 and the like) or the end of the grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailflow.intake.forms.grid import Grid, GridCell
from mailflow.intake.forms.labels import CAREER_HEADERS
from mailflow.intake.forms.locate import LabelMatcher
from mailflow.intake.forms.table import body_rows, find_table
from mailflow.intake.forms.values import read_line

CAREER_KEYS = list(CAREER_HEADERS)
_HEADINGS = LabelMatcher(CAREER_HEADERS)


@dataclass
class CareerTable:
    """The career rows found, and the ids of the heading cells (not field labels)."""

    found: bool = False
    rows: list[dict[str, str | None]] = field(default_factory=list)
    header_cells: set[int] = field(default_factory=set)


def read_career(grids: list[Grid], labels: LabelMatcher) -> CareerTable:
    """Return the first career table found in ``grids``; ``labels`` marks where it ends."""
    table = find_table(grids, _HEADINGS, minimum=2, anchors={"period", "company"})
    if table is None:
        return CareerTable()
    entries = []
    for _, cells in body_rows(table, lambda anchored: any(_is_field_label(cell, labels) for cell in anchored)):
        entry = {key: None for key in CAREER_KEYS}
        for key, cell in cells.items():
            entry[key] = read_line(cell.value).value if cell is not None else None
        if any(value is not None for value in entry.values()):
            entries.append(entry)
    return CareerTable(found=True, rows=entries, header_cells=table.heading_ids)


def _is_field_label(cell: GridCell, labels: LabelMatcher) -> bool:
    if not isinstance(cell.value, str):
        return False
    key = labels.match(cell.text)
    return key is not None and not key.startswith("career.") and key != "career"
