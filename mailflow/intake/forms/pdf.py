"""Read a PDF's text layer into text and grids with pdfplumber.

``extract_text`` interleaves the wrapped lines of neighbouring table cells, so form
values are read from cells instead. Ruled tables come from pdfplumber's table finder,
each cell taking the characters whose centre point lies inside it. Text outside tables
is grouped into cells by character positions. Glyphs that pdfminer can only write as ``(cid:N)`` (a font
without a ToUnicode map) are counted, so callers can tell an unreadable text layer.
Every stream is decoded within one budget (:mod:`mailflow.intake.forms.pdf_streams`),
so a flate bomb stops after ``Limits.max_pdf_decoded_bytes``.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
from collections.abc import Sequence

import pdfplumber
from pdfminer.pdfdocument import PDFPasswordIncorrect
from pdfminer.pdfpage import PDFPage

from mailflow.intake.forms.grid import DAMAGED, ENCRYPTED, Extraction, Grid, GridCell
from mailflow.intake.forms.normalize import join_wrapped_lines
from mailflow.intake.forms.pdf_streams import stream_budget
from mailflow.intake.limits import DEFAULT_LIMITS, LimitExceeded, Limits

logger = logging.getLogger(__name__)

# A Form 1 is one or two pages; pages past this are counted but not read.
MAX_PAGES = 20
_CID = re.compile(r"^\(cid:\d+\)$")
# Edges of table cells closer than this (in points) are the same ruling line.
_EDGE_TOLERANCE = 2.0


def read_pdf(payload: bytes, limits: Limits = DEFAULT_LIMITS) -> Extraction:
    """Read the text layer of every page (up to MAX_PAGES); raises only MemoryError.

    A PDF with more than ``limits.max_pdf_pages`` pages, or whose streams decode to more
    than ``limits.max_pdf_decoded_bytes``, gives ``exceeded`` and no grids. An encrypted or
    damaged PDF gives ``open_error`` and no grids, with the reason in ``defects``. A scan
    without a text layer gives ``glyph_count`` 0 and its images counted. MemoryError is
    left to the caller, which runs this under a memory limit.
    """
    extraction = Extraction()
    with stream_budget(limits.max_pdf_decoded_bytes) as budget:
        try:
            _read_document(payload, limits, extraction)
        except Exception as exc:  # pdfminer raises PDFSyntaxError, PSEOF, PDFPasswordIncorrect and more
            if _caused_by(exc, MemoryError):
                raise MemoryError from exc
            extraction.grids = []
            extraction.defects.append(f"PDF cannot be read: {type(exc).__name__}: {exc}")
            if not budget.exceeded:
                logger.info("PDF cannot be read: %s", type(exc).__name__)
                extraction.open_error = ENCRYPTED if _caused_by(exc, PDFPasswordIncorrect) else DAMAGED
    if budget.exceeded:
        # A library may have caught the overrun on the way, so the budget is asked, not the exception.
        extraction.grids = []
        extraction.text = ""
        extraction.open_error = None
        extraction.exceeded = LimitExceeded("max_pdf_decoded_bytes", None, limits.max_pdf_decoded_bytes)
        extraction.defects.append(extraction.exceeded.describe())
    return extraction


def _read_document(payload: bytes, limits: Limits, extraction: Extraction) -> None:
    with pdfplumber.open(io.BytesIO(payload), pages=range(1, MAX_PAGES + 1)) as pdf:
        # Count through the page tree only one page past the limit: /Count may lie, and
        # pdfplumber would otherwise build every page of a 10,000-page file.
        extraction.page_count = sum(1 for _ in itertools.islice(PDFPage.create_pages(pdf.doc), limits.max_pdf_pages + 1))
        if extraction.page_count > limits.max_pdf_pages:
            extraction.exceeded = LimitExceeded("max_pdf_pages", extraction.page_count, limits.max_pdf_pages)
            extraction.defects.append(extraction.exceeded.describe())
            return
        if extraction.page_count > MAX_PAGES:
            extraction.defects.append(f"only the first {MAX_PAGES} of {extraction.page_count} pages were read")
        texts = [_read_page(page, index, extraction) for index, page in enumerate(pdf.pages)]
    extraction.text = "\n".join(text for text in texts if text)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Return whether ``exc``, its cause or context chain, or an exception it wraps is a ``kind``.

    pdfplumber wraps whatever pdfminer raises in PdfminerException(original).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, kind) or any(isinstance(arg, kind) for arg in current.args):
            return True
        current = current.__cause__ or current.__context__
    return False


def _read_page(page, index: int, extraction: Extraction) -> str:
    chars = page.chars
    extraction.glyph_count += len(chars)
    extraction.cid_glyph_count += sum(1 for char in chars if _CID.match(char["text"]))
    extraction.image_count += len(page.images)
    if not chars:
        return ""
    tables = page.find_tables()
    for number, table in enumerate(tables, start=1):
        extraction.grids.append(_table_grid(chars, table.cells, f"page {index + 1} table {number}"))
    outside = [char for char in chars if not any(_inside(char, table.bbox) for table in tables)]
    if outside:
        extraction.grids.append(_word_grid(outside, f"page {index + 1} text"))
    return page.extract_text() or ""


def _inside(char: dict, bbox: Sequence[float]) -> bool:
    x = (char["x0"] + char["x1"]) / 2
    y = (char["top"] + char["bottom"]) / 2
    return bbox[0] <= x <= bbox[2] and bbox[1] <= y <= bbox[3]


def _edges(values: list[float]) -> list[float]:
    merged: list[float] = []
    for value in sorted(values):
        if not merged or value - merged[-1] > _EDGE_TOLERANCE:
            merged.append(value)
    return merged


def _index(edges: list[float], value: float) -> int:
    return min(range(len(edges)), key=lambda i: abs(edges[i] - value))


def _table_grid(chars: list[dict], cells: list[Sequence[float]], name: str) -> Grid:
    xs = _edges([cell[0] for cell in cells] + [cell[2] for cell in cells])
    ys = _edges([cell[1] for cell in cells] + [cell[3] for cell in cells])
    grid = Grid(name=name)
    for bbox in sorted(cells, key=lambda cell: (cell[1], cell[0])):
        col, last_col = _index(xs, bbox[0]), _index(xs, bbox[2])
        row, last_row = _index(ys, bbox[1]), _index(ys, bbox[3])
        inside = [char for char in chars if _inside(char, bbox)]
        text = join_wrapped_lines(_lines(inside)) or None
        grid.add(GridCell(row, col, text, max(last_row - row, 1), max(last_col - col, 1)))
    return grid


def _visual_rows(chars: list[dict]) -> list[list[dict]]:
    """Group characters into visual lines, top to bottom, each sorted left to right."""
    rows: list[list[dict]] = []
    for char in sorted(chars, key=lambda c: (c["top"], c["x0"])):
        if rows and abs(char["top"] - rows[-1][0]["top"]) <= char["size"] / 2:
            rows[-1].append(char)
        else:
            rows.append([char])
    return [sorted(row, key=lambda c: c["x0"]) for row in rows]


def _lines(chars: list[dict]) -> list[str]:
    return [_line_text(row) for row in _visual_rows(chars)]


def _line_text(row: list[dict]) -> str:
    parts = [row[0]["text"]]
    for before, char in zip(row, row[1:]):
        if char["x0"] - before["x1"] > char["size"] * 0.25 and not before["text"].isspace():
            parts.append(" ")
        parts.append(char["text"])
    return re.sub(r" +", " ", "".join(parts)).strip()


def _word_grid(chars: list[dict], name: str) -> Grid:
    """Group loose text into cells: a gap wider than one character starts a new cell."""
    grid = Grid(name=name, loose=True)
    runs_by_row = [_runs(row) for row in _visual_rows(chars)]
    columns = _edges([run[0]["x0"] for runs in runs_by_row for run in runs])
    for row_index, runs in enumerate(runs_by_row):
        for run in runs:
            col = _index(columns, run[0]["x0"])
            if grid.at(row_index, col) is None:
                grid.add(GridCell(row_index, col, _line_text(run)))
    return grid


def _runs(row: list[dict]) -> list[list[dict]]:
    runs = [[row[0]]]
    for before, char in zip(row, row[1:]):
        if char["x0"] - before["x1"] > char["size"] * 1.5:
            runs.append([char])
        else:
            runs[-1].append(char)
    return [run for run in runs if "".join(c["text"] for c in run).strip()]
