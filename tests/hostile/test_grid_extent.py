"""Grid extents, kept as cells are added so that reading a large sheet stays linear."""

from __future__ import annotations

from mailflow.intake.forms.grid import Grid, GridCell, grid_text


def test_empty_grid_extent():
    grid = Grid(name="Sheet1")

    assert (grid.max_row, grid.max_col) == (-1, -1)


def test_extent_counts_spans():
    grid = Grid(name="Sheet1")
    grid.add(GridCell(0, 0, "氏名"))
    grid.add(GridCell(2, 1, "住所", rowspan=2, colspan=3))

    assert (grid.max_row, grid.max_col) == (3, 3)


def test_extent_follows_vertical_merge():
    grid = Grid(name="table 1")
    anchor = GridCell(0, 0, "職歴")
    grid.add(anchor)
    anchor.rowspan = 3
    grid.add_cover(anchor, 2)

    assert grid.max_row == 2
    assert grid.at(2, 0) is anchor


def test_grid_text_every_row():
    grid = Grid(name="Sheet1")
    for row in range(3):
        grid.add(GridCell(row, 0, f"r{row}"))
        grid.add(GridCell(row, 1, row))

    assert grid_text(grid) == "r0\t0\nr1\t1\nr2\t2"
