"""``mailflow doctor`` through the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import jpholiday
import pytest
from sqlalchemy import text

from mailflow import clock
from mailflow.calendar import holidays_covered_until
from mailflow.cli import main
from mailflow.db import migrate
from mailflow.db.session import make_engine
from mailflow.paths import DEFAULT_RULES_DIR, DEFAULT_TEMPLATES_DIR

STAFF_SETTINGS = '[bureau]\nstaff_addresses = ["shinsa@bureau.example.jp"]\n[staff]\nauthserv_id = "mx.bureau.example.jp"\n'


def cli(config_path: Path, *argv: str) -> int:
    return main(["--config", str(config_path), *argv])


def add_settings(config_path: Path, settings: str) -> None:
    """Append TOML tables to the test config."""
    config_path.write_text(config_path.read_text(encoding="utf-8") + settings, encoding="utf-8")


def set_path(config_path: Path, key: str, value: Path) -> None:
    text_before = config_path.read_text(encoding="utf-8")
    config_path.write_text(text_before.replace("[paths]\n", f'[paths]\n{key} = "{value}"\n'), encoding="utf-8")


@pytest.fixture
def staffed(config_path: Path) -> Path:
    """The test config with staff addresses and the authserv-id of staff replies."""
    add_settings(config_path, STAFF_SETTINGS)
    return config_path


def doctor_checks(config_path: Path, capsys) -> tuple[int, dict[str, dict]]:
    code = cli(config_path, "doctor", "--json")
    return code, {check["name"]: check for check in json.loads(capsys.readouterr().out)}


def test_doctor_all_pass(staffed, capsys) -> None:
    code = cli(staffed, "doctor", "--json")
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
    set_path(config_path, "rules_dir", rules)
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


def test_doctor_no_staff_addresses(config_path, capsys) -> None:
    add_settings(config_path, '[staff]\nauthserv_id = "mx.bureau.example.jp"\n')
    code, checks = doctor_checks(config_path, capsys)
    assert code == 1
    assert checks["職員のアドレス"]["passed"] is False
    assert "bureau.staff_addresses が設定されていないため、職員への通知" in checks["職員のアドレス"]["detail"]
    assert 'staff_addresses = ["' in checks["職員のアドレス"]["detail"]


def test_doctor_notify_only_no_staff(config_path, capsys) -> None:
    add_settings(config_path, '[bureau]\nnotify_addresses = ["team@bureau.example.jp"]\n'
                              '[staff]\nauthserv_id = "mx.bureau.example.jp"\n')
    code, checks = doctor_checks(config_path, capsys)
    assert code == 1
    assert checks["職員のアドレス"]["passed"] is False
    assert "職員の返信（承認・却下など）をすべて拒否します" in checks["職員のアドレス"]["detail"]


def test_doctor_no_reply_authentication(config_path, capsys) -> None:
    add_settings(config_path, '[bureau]\nstaff_addresses = ["shinsa@bureau.example.jp"]\n')
    code, checks = doctor_checks(config_path, capsys)
    assert code == 1
    assert checks["職員のアドレス"]["passed"] is True
    assert checks["職員の返信の認証"]["passed"] is False
    assert "[staff] authserv_id" in checks["職員の返信の認証"]["detail"]


def test_doctor_trusted_header_authenticates(config_path, capsys) -> None:
    add_settings(config_path, '[bureau]\nstaff_addresses = ["shinsa@bureau.example.jp"]\n'
                              '[staff]\ntrusted_header = "X-MS-Exchange-Organization-AuthAs: Internal"\n')
    code, checks = doctor_checks(config_path, capsys)
    assert checks["職員の返信の認証"]["passed"] is True
    assert code == 0


@pytest.fixture
def own_templates(staffed: Path, tmp_path: Path) -> Path:
    """A copy of the shipped templates that the test config uses; returns the folder."""
    folder = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, folder)
    set_path(staffed, "templates_dir", folder)
    return folder


def test_doctor_copied_templates_pass(staffed, own_templates, capsys) -> None:
    code, checks = doctor_checks(staffed, capsys)
    assert checks["メールのテンプレート"]["passed"] is True
    assert code == 0


def test_doctor_template_unknown_variable(staffed, own_templates, capsys) -> None:
    path = own_templates / "staff_notification.txt.j2"
    path.write_text(path.read_text(encoding="utf-8").replace("{{ applicant_name }}", "{{ applicant_nmae }}"),
                    encoding="utf-8")
    code, checks = doctor_checks(staffed, capsys)
    detail = checks["メールのテンプレート"]["detail"]
    assert code == 1
    assert "staff_notification.txt.j2" in detail
    assert "applicant_nmae" in detail


def test_doctor_template_without_subject(staffed, own_templates, capsys) -> None:
    path = own_templates / "result_approved.txt.j2"
    path.write_text("\n".join(path.read_text(encoding="utf-8").splitlines()[1:]), encoding="utf-8")
    code, checks = doctor_checks(staffed, capsys)
    assert code == 1
    assert "result_approved.txt.j2 の1行目" in checks["メールのテンプレート"]["detail"]


def test_doctor_template_missing(staffed, own_templates, capsys) -> None:
    (own_templates / "staff_help.txt.j2").unlink()
    code, checks = doctor_checks(staffed, capsys)
    assert code == 1
    assert "staff_help.txt.j2 がありません" in checks["メールのテンプレート"]["detail"]


def test_doctor_template_runtime_error(staffed, own_templates, capsys) -> None:
    path = own_templates / "renewal_reminder.txt.j2"
    path.write_text(path.read_text(encoding="utf-8") + "{{ days_left + '日' }}\n", encoding="utf-8")
    code, checks = doctor_checks(staffed, capsys)
    assert code == 1
    assert "renewal_reminder.txt.j2 を展開できません: TypeError" in checks["メールのテンプレート"]["detail"]
