"""A format-neutral grid of cells, so one label search serves xlsx, xls, docx and PDF forms.

Each reader turns a sheet, a Word table or a PDF table into a :class:`Grid` whose cells
are the anchors of merged ranges with their spans. Positions covered by a merge point to
the anchor, because a person reads a merged cell as one box.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailflow.intake.limits import LimitExceeded

CellValue = str | dt.date | int | float | None


@dataclass(eq=False)
class GridCell:
    """One cell, or the anchor of a merged range, at 0-based ``row`` and ``col``.

    A cell with value None is an empty box on the form (a merged range, a bordered cell,
    a table cell), so a label next to it has a blank value rather than one further away.

    ``value`` is text, a date (from a real date cell), a number or None. ``defect`` says
    why a value that looked like a date could not be converted.
    """

    row: int
    col: int
    value: CellValue = None
    rowspan: int = 1
    colspan: int = 1
    defect: str | None = None

    @property
    def last_row(self) -> int:
        return self.row + self.rowspan - 1

    @property
    def last_col(self) -> int:
        return self.col + self.colspan - 1

    @property
    def text(self) -> str:
        """The value as text: dates in ISO form, whole floats without ".0", None as ''."""
        return value_text(self.value)

    @property
    def is_blank(self) -> bool:
        return self.text.strip() == ""


def value_text(value: CellValue) -> str:
    """Return the displayed text of a cell value (dates ISO, 35.0 as "35")."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class Grid:
    """The cells of one sheet or table, and its ``name`` (sheet name, "table 2", "page 1").

    ``hidden`` marks a sheet the workbook hides (often the source of a drop-down list).
    ``loose`` marks text that was not in cells (a PDF page's free text), where a label and
    its value may share a cell separated only by a space.
    """

    name: str
    hidden: bool = False
    loose: bool = False
    cells: list[GridCell] = field(default_factory=list)
    _index: dict[tuple[int, int], GridCell] = field(default_factory=dict, repr=False)
    # Kept up to date by add() and add_cover(): computing them from the cells on every
    # call made grid_text quadratic, 27 s for a sheet of 2,000 rows by 20 columns.
    _max_row: int = field(default=-1, repr=False)
    _max_col: int = field(default=-1, repr=False)

    def add(self, cell: GridCell) -> None:
        """Add an anchor cell; positions it covers that are already taken stay with their cell."""
        self.cells.append(cell)
        for row in range(cell.row, cell.last_row + 1):
            for col in range(cell.col, cell.last_col + 1):
                self._index.setdefault((row, col), cell)
        self._max_row = max(self._max_row, cell.last_row)
        self._max_col = max(self._max_col, cell.last_col)

    def add_cover(self, cell: GridCell, row: int) -> None:
        """Extend ``cell``'s coverage to ``row`` after its rowspan grew (a vertical merge)."""
        for col in range(cell.col, cell.last_col + 1):
            self._index.setdefault((row, col), cell)
        self._max_row = max(self._max_row, row)

    def at(self, row: int, col: int) -> GridCell | None:
        """Return the cell covering (row, col), or None for an empty position."""
        return self._index.get((row, col))

    @property
    def max_row(self) -> int:
        return self._max_row

    @property
    def max_col(self) -> int:
        return self._max_col

    def sorted_cells(self) -> list[GridCell]:
        """Return the anchors in reading order: top to bottom, then left to right."""
        return sorted(self.cells, key=lambda cell: (cell.row, cell.col))

    def right_of(self, cell: GridCell) -> Iterator[GridCell]:
        """Yield the distinct cells to the right of ``cell`` on its first row, nearest first."""
        seen: set[int] = set()
        for col in range(cell.last_col + 1, self.max_col + 1):
            other = self.at(cell.row, col)
            if other is not None and id(other) not in seen and other is not cell:
                seen.add(id(other))
                yield other

    def below(self, cell: GridCell) -> GridCell | None:
        """Return the cell directly below ``cell``'s first column, or None."""
        return self.at(cell.last_row + 1, cell.col)

    def row_cells(self, row: int) -> list[GridCell]:
        """Return the distinct cells that cover ``row``, left to right."""
        found: list[GridCell] = []
        for col in range(0, self.max_col + 1):
            cell = self.at(row, col)
            if cell is not None and cell not in found:
                found.append(cell)
        return found


# Values of Extraction.open_error.
DAMAGED = "damaged"
UNSAFE_XML = "unsafe_xml"
ENCRYPTED = "encrypted"
READER_CRASHED = "reader_crashed"


@dataclass
class Extraction:
    """A format reader's result for one file: grids, visible text and reading defects.

    ``glyph_count`` and ``cid_glyph_count`` are set for PDFs only: characters on the pages,
    and how many of them pdfminer could only write as ``(cid:N)`` because the font has no
    ToUnicode map. ``open_error`` is the reason the reader could not open the file at all:
    :data:`DAMAGED`, :data:`UNSAFE_XML` (a DTD or entity declaration), :data:`ENCRYPTED`,
    or :data:`READER_CRASHED` (the sandboxed reader died without a result). ``exceeded`` is the limit that stopped the reader. Either one
    leaves the grids empty and adds the English reason to ``defects``.
    """

    grids: list[Grid] = field(default_factory=list)
    text: str = ""
    page_count: int = 0
    image_count: int = 0
    glyph_count: int = 0
    cid_glyph_count: int = 0
    defects: list[str] = field(default_factory=list)
    open_error: str | None = None
    exceeded: LimitExceeded | None = None


def grid_text(grid: Grid) -> str:
    """Return a grid as text lines, one per row, cells separated by a tab."""
    lines = []
    for row in range(0, grid.max_row + 1):
        texts = [cell.text for cell in grid.row_cells(row) if cell.row == row and not cell.is_blank]
        if texts:
            lines.append("\t".join(texts))
    return "\n".join(lines)
