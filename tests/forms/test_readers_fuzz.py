"""Form readers on random grids of labels, dates, numbers and junk: they never raise."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from mailflow.intake.forms.attendance import read_attendance
from mailflow.intake.forms.challenge_list import read_challenge_list
from mailflow.intake.forms.grid import Grid, GridCell
from mailflow.intake.forms.registration import read_registration

WORDS = [
    "氏名", "氏名：", "生年", "月日", "ふりがな", "電話番号", "携帯", "メール", "〒", "職歴", "期間", "会社名",
    "業務内容", "専門分野", "■経営戦略", "□品質管理", "同意", "新規", "在職中", "No.", "企業名", "開催日",
    "希望順位", "企業No.", "令和元年5月1日", "平成元年1月7日", "S35.4.1", "35年", "歳", "", " ", "※注",
    "03-1234-5678", "abc@example.jp", "（", "：", "■", "□", "2027年3月10日（水）・11日（木）",
]
READERS = [read_registration, read_challenge_list, read_attendance]


def random_grid(rng: random.Random) -> Grid:
    grid = Grid(name="fuzz", hidden=rng.random() < 0.2, loose=rng.random() < 0.3)
    for _ in range(rng.randint(0, 60)):
        kind = rng.random()
        if kind < 0.7:
            value = rng.choice(WORDS)
        elif kind < 0.8:
            value = dt.date(rng.randint(1900, 2100), rng.randint(1, 12), rng.randint(1, 28))
        elif kind < 0.9:
            value = rng.choice([0, -1, 35, 35.5, 1e9, float("nan")])
        else:
            value = None
        grid.add(GridCell(rng.randint(0, 20), rng.randint(0, 8), value, rng.randint(1, 3), rng.randint(1, 3)))
    return grid


@pytest.mark.parametrize("seed", range(200))
def test_readers_never_raise(seed):
    rng = random.Random(seed)
    grids = [random_grid(rng) for _ in range(rng.randint(0, 3))]
    for reader in READERS:
        result = reader(grids)
        assert isinstance(result.defects, list)
