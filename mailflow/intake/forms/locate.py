"""Find a form's values by their labels in grids, wherever the form puts them.

A label is matched as a whole cell after normalisation (width, spaces, trailing colon,
leading numbering, bracketed notes such as 「（新規／更新）」), also when it is split over two
neighbouring cells (「生年」|「月日」) or written with its value in one cell
(「氏名：山田 太郎」). Its value is the nearest cell to the right unless that is another
label. Without one, the value is the cell directly below that starts in the label's column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from mailflow.intake.forms.grid import CellValue, Grid, GridCell
from mailflow.intake.forms.normalize import label_key

# Leading numbering (「1.」, 「(2)」, 「③」 after NFKC, 「a)」) and marks; no label starts with a digit.
_ENUMERATOR = re.compile(r"^(\d{1,2}[.)、]?|\(\d{1,2}\)|[a-zA-Z][.)]|[※*●◆■▼]+)")
_REQUIRED_MARK = re.compile(r"(\(必須\)|必須|\(任意\)|任意|[※*]+)$")
_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|〔[^〔〕]*〕|<[^<>]*>")
_INLINE_SEPARATOR = re.compile(r"[:：]")


@dataclass
class LabelHit:
    """A label found in a grid: the cell(s) holding it and any value written in the same cell."""

    key: str
    grid: Grid
    cell: GridCell
    last_cell: GridCell
    inline_value: str | None = None


class LabelMatcher:
    """Match cell text against label patterns, one list of regular expressions per key.

    Patterns are full matches against the normalised label; the first key whose pattern
    matches wins, so more specific keys go first in ``patterns``.
    """

    def __init__(self, patterns: Mapping[str, list[str]]) -> None:
        self._patterns = {key: [re.compile(p, re.IGNORECASE) for p in values] for key, values in patterns.items()}

    def match(self, text: str) -> str | None:
        """Return the key whose label ``text`` is, or None."""
        for candidate in label_candidates(text):
            for key, patterns in self._patterns.items():
                if any(pattern.fullmatch(candidate) for pattern in patterns):
                    return key
        return None

    def split_inline(self, text: str, loose: bool) -> tuple[str, str] | None:
        """Split 「氏名：山田 太郎」 into (key, value); with ``loose`` also 「氏名 山田 太郎」."""
        parts = _INLINE_SEPARATOR.split(text, maxsplit=1)
        if len(parts) != 2 and loose:
            parts = re.split(r"[ \u3000]+", text.strip(), maxsplit=1)
        if len(parts) != 2 or not parts[1].strip():
            return None
        key = self.match(parts[0])
        return (key, parts[1].strip()) if key else None


def label_candidates(text: str) -> list[str]:
    """Return the normalised forms a label is compared in, most literal first."""
    key = label_key(text)
    key = _ENUMERATOR.sub("", key)
    key = _REQUIRED_MARK.sub("", key)
    candidates = [key]
    stripped = _BRACKETED.sub("", key)
    if stripped and stripped != key:
        candidates.append(stripped)
    return candidates


def find_labels(grids: list[Grid], matcher: LabelMatcher, skip: set[int] | None = None) -> Iterator[LabelHit]:
    """Yield every label in ``grids`` in reading order; cells whose id is in ``skip`` are ignored."""
    skip = skip or set()
    for grid in grids:
        loose = grid.loose
        for cell in grid.sorted_cells():
            if id(cell) in skip or cell.is_blank or not isinstance(cell.value, str):
                continue
            hit = _label_at(grid, cell, matcher, loose)
            if hit is not None:
                yield hit


def _label_at(grid: Grid, cell: GridCell, matcher: LabelMatcher, loose: bool) -> LabelHit | None:
    key = matcher.match(cell.text)
    if key:
        return LabelHit(key, grid, cell, cell)
    inline = matcher.split_inline(cell.text, loose)
    if inline:
        return LabelHit(inline[0], grid, cell, cell, inline_value=inline[1])
    for neighbour in (next(grid.right_of(cell), None), grid.below(cell)):
        if neighbour is None or neighbour.is_blank or not isinstance(neighbour.value, str):
            continue
        if matcher.match(neighbour.text):
            continue
        joined = matcher.match(cell.text + neighbour.text)
        if joined:
            return LabelHit(joined, grid, cell, neighbour)
    return None


def is_label(cell: GridCell, matcher: LabelMatcher) -> bool:
    """Return whether ``cell`` contains a label, alone or followed by 「：」 and its own value."""
    if not isinstance(cell.value, str):
        return False
    return matcher.match(cell.text) is not None or matcher.split_inline(cell.text, loose=False) is not None


def value_cell(hit: LabelHit, matcher: LabelMatcher) -> GridCell | None:
    """Return the cell that contains the value of ``hit``, or None when it is blank.

    The nearest cell to the right is the value; an empty box there means a blank value.
    Only when there is no cell to the right, or the nearest one is another label, is the
    cell directly below taken, if it starts in the label's column (values under labels).
    """
    grid = hit.grid
    for other in grid.right_of(hit.last_cell):
        if other.row < hit.last_cell.row:
            # A cell merged down from an earlier row (a photo box, a side note) is not this value.
            continue
        if is_label(other, matcher):
            break
        return None if other.is_blank else other
    below = grid.below(hit.last_cell)
    if below is not None and below.col == hit.last_cell.col and not below.is_blank and not is_label(below, matcher):
        return below
    return None


def raw_value(hit: LabelHit, matcher: LabelMatcher) -> CellValue:
    """Return the value written for ``hit``: in the label's own cell, beside it or below it."""
    if hit.inline_value is not None:
        return hit.inline_value
    cell = value_cell(hit, matcher)
    return cell.value if cell is not None else None


def region_cells(hit: LabelHit, matcher: LabelMatcher) -> list[GridCell]:
    """Return the cells right of a label over every row it spans, for check-box lists.

    A label that is not merged over several rows (「専門分野」 in a Word table, where the
    choices sit in one cell) also takes the following rows while its own column is empty.
    """
    grid = hit.grid
    rows = list(range(hit.cell.row, hit.cell.last_row + 1))
    next_row = hit.cell.last_row + 1
    while next_row <= grid.max_row and grid.at(next_row, hit.cell.col) is None:
        row_cells = [c for c in grid.row_cells(next_row) if c.row == next_row]
        if not row_cells or any(is_label(c, matcher) for c in row_cells):
            break
        rows.append(next_row)
        next_row += 1
    boundary = hit.last_cell.last_col if hit.last_cell.row == hit.cell.row else hit.cell.last_col
    found: list[GridCell] = []
    for row in rows:
        for cell in grid.row_cells(row):
            if cell.col > boundary and not cell.is_blank and cell not in found:
                found.append(cell)
    return found
