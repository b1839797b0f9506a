"""Whole numbers in forms: ages and years under 200, company numbers and head counts above."""

from __future__ import annotations

import pytest

from mailflow.intake.forms.values import read_count


@pytest.mark.parametrize("value, unit, expected", [
    (35, "歳", 35), ("３５歳", "歳", 35), ("満65歳", "歳", 65), ("10年以上", "年", 10), (35.0, "年", 35),
])
def test_small_counts_read(value, unit, expected):
    assert read_count(value, unit).value == expected


@pytest.mark.parametrize("value", [250, "250歳", -1, 3.5, "三十五"])
def test_small_counts_refused(value):
    read = read_count(value, "歳")
    assert read.value is None
    assert read.problem


@pytest.mark.parametrize("value, unit, expected", [
    (250, "名", 250), ("1,200名", "名", 1200), ("１，２００人", "人", 1200), ("300", "", 300), (201, "", 201),
])
def test_large_counts_read(value, unit, expected):
    assert read_count(value, unit, below=1_000_000).value == expected
