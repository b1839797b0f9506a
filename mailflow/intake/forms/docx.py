"""Read a Word .docx into text and table grids with python-docx.

python-docx's ``row.cells`` repeats a merged cell once per grid column it spans, so
tables are walked here at the XML level: each ``w:tc`` is one cell, ``w:gridSpan`` gives
its width and ``w:vMerge`` continues the cell above. Text comes from ``w:t``, tabs,
breaks and ``w:sym`` symbols (Wingdings check boxes), in body order, followed by text
boxes, headers and footers, where form titles often sit.
"""

from __future__ import annotations

import io
import logging

import docx
from docx.oxml.ns import qn

from mailflow.intake.forms.grid import DAMAGED, Extraction, Grid, GridCell, grid_text
from mailflow.intake.forms.ooxml import check_package
from mailflow.intake.limits import DEFAULT_LIMITS, Limits

logger = logging.getLogger(__name__)

# Check-box glyphs from symbol fonts, keyed by (font, character code): Word inserts these
# through Insert > Symbol and the legacy check-box form field.
_SYMBOLS = {
    ("wingdings", "F0A8"): "□",
    ("wingdings", "F06F"): "□",
    ("wingdings", "F0FE"): "☑",
    ("wingdings", "F0FD"): "☒",
    ("wingdings", "F078"): "☒",
    ("wingdings", "F06E"): "■",
    ("wingdings 2", "F0A3"): "□",
    ("wingdings 2", "F052"): "☑",
    ("wingdings 2", "F054"): "☒",
    ("wingdings 2", "F053"): "☒",
}
_SKIPPED_SUBTREES = {qn("w:txbxContent"), qn("w:tbl"), qn("w:delText"), qn("w:instrText")}


def read_docx(payload: bytes, limits: Limits = DEFAULT_LIMITS) -> Extraction:
    """Read the body paragraphs, tables, text boxes, headers and footers; raises only MemoryError.

    A package over a limit gives an Extraction with ``exceeded`` set; one that fails the
    safety checks, or that python-docx cannot open, gives ``open_error``.
    """
    problem = check_package(payload, limits)
    if problem:
        return problem.as_extraction()
    try:
        document = docx.Document(io.BytesIO(payload))
    except MemoryError:
        raise
    except Exception as exc:  # python-docx raises many exception types on damaged packages
        logger.info("docx document cannot be opened: %s", type(exc).__name__)
        return Extraction(defects=[f"docx document cannot be opened: {type(exc).__name__}: {exc}"],
                          open_error=DAMAGED)
    extraction = Extraction()
    lines: list[str] = []
    # Paragraphs outside tables can carry 「氏名：山田 太郎」 lines, so they form a loose grid too.
    paragraphs = Grid(name="paragraphs", loose=True)
    for child in document.element.body.iterchildren():
        if child.tag == qn("w:p"):
            lines.append(paragraph_text(child))
            if lines[-1].strip():
                paragraphs.add(GridCell(len(paragraphs.cells), 0, lines[-1]))
        elif child.tag == qn("w:tbl"):
            for grid in _table_grids(child, f"table {len(extraction.grids) + 1}"):
                extraction.grids.append(grid)
                lines.append(grid_text(grid))
    if paragraphs.cells:
        extraction.grids.append(paragraphs)
    lines.extend(_extra_text(document))
    extraction.text = "\n".join(line for line in lines if line.strip())
    return extraction


def paragraph_text(paragraph) -> str:
    """Return the visible text of one ``w:p`` element, with check-box symbols as characters."""
    parts: list[str] = []
    _collect_text(paragraph, parts)
    return "".join(parts)


def _collect_text(element, parts: list[str]) -> None:
    for child in element.iterchildren():
        tag = child.tag
        if tag in _SKIPPED_SUBTREES:
            continue
        if tag == qn("w:t"):
            parts.append(child.text or "")
        elif tag == qn("w:tab"):
            parts.append("\t")
        elif tag in (qn("w:br"), qn("w:cr")):
            parts.append("\n")
        elif tag == qn("w:sym"):
            parts.append(_symbol(child))
        else:
            _collect_text(child, parts)


def _symbol(element) -> str:
    font = (element.get(qn("w:font")) or "").lower()
    code = (element.get(qn("w:char")) or "").upper()
    if len(code) == 2:
        code = "F0" + code
    return _SYMBOLS.get((font, code), "")


def _table_grids(table, name: str) -> list[Grid]:
    """Return the grid of ``table`` followed by the grids of tables nested in its cells."""
    grid = Grid(name=name)
    nested: list[Grid] = []
    open_above: dict[int, GridCell] = {}
    for row_index, row in enumerate(table.findall(qn("w:tr"))):
        col = _grid_before(row)
        for cell in row.findall(qn("w:tc")):
            span = _int_property(cell, "w:gridSpan", 1)
            vmerge = _vmerge(cell)
            if vmerge == "continue" and col in open_above:
                anchor = open_above[col]
                anchor.rowspan = row_index - anchor.row + 1
                grid.add_cover(anchor, row_index)
            else:
                text = "\n".join(paragraph_text(p) for p in cell.findall(qn("w:p")))
                anchor = GridCell(row_index, col, text or None, 1, span)
                grid.add(anchor)
                open_above.update({c: anchor for c in range(col, col + span)})
            for inner in cell.findall(qn("w:tbl")):
                nested.extend(_table_grids(inner, f"{name}, nested {len(nested) + 1}"))
            col += span
    return [grid, *nested]


def _grid_before(row) -> int:
    properties = row.find(qn("w:trPr"))
    if properties is None:
        return 0
    return _int_property(properties, "w:gridBefore", 0, direct=True)


def _int_property(element, tag: str, default: int, direct: bool = False) -> int:
    holder = element if direct else element.find(qn("w:tcPr"))
    if holder is None:
        return default
    found = holder.find(qn(tag))
    try:
        return int(found.get(qn("w:val"))) if found is not None else default
    except (TypeError, ValueError):
        return default


def _vmerge(cell) -> str | None:
    properties = cell.find(qn("w:tcPr"))
    found = properties.find(qn("w:vMerge")) if properties is not None else None
    if found is None:
        return None
    return found.get(qn("w:val")) or "continue"


def _extra_text(document) -> list[str]:
    lines = []
    body = document.element.body
    for box in body.iter(qn("w:txbxContent")):
        # Word stores each text box twice, as DrawingML and as a VML fallback.
        if any(ancestor.tag.endswith("}Fallback") for ancestor in box.iterancestors()):
            continue
        lines.extend(paragraph_text(p) for p in box.iter(qn("w:p")))
    for section in document.sections:
        for part in (section.header, section.footer):
            if part.is_linked_to_previous:
                continue
            lines.extend(paragraph_text(p._p) for p in part.paragraphs)
    return lines
