"""``mailflow calendar`` through the command line, against dates computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailflow.cli import main

# (event days as given, first day, window start, window end, planned send date)
NOTICE_WINDOWS = [
    # The sample event: 7 weeks before is Wed 01-20, 5 weeks before Wed 02-03.
    (["2027-03-10", "2027-03-11"], "2027-03-10", "2027-01-20", "2027-02-03", "2027-01-20"),
    # Days given out of order: the earliest is the first day.
    (["2027-03-11", "2027-03-10"], "2027-03-10", "2027-01-20", "2027-02-03", "2027-01-20"),
    # 7 weeks before Mon 06-21 is Mon 05-03 (憲法記念日), so the window starts Fri 04-30.
    (["2027-06-21"], "2027-06-21", "2027-04-30", "2027-05-17", "2027-04-30"),
    # A Saturday event: Sat 01-02 moves past 元日 to Thu 12-31, and Sat 01-16 to Fri 01-15.
    (["2027-02-20"], "2027-02-20", "2026-12-31", "2027-01-15", "2026-12-31"),
    # An era date is read too: 令和9年3月10日 is 2027-03-10.
    (["令和9年3月10日"], "2027-03-10", "2027-01-20", "2027-02-03", "2027-01-20"),
]

# (registration day, expiry date, renewal deadline) with the default same_day counting.
EXPIRIES = [
    ("2024-04-01", "2028-03-31", "2028-01-31"),
    ("2024-03-31", "2027-03-31", "2027-01-31"),
    ("2024-02-29", "2027-03-31", "2027-01-31"),
    ("2025-01-15", "2028-03-31", "2028-01-31"),
    ("令和6年4月1日", "2028-03-31", "2028-01-31"),
]


@pytest.fixture(autouse=True)
def no_local_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run each command with the built-in defaults, whatever config.toml the working folder has."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAILFLOW_CONFIG", raising=False)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code = main([*argv, "--json"])
    output = capsys.readouterr().out
    assert code == 0, output
    return json.loads(output)


@pytest.mark.parametrize(("days", "first_day", "start", "end", "planned"), NOTICE_WINDOWS)
def test_notice_window_json(capsys, days, first_day, start, end, planned) -> None:
    assert run_json(capsys, "calendar", "notice-window", *days) == {
        "first_day": first_day, "window_start": start, "window_end": end, "planned_send_date": planned}


@pytest.mark.parametrize(("registered_on", "expires_on", "deadline"), EXPIRIES)
def test_expiry_json(capsys, registered_on, expires_on, deadline) -> None:
    result = run_json(capsys, "calendar", "expiry", registered_on)
    assert result["expires_on"] == expires_on
    assert result["renewal_deadline"] == deadline


def test_expiry_next_day_setting(capsys, tmp_path: Path) -> None:
    # Counting from the day after, three years from 2024-03-31 include 2027-03-31.
    config = tmp_path / "config.toml"
    config.write_text('[registry]\nperiod_from_march_31 = "next_day"\n', encoding="utf-8")
    result = run_json(capsys, "--config", str(config), "calendar", "expiry", "2024-03-31")
    assert result["expires_on"] == "2028-03-31"
    assert result["period_from_march_31"] == "next_day"


def test_expiry_text(capsys) -> None:
    assert main(["calendar", "expiry", "2024-03-31"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["登録日: 2024年3月31日（日）", "登録期間満了日: 2027年3月31日（水）", "更新手続期限: 2027年1月31日（日）"]


def test_notice_window_text(capsys) -> None:
    assert main(["calendar", "notice-window", "2027-03-10", "2027-03-11"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "開催初日: 2027年3月10日（水）",
        "案内期間: 2027年1月20日（水） から 2027年2月3日（水） まで",
        "送付予定日: 2027年1月20日（水）",
    ]


@pytest.mark.parametrize("text", ["2027-02-30", "next week", "2027/13/01"])
def test_bad_date_rejected(capsys, text: str) -> None:
    code = main(["calendar", "expiry", text])
    error = capsys.readouterr().err
    assert code == 2
    assert f"日付 {text!r} を読めません" in error


def test_bad_event_day_rejected(capsys) -> None:
    code = main(["calendar", "notice-window", "2027-03-10", "3月11日"])
    assert code == 2
    assert "'3月11日' を読めません" in capsys.readouterr().err
