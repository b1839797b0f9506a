"""``mailflow doctor`` through the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import jpholiday
from sqlalchemy import text

from mailflow import clock
from mailflow.calendar import holidays_covered_until
from mailflow.cli import main
from mailflow.db import migrate
from mailflow.db.session import make_engine
from mailflow.paths import DEFAULT_RULES_DIR


def cli(config_path: Path, *argv: str) -> int:
    return main(["--config", str(config_path), *argv])


def test_doctor_all_pass(config_path, capsys) -> None:
    code = cli(config_path, "doctor", "--json")
    checks = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in checks if not c["passed"]] == []
    assert code == 0


def test_doctor_data_dir_mode(config_path, tmp_path, capsys) -> None:
    (tmp_path / "data").chmod(0o755)
    code = cli(config_path, "doctor")
    output = capsys.readouterr().out
    assert code == 1
    assert "[NG] データフォルダー" in output
    assert "0755" in output


def test_doctor_old_database(config_path, db_url, capsys) -> None:
    engine = make_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    engine.dispose()
    try:
        code = cli(config_path, "doctor")
        output = capsys.readouterr().out
    finally:
        engine = make_engine(db_url)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": migrate.head_revision()})
        engine.dispose()
    assert code == 1
    assert "[NG] データベース: 版 old は最新ではありません" in output


def test_doctor_broken_rules(config_path, tmp_path, capsys) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, rules)
    (rules / "renewal.toml").write_text("[reminders]\noffsets_days = [-5]\n", encoding="utf-8")
    config_path.write_text(config_path.read_text(encoding="utf-8").replace("[paths]\n", f'[paths]\nrules_dir = "{rules}"\n'),
                           encoding="utf-8")
    code = cli(config_path, "doctor")
    output = capsys.readouterr().out
    assert code == 1
    assert "[NG] ルールファイル" in output
    assert "reminders.offsets_days = -5" in output


def test_doctor_holidays_too_short(config_path, capsys, monkeypatch) -> None:
    # An old jpholiday that knows holidays only up to 2027, checked on 2027-01-10: the
    # 18 months ahead run to 2028-07-10.
    real_name = jpholiday.is_holiday_name
    monkeypatch.setattr(jpholiday, "is_holiday_name", lambda day: real_name(day) if day.year <= 2027 else None)
    holidays_covered_until.cache_clear()
    clock.set_now(dt.datetime(2027, 1, 10, tzinfo=clock.TOKYO))
    try:
        code = cli(config_path, "doctor")
    finally:
        clock.set_now(None)
        holidays_covered_until.cache_clear()
    output = capsys.readouterr().out
    assert code == 1
    assert "[NG] 祝日カレンダー: 2027年12月31日（金）まで収録されています。18か月先の2028年7月10日（月）まで必要です" in output
