"""Read the career table (職歴) of Form 1: a heading row, then one row per position held.

The heading row is the first row with at least two of the headings 期間, 会社名,
部署・役職 and 業務内容 (in any of their spellings). Entries are the rows below it, each
value taken from the cell that starts in its heading's column, until a row that contains a
field label (保有資格 and the like) or the end of the grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailflow.intake.forms.grid import Grid, GridCell
from mailflow.intake.forms.labels import CAREER_HEADERS
from mailflow.intake.forms.locate import LabelMatcher
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
    for grid in grids:
        for row in range(grid.max_row + 1):
            headings = _heading_row(grid, row)
            if headings is not None:
                return CareerTable(
                    found=True,
                    rows=_entries(grid, row, headings, labels),
                    header_cells={id(cell) for cell in headings.values()},
                )
    return CareerTable()


def _heading_row(grid: Grid, row: int) -> dict[str, GridCell] | None:
    headings: dict[str, GridCell] = {}
    for cell in grid.row_cells(row):
        if cell.row != row or not isinstance(cell.value, str):
            continue
        key = _HEADINGS.match(cell.text)
        if key and key not in headings:
            headings[key] = cell
    if len(headings) >= 2 and ("period" in headings or "company" in headings):
        return headings
    return None


def _entries(grid: Grid, header_row: int, headings: dict[str, GridCell], labels: LabelMatcher) -> list[dict]:
    entries = []
    for row in range(header_row + 1, grid.max_row + 1):
        anchored = [cell for cell in grid.row_cells(row) if cell.row == row]
        if any(_is_field_label(cell, labels) for cell in anchored):
            break
        entry = {key: None for key in CAREER_KEYS}
        for key, heading in headings.items():
            cell = grid.at(row, heading.col)
            if cell is not None and cell.row == row:
                entry[key] = read_line(cell.value).value
        if any(value is not None for value in entry.values()):
            entries.append(entry)
    return entries


def _is_field_label(cell: GridCell, labels: LabelMatcher) -> bool:
    if not isinstance(cell.value, str):
        return False
    key = labels.match(cell.text)
    return key is not None and not key.startswith("career.") and key != "career"
