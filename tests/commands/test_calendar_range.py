"""``mailflow calendar`` with dates whose results fall outside the years 1 to 9999."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.cli import main

# (command, date given): each result would need a year after 9999 or before 1.
OUT_OF_RANGE = [
    ("expiry", "9999-12-31"),
    ("expiry", "9999-04-01"),
    ("notice-window", "0001-01-10"),
    ("notice-window", "0001-02-19"),
]


@pytest.fixture(autouse=True)
def no_local_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run each command with the built-in defaults, whatever config.toml the working folder has."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAILFLOW_CONFIG", raising=False)


@pytest.mark.parametrize(("action", "day"), OUT_OF_RANGE)
def test_out_of_range_exit_code(capsys, action: str, day: str) -> None:
    assert main(["calendar", action, day]) == 2


@pytest.mark.parametrize(("action", "day"), OUT_OF_RANGE)
def test_out_of_range_message(capsys, action: str, day: str) -> None:
    main(["calendar", action, day])
    error = capsys.readouterr().err
    assert error.startswith(f"エラー: 日付 {day!r} からは西暦1年から9999年の範囲を外れる")


def test_last_expiry_in_range(capsys) -> None:
    # A registration on 9996-03-31 expires on 9999-03-31, the last expiry date that exists.
    assert main(["calendar", "expiry", "9996-03-31"]) == 0
    assert "登録期間満了日: 9999年3月31日" in capsys.readouterr().out
