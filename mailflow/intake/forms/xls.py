"""Read an Excel 97–2003 (.xls, BIFF8) workbook into grids with xlrd.

xlrd 2 reads only .xls. It types a number cell as a date from the cell's format, and its
table of built-in formats includes the Japanese date ids 27–36 and 50–58. Custom format
strings are checked again here with the same rule the xlsx reader uses.
"""

from __future__ import annotations

import logging

import xlrd

from mailflow.intake.forms.eras import excel_serial_to_date, format_code_is_date
from mailflow.intake.forms.grid import DAMAGED, ENCRYPTED, CellValue, Extraction, Grid, GridCell, grid_text
from mailflow.intake.forms.xlsx import MAX_COLUMNS, MAX_ROWS
from mailflow.intake.limits import DEFAULT_LIMITS, Limits

logger = logging.getLogger(__name__)


def read_xls(payload: bytes, limits: Limits = DEFAULT_LIMITS) -> Extraction:
    """Read every sheet of an .xls workbook; raises only MemoryError.

    An encrypted or damaged workbook gives an Extraction with no grids, ``open_error``
    set and the reason in ``defects``. xlrd keeps every cell of a sheet in memory, so a
    workbook that declares a huge sheet is bounded only by the caller's memory limit
    (``limits`` is accepted for the common reader signature).
    """
    try:
        book = xlrd.open_workbook(file_contents=payload, formatting_info=True, logfile=_NullLog())
    except MemoryError:
        raise
    except Exception as exc:  # xlrd raises XLRDError, CompDocError, struct.error and others
        logger.info("xls workbook cannot be opened: %s", type(exc).__name__)
        error = ENCRYPTED if "encrypt" in str(exc).lower() else DAMAGED
        return Extraction(defects=[f"xls workbook cannot be opened: {type(exc).__name__}: {exc}"], open_error=error)
    extraction = Extraction()
    for sheet in book.sheets():
        extraction.grids.append(_sheet_grid(book, sheet, extraction.defects))
    extraction.text = "\n".join(grid_text(grid) for grid in extraction.grids if grid.cells)
    book.release_resources()
    return extraction


def _sheet_grid(book, sheet, defects: list[str]) -> Grid:
    grid = Grid(name=sheet.name, hidden=bool(sheet.visibility))
    spans = {(rlo, clo): (rhi - rlo, chi - clo) for rlo, rhi, clo, chi in sheet.merged_cells}
    covered = {
        (row, col)
        for rlo, rhi, clo, chi in sheet.merged_cells
        for row in range(rlo, rhi)
        for col in range(clo, chi)
        if (row, col) != (rlo, clo)
    }
    if sheet.nrows > MAX_ROWS or sheet.ncols > MAX_COLUMNS:
        defects.append(f"sheet {sheet.name!r} read only up to row {MAX_ROWS} and column {MAX_COLUMNS}")
    for row in range(min(sheet.nrows, MAX_ROWS)):
        for col in range(min(sheet.ncols, MAX_COLUMNS)):
            if (row, col) in covered:
                continue
            value, defect = _cell_value(book, sheet.cell(row, col))
            if value is None or value == "":
                continue
            if defect:
                defects.append(f"sheet {sheet.name!r} cell {xlrd.formula.cellname(row, col)}: {defect}")
            rowspan, colspan = spans.get((row, col), (1, 1))
            grid.add(GridCell(row, col, value, rowspan, colspan, defect))
    return grid


def _cell_value(book, cell) -> tuple[CellValue, str | None]:
    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
        return None, None
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return ("TRUE" if cell.value else "FALSE"), None
    if cell.ctype == xlrd.XL_CELL_DATE or (cell.ctype == xlrd.XL_CELL_NUMBER and _has_date_format(book, cell)):
        result = excel_serial_to_date(cell.value, date1904=bool(book.datemode))
        if result.ok:
            return result.value, None
        return cell.value, result.reason
    if cell.ctype == xlrd.XL_CELL_NUMBER:
        return cell.value, None
    return str(cell.value), None


def _has_date_format(book, cell) -> bool:
    try:
        format_key = book.xf_list[cell.xf_index].format_key
        return format_code_is_date(book.format_map[format_key].format_str)
    except (IndexError, KeyError, AttributeError):
        return False


class _NullLog:
    """A file-like sink for xlrd's warnings, which otherwise go to stdout."""

    def write(self, text: str) -> None:
        if text.strip():
            logger.debug("xlrd: %s", text.strip())
