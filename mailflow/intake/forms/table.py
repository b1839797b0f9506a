"""Find a table by its heading row and read the rows below it, column by heading.

Used for Form 1's career table and Forms 3 and 4's company lists. The heading row is the
first row with enough of the expected headings, in any of their spellings. A body row's
value for a heading is the cell that starts on that row in the heading's column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailflow.intake.forms.grid import Grid, GridCell
from mailflow.intake.forms.locate import LabelMatcher


@dataclass
class HeadedTable:
    """A table found in ``grid``: its heading row and the heading cell of each column key."""

    grid: Grid
    header_row: int
    headings: dict[str, GridCell]

    @property
    def heading_ids(self) -> set[int]:
        return {id(cell) for cell in self.headings.values()}


def find_table(grids: list[Grid], headings: LabelMatcher, minimum: int, anchors: set[str]) -> HeadedTable | None:
    """Return the first row in ``grids`` with ``minimum`` distinct headings, one of them in ``anchors``."""
    for grid in grids:
        for row in range(grid.max_row + 1):
            found: dict[str, GridCell] = {}
            for cell in grid.row_cells(row):
                if cell.row != row or not isinstance(cell.value, str):
                    continue
                key = headings.match(cell.text)
                if key and key not in found:
                    found[key] = cell
            if len(found) >= minimum and anchors & found.keys():
                return HeadedTable(grid, row, found)
    return None


def body_rows(table: HeadedTable, is_end: Callable[[list[GridCell]], bool]) -> list[tuple[int, dict[str, GridCell | None]]]:
    """Return (row index, {heading key: cell or None}) for each row below the headings.

    Reading stops before the first row for which ``is_end`` (given the cells that start on
    that row) is true, or at the end of the grid. Rows with no cell are skipped.
    """
    grid = table.grid
    rows = []
    for row in range(table.header_row + 1, grid.max_row + 1):
        anchored = [cell for cell in grid.row_cells(row) if cell.row == row]
        if not anchored:
            continue
        if is_end(anchored):
            break
        values: dict[str, GridCell | None] = {}
        for key, heading in table.headings.items():
            cell = grid.at(row, heading.col)
            values[key] = cell if cell is not None and cell.row == row and not cell.is_blank else None
        rows.append((row, values))
    return rows
