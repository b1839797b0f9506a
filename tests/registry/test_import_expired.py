"""Registry import of active rows whose expiry date has passed: imported, with a warning per row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailflow import clock
from mailflow.db.models import Mentor
from mailflow.registry.importer import import_registry
from mailflow.registry.period import PeriodSettings

# Today for every test: the day after the 2026-03-31 expiry, so that registration is past.
TODAY = dt.datetime(2026, 4, 1, 9, 0, tzinfo=clock.TOKYO)

LIST_CSV = (
    "登録番号,氏名,ふりがな,メールアドレス,登録日,満了日,専門分野,状態\n"
    "MM-2023-0101,更新 一郎,こうしん いちろう,koushin1@example.jp,2023-04-01,2027-03-31,生産管理,登録中\n"
    "MM-2022-0103,期限 切子,きげん きりこ,kigen3@example.jp,2022-04-01,2026-03-31,財務,登録中\n"
    "MM-2022-0104,取消 四郎,とりけし しろう,torikeshi4@example.jp,2022-04-01,2026-03-31,営業,取り消し（局の判断）\n"
    "MM-2021-0105,期限 五郎,きげん ごろう,kigen5@example.jp,2021-04-01,2025-03-31,人事,登録中\n"
)
# The expired active rows: (row, column index of 満了日, expiry date).
EXPECTED_WARNINGS = [(3, 6, "2026-03-31"), (5, 6, "2025-03-31")]
# An error in row 6 makes the whole list fail.
BAD_ROW = "MM-2024-0106,,,bad@example.jp,2024-04-01,2028-03-31,,登録中\n"


@pytest.fixture(autouse=True)
def frozen_today() -> Iterator[None]:
    clock.set_now(TODAY)
    yield
    clock.set_now(None)


def write_list(tmp_path: Path, text: str = LIST_CSV) -> Path:
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    return path


def mentor_count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Mentor))


def test_expired_rows_warned(sessions, tmp_path) -> None:
    result = import_registry(sessions, write_list(tmp_path), PeriodSettings(), actor="test")
    found = [(warning.row, warning.column, warning.message.split()[1]) for warning in result.warnings]
    assert found == EXPECTED_WARNINGS


def test_expired_rows_still_imported(sessions, tmp_path) -> None:
    result = import_registry(sessions, write_list(tmp_path), PeriodSettings(), actor="test")
    assert result.committed
    assert mentor_count(sessions) == 4


def test_expiry_today_not_warned(sessions, tmp_path) -> None:
    clock.set_now(dt.datetime(2026, 3, 31, 23, 59, tzinfo=clock.TOKYO))
    result = import_registry(sessions, write_list(tmp_path), PeriodSettings(), actor="test")
    assert [warning.row for warning in result.warnings] == [5]


def test_dry_run_warned(sessions, tmp_path) -> None:
    result = import_registry(sessions, write_list(tmp_path), PeriodSettings(), actor="test", dry_run=True)
    assert [warning.row for warning in result.warnings] == [3, 5]
    assert mentor_count(sessions) == 0


def test_errors_keep_all_or_nothing(sessions, tmp_path) -> None:
    result = import_registry(sessions, write_list(tmp_path, LIST_CSV + BAD_ROW), PeriodSettings(), actor="test")
    assert [problem.row for problem in result.problems] == [6]
    assert [warning.row for warning in result.warnings] == [3, 5]
    assert mentor_count(sessions) == 0
