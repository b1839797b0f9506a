"""Read an .xlsx/.xlsm workbook into grids with openpyxl, dates included.

openpyxl 3.1 recognises a date cell by its number format, but has none of the
Japanese-locale built-in formats (ids 27–36 and 50–58): such a cell arrives as a bare
serial number, so the style's numFmtId is read here and the serial converted.
Sheet protection only stops editing in Excel; the cells are stored in the clear and
are read like any other.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import warnings

import openpyxl
from openpyxl.cell.cell import MergedCell
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from mailflow.intake.forms.eras import JAPANESE_DATE_FORMAT_IDS, excel_serial_to_date, format_code_is_date
from mailflow.intake.forms.grid import DAMAGED, CellValue, Extraction, Grid, GridCell, grid_text
from mailflow.intake.forms.ooxml import check_package
from mailflow.intake.limits import DEFAULT_LIMITS, Limits

logger = logging.getLogger(__name__)

# A form sheet has a few dozen rows. A used range far larger (a style applied to whole
# columns) is read only this far, and the cut is recorded as a defect.
MAX_ROWS = 5000
MAX_COLUMNS = 200


def read_xlsx(payload: bytes, limits: Limits = DEFAULT_LIMITS) -> Extraction:
    """Read every sheet of a workbook; raises only MemoryError.

    A package over a limit gives an Extraction with ``exceeded`` set; one that fails the
    safety checks, or that openpyxl cannot open, gives ``open_error``. Both have no grids
    and the reason in ``defects``. MemoryError is left to the caller, which runs this
    under a memory limit and must tell that limit apart from a damaged file.
    """
    problem = check_package(payload, limits)
    if problem:
        return problem.as_extraction()
    try:
        with warnings.catch_warnings():
            # openpyxl warns about unsupported extensions (data validation lists, slicers)
            # that a form reader does not need.
            warnings.simplefilter("ignore")
            # NOTE: data_only gives the value Excel cached for a formula; a workbook saved
            # by software that caches nothing (openpyxl itself) reads such cells as blank.
            workbook = openpyxl.load_workbook(io.BytesIO(payload), data_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # openpyxl raises many exception types on damaged packages
        logger.info("workbook cannot be opened: %s", type(exc).__name__)
        return Extraction(defects=[f"workbook cannot be opened: {type(exc).__name__}: {exc}"], open_error=DAMAGED)
    date1904 = workbook.epoch == CALENDAR_MAC_1904
    extraction = Extraction()
    for sheet in workbook.worksheets:
        grid = _sheet_grid(sheet, date1904, extraction.defects)
        extraction.grids.append(grid)
    extraction.text = "\n".join(grid_text(grid) for grid in extraction.grids if grid.cells)
    workbook.close()
    return extraction


def _sheet_grid(sheet, date1904: bool, defects: list[str]) -> Grid:
    grid = Grid(name=sheet.title, hidden=sheet.sheet_state != "visible")
    spans = {
        (merged.min_row, merged.min_col): (merged.max_row - merged.min_row + 1, merged.max_col - merged.min_col + 1)
        for merged in sheet.merged_cells.ranges
    }
    max_row = min(sheet.max_row, MAX_ROWS)
    max_col = min(sheet.max_column, MAX_COLUMNS)
    if sheet.max_row > MAX_ROWS or sheet.max_column > MAX_COLUMNS:
        defects.append(f"sheet {sheet.title!r} read only up to row {max_row} and column {max_col}")
    for row in sheet.iter_rows(min_row=1, max_row=max_row, max_col=max_col):
        for cell in row:
            if isinstance(cell, MergedCell):
                continue
            anchor_span = spans.get((cell.row, cell.column))
            if cell.value is None and anchor_span is None and not _is_box(cell):
                continue
            value, defect = _cell_value(cell, date1904)
            rowspan, colspan = anchor_span or (1, 1)
            if defect:
                defects.append(f"sheet {sheet.title!r} cell {cell.coordinate}: {defect}")
            grid.add(GridCell(cell.row - 1, cell.column - 1, value, rowspan, colspan, defect))
    return grid


def _is_box(cell) -> bool:
    """Return whether an empty cell is drawn as a box to write in (it has a border)."""
    if not cell.has_style:
        return False
    border = cell.border
    return any(side is not None and side.style for side in (border.left, border.right, border.top, border.bottom))


def _cell_value(cell, date1904: bool) -> tuple[CellValue, str | None]:
    value = cell.value
    if value is None:
        return None, None
    if isinstance(value, dt.datetime):
        return value.date(), None
    if isinstance(value, (dt.date, dt.time, dt.timedelta)):
        return (value if isinstance(value, dt.date) else str(value)), None
    if isinstance(value, bool):
        return str(value).upper(), None
    if isinstance(value, (int, float)):
        if _is_date_style(cell):
            result = excel_serial_to_date(value, date1904)
            if result.ok:
                return result.value, None
            return value, result.reason
        return value, None
    return str(value), None


def _is_date_style(cell) -> bool:
    format_id = cell._style.numFmtId if cell.has_style else 0
    return format_id in JAPANESE_DATE_FORMAT_IDS or format_code_is_date(cell.number_format)
