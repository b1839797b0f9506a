"""``mailflow doctor``: check the installation before the daemon runs unattended.

The checks: the holiday calendar covers the next 18 months, the database is at the latest
migration, every rule file and mail template loads, and the data folder is private (0700).
The exit code is 0 only when every check passes.
"""

from __future__ import annotations

import argparse
import calendar as month_calendar
import datetime as dt
import json
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2
from sqlalchemy.exc import SQLAlchemyError

from mailflow import clock
from mailflow.calendar import BusinessCalendar, format_japanese_date, load_calendar_rules
from mailflow.config import Config
from mailflow.db import migrate
from mailflow.db.session import make_engine
from mailflow.errors import MailflowError
from mailflow.planning.schedule import load_renewal_rules

# The reminder planner looks at periods expiring up to about 15 months ahead (the largest
# offset of 365 days before a deadline two months before expiry). jpholiday learns of new
# holidays only with a release, so 18 months leave a margin for a late upgrade.
REQUIRED_COVERAGE_MONTHS = 18
DATA_DIR_MODE = 0o700
FAILED = 1


@dataclass(frozen=True)
class Check:
    """The outcome of one check: its Japanese name, whether it passed, and a sentence for the operator."""

    name: str
    passed: bool
    detail: str


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "doctor", help="設置の状態（祝日カレンダー、データベース、ルール、データフォルダーの権限）を確認します",
        description="すべての確認に合格したときだけ終了コード 0 を返します。",
    )
    parser.add_argument("--json", action="store_true", help="JSON で出力します")
    parser.set_defaults(handler=run)


def add_months(day: dt.date, months: int) -> dt.date:
    """Return the same day ``months`` later, or the month's last day when it has no such day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last_day = month_calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last_day))


def check_holidays(config: Config) -> Check:
    today = clock.today()
    needed = add_months(today, REQUIRED_COVERAGE_MONTHS)
    covered = BusinessCalendar().covered_until()
    detail = (f"{format_japanese_date(covered)}まで収録されています。"
              f"{REQUIRED_COVERAGE_MONTHS}か月先の{format_japanese_date(needed)}まで必要です")
    if covered < needed:
        detail += "。jpholiday を新しい版に更新してください（pip install -U jpholiday）"
    return Check("祝日カレンダー", covered >= needed, detail)


def check_database(config: Config) -> Check:
    url = config.database_url
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = url[len("sqlite:///"):]
        if not Path(path).is_file():
            return Check("データベース", False, f"{path} がありません。mailflow db upgrade で作成してください")
    engine = make_engine(url, config.database.busy_timeout_ms)
    try:
        current = migrate.current_revision(engine)
    except SQLAlchemyError as exc:
        return Check("データベース", False, f"接続できません（{type(exc).__name__}）。database.url を確認してください")
    finally:
        engine.dispose()
    head = migrate.head_revision()
    if current != head:
        return Check("データベース", False,
                     f"版 {current or 'なし'} は最新ではありません（最新は {head}）。mailflow db upgrade を実行してください")
    return Check("データベース", True, f"最新の版 {head} です")


def check_rules(config: Config) -> Check:
    loaders: list[Callable[[], object]] = [
        lambda: load_calendar_rules(config.rules_dir),
        lambda: load_renewal_rules(config.rules_dir),
        lambda: _load_intake_rules(config),
    ]
    problems = []
    for load in loaders:
        try:
            load()
        except MailflowError as exc:
            problems.append(exc.message)
    if problems:
        return Check("ルールファイル", False, "\n".join(problems))
    return Check("ルールファイル", True, f"{config.rules_dir} のルールをすべて読み込めました")


def _load_intake_rules(config: Config) -> object:
    from mailflow.intake.analyze import load_intake_rules

    return load_intake_rules(config.rules_dir)


def check_templates(config: Config) -> Check:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(config.templates_dir), encoding="utf-8"))
    names = sorted(environment.list_templates(extensions=["j2"]))
    problems = []
    for name in names:
        try:
            environment.get_template(name)
        except jinja2.TemplateError as exc:
            problems.append(f"{name}: {exc}")
    if not names:
        problems.append(f"{config.templates_dir} にテンプレートがありません")
    if problems:
        return Check("メールのテンプレート", False, "\n".join(problems))
    return Check("メールのテンプレート", True, f"{len(names)}個を読み込めました")


def check_data_dir(config: Config) -> Check:
    path = config.data_dir
    if not path.is_dir():
        return Check("データフォルダー", False, f"{path} がありません。mailflow db upgrade で作成してください")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != DATA_DIR_MODE:
        return Check("データフォルダー", False,
                     f"{path} の権限が {mode:04o} です。個人情報を置くため chmod 700 {path} で 0700 にしてください")
    return Check("データフォルダー", True, f"{path} の権限は 0700 です")


CHECKS = [check_holidays, check_database, check_rules, check_templates, check_data_dir]


def run(args: argparse.Namespace, config: Config) -> int:
    checks = [check(config) for check in CHECKS]
    if args.json:
        print(json.dumps([{"name": c.name, "passed": c.passed, "detail": c.detail} for c in checks],
                         ensure_ascii=False, indent=2))
    else:
        for check in checks:
            print(f"[{'OK' if check.passed else 'NG'}] {check.name}: {check.detail}")
        failed = sum(not check.passed for check in checks)
        print("すべての確認に合格しました" if not failed else f"{failed}件の確認が不合格です")
    return 0 if all(check.passed for check in checks) else FAILED
