"""``mailflow calendar``: the dates the rules give, for staff to check by hand.

``notice-window`` prints the window of an event notice and ``expiry`` the registration
period of a registration day, as Japanese text or, with ``--json``, as ISO dates.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from mailflow.calendar import BusinessCalendar, format_japanese_date, load_calendar_rules
from mailflow.config import Config
from mailflow.intake.forms.eras import parse_date_text
from mailflow.planning.schedule import notice_window
from mailflow.registry.period import PeriodSettings, registration_period

DATE_EXAMPLE = "2027-03-10"
USAGE_ERROR = 2


def register(subparsers) -> None:
    parser = subparsers.add_parser("calendar", help="規則から決まる日付（案内期間・登録期間）の確認")
    actions = parser.add_subparsers(dest="calendar_command", metavar="ACTION", title="操作")

    window = actions.add_parser(
        "notice-window", help="開催案内を送る期間を表示します",
        description="開催初日の7週間前から5週間前までが案内期間です。端が土日祝日なら前の営業日にします。",
    )
    window.add_argument("days", nargs="+", metavar="DAY",
                        help="開催日（例 2027-03-10）。複数日の開催はすべての日を並べます（最も早い日が初日）")
    window.add_argument("--json", action="store_true", help="JSON（日付は ISO 8601）で出力します")
    window.set_defaults(handler=run_notice_window)

    expiry = actions.add_parser(
        "expiry", help="登録日から登録期間満了日と更新手続期限を表示します",
        description="登録日から3年を経過した日の属する年度の末日（3月31日）が満了日、その2か月前が更新手続期限です。",
    )
    expiry.add_argument("registered_on", metavar="REGISTERED_ON", help="登録日（例 2024-04-01、令和6年4月1日）")
    expiry.add_argument("--json", action="store_true", help="JSON（日付は ISO 8601）で出力します")
    expiry.set_defaults(handler=run_expiry)


def parse_day(text: str) -> dt.date | None:
    """Return the date ``text`` names, or None after printing a Japanese error to stderr."""
    result = parse_date_text(text)
    if result.value is None:
        print(f"エラー: 日付 {text!r} を読めません。存在する日付を {DATE_EXAMPLE} の形で指定してください",
              file=sys.stderr)
    return result.value


def print_out_of_range(texts: list[str]) -> None:
    """Print the Japanese error for dates whose result falls outside the years 1 to 9999."""
    dates_given = "、".join(repr(text) for text in texts)
    print(f"エラー: 日付 {dates_given} からは西暦{dt.MINYEAR}年から{dt.MAXYEAR}年の範囲を外れる日付になるため計算できません。"
          "業務で使う日付を指定してください", file=sys.stderr)


def run_notice_window(args: argparse.Namespace, config: Config) -> int:
    days = [parse_day(text) for text in args.days]
    if any(day is None for day in days):
        return USAGE_ERROR
    calendar = BusinessCalendar(load_calendar_rules(config.rules_dir))
    try:
        window = notice_window(days, calendar)
    except OverflowError:
        # Date arithmetic raises OverflowError when a result falls before 1 January of year 1.
        print_out_of_range(args.days)
        return USAGE_ERROR
    if args.json:
        print(json.dumps({
            "first_day": window.first_day.isoformat(),
            "window_start": window.window_start.isoformat(),
            "window_end": window.window_end.isoformat(),
            "planned_send_date": window.planned_send_date.isoformat(),
        }, ensure_ascii=False, indent=2))
        return 0
    print(f"開催初日: {format_japanese_date(window.first_day)}")
    print(f"案内期間: {format_japanese_date(window.window_start)} から {format_japanese_date(window.window_end)} まで")
    print(f"送付予定日: {format_japanese_date(window.planned_send_date)}")
    return 0


def run_expiry(args: argparse.Namespace, config: Config) -> int:
    registered_on = parse_day(args.registered_on)
    if registered_on is None:
        return USAGE_ERROR
    settings = PeriodSettings.from_config(config.registry)
    try:
        period = registration_period(registered_on, settings)
    except (OverflowError, ValueError):
        # Building a date after the year 9999 raises ValueError, and adding days to
        # 9999-12-31 raises OverflowError. Settings are already valid, so neither has another cause.
        print_out_of_range([args.registered_on])
        return USAGE_ERROR
    if args.json:
        print(json.dumps({
            "registered_on": period.registered_on.isoformat(),
            "expires_on": period.expires_on.isoformat(),
            "renewal_deadline": period.renewal_deadline.isoformat(),
            "period_from_march_31": settings.period_from_march_31.value,
        }, ensure_ascii=False, indent=2))
        return 0
    print(f"登録日: {format_japanese_date(period.registered_on)}")
    print(f"登録期間満了日: {format_japanese_date(period.expires_on)}")
    print(f"更新手続期限: {format_japanese_date(period.renewal_deadline)}")
    print(f"（3月31日の登録の数え方 registry.period_from_march_31 = {settings.period_from_march_31.value}）")
    return 0
