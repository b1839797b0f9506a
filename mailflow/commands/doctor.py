"""``mailflow doctor``: check the installation before the daemon runs unattended.

The checks:

* the holiday calendar covers the next 18 months;
* the database is at the latest migration;
* every rule file loads;
* every mail template renders with sample values of the variables mailflow passes it;
* staff notifications have an address, and staff replies a way to be authenticated;
* the data folder is private (0700).

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
from typing import Any

import jinja2
from sqlalchemy.exc import SQLAlchemyError

from mailflow import clock
from mailflow.calendar import BusinessCalendar, format_japanese_date, load_calendar_rules
from mailflow.config import Config
from mailflow.db import migrate
from mailflow.db.models import Event, Mentor, ReviewItem
from mailflow.db.session import make_engine
from mailflow.errors import MailflowError
from mailflow.outbound.templates import Renderer, TemplateError
from mailflow.planning.digest import Digest, FailedMail, MentorLine, QuarantinedMessage, WaitingItem
from mailflow.planning.events import EventLine
from mailflow.planning.schedule import load_renewal_rules
from mailflow.review import states
from mailflow.review.commands import help_entries
from mailflow.review.mailings import KIND_LABELS
from mailflow.review.provenance import OtherAddress, SenderProvenance

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
        "doctor", help="設置の状態（祝日カレンダー、データベース、ルール、メールのテンプレート、職員のアドレス、"
                       "データフォルダーの権限）を確認します",
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
    """Compile every template in the folder and render each mail template with sample values."""
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
    elif not problems:
        problems = _render_samples(config, set(names))
    if problems:
        return Check("メールのテンプレート", False, "\n".join(problems))
    return Check("メールのテンプレート", True, f"{len(names)}個を読み込み、メールの{len(sample_contexts(config))}種類を試しに作成できました")


def _render_samples(config: Config, names: set[str]) -> list[str]:
    renderer = Renderer(config.templates_dir)
    problems = []
    for template, contexts in sample_contexts(config).items():
        if f"{template}.txt.j2" not in names:
            problems.append(f"{template}.txt.j2 がありません。mailflow に付属のテンプレートから写してください")
            continue
        for context in contexts:
            try:
                renderer.render(template, **context)
            except TemplateError as exc:
                problems.append(exc.message)
                break
            # A template is code the installer may edit, and any exception it raises
            # while rendering (a filter on the wrong type, say) is what this check reports.
            except Exception as exc:  # noqa: BLE001
                problems.append(f"{template}.txt.j2 を展開できません: {type(exc).__name__}: {exc}")
                break
    return problems


def sample_contexts(config: Config) -> dict[str, list[dict[str, Any]]]:
    """Return, for every mail template mailflow renders, sample values of what its planner passes.

    Each entry mirrors the keyword arguments of the planner's ``render`` call, so a
    template that names a variable the code does not pass fails here rather than in
    the daemon. Several contexts per template walk through its main branches.
    """
    item = ReviewItem(id=1, number="2026-0001", kind="registration", state="ready", token="MF0123456789",
                      sender_name="山田 太郎", sender_address="taro@example.jp", applicant_name="山田 太郎")
    mentor = Mentor(id=1, name="山田 太郎", registration_number="MM-2026-0001", email="taro@example.jp",
                    status="active", registered_on=dt.date(2026, 12, 14), expires_on=dt.date(2030, 3, 31))
    return {**_planner_samples(config, item, mentor),
            **_decision_samples({"bureau": config.bureau, "item": item, "kind_label": "新規登録"}, mentor)}


def _planner_samples(config: Config, item: ReviewItem, mentor: Mentor) -> dict[str, list[dict[str, Any]]]:
    """Return samples of the mails the planners send: receipts, forwards, reminders, notices, the digest."""
    event = Event(id=1, state="draft", name="新現役交流会", host="テスト商工会議所", companies=[{"name": "A社"}])
    receipt = {"bureau": config.bureau, "item": item, "kind_label": "新規登録", "recipient_name": "山田 太郎",
               "received_labels": ["登録申請書（様式1）"], "max_attachment_mb": 10,
               "checklist": [{"label": "登録申請書（様式1）", "present": True, "by_post": False},
                             {"label": "本人確認書類の写し", "present": False, "by_post": True}],
               "missing_labels": ["本人確認書類の写し"], "requests": ["masked_identity_document", "unencrypted_file"],
               "unreadable_files": 1, "review_period": "2週間"}
    reminder = {"bureau": config.bureau, "mentor": mentor, "expires_on": "2030年3月31日（日）",
                "deadline": "2030年1月31日（木）", "documents": ["登録申請書（様式1）"], "review_days": 30}
    return {
        "receipt": [receipt, {**receipt, "missing_labels": [], "requests": [], "unreadable_files": 0}],
        **{name: [receipt] for name in ("receipt_change_notice", "receipt_withdrawal", "receipt_inquiry",
                                        "receipt_attendance_form")},
        "receipt_challenge_list": [{"bureau": config.bureau, "number": "E2026-0001", "recipient_name": "ご担当者",
                                    "event": event, "event_days": ["2027年3月10日（水）", "2027年3月11日（木）"]}],
        "inquiry_forward": [{"bureau": config.bureau, "item": item, "original_subject": "資格について",
                             "sender_address": "taro@example.jp", "sender_display": "山田 太郎 <taro@example.jp>",
                             "sent_at": "2026-12-14 10:00", "body": "応募できる年齢を教えてください。"}],
        "renewal_reminder": [{**reminder, "days_left": 30}, {**reminder, "days_left": 0}],
        "event_notice": [{"bureau": config.bureau, "mentor": mentor, "event": event, "number": "E2026-0001",
                          "event_days": ["2027年3月10日（水）", "2027年3月11日（木）"], "reply_by": "2027年2月24日（水）",
                          "attachment_names": ["様式3.xlsx", "新現役交流会出席希望登録票（様式4）.xlsx"]}],
        "revocation_notice": [{"bureau": config.bureau, "mentor": mentor, "expires_on": "2030年3月31日（日）",
                               "effective_on": "2030年4月1日（月）"}],
        "staff_digest": [_digest_sample(config)],
    }


def _decision_samples(base: dict[str, Any], mentor: Mentor) -> dict[str, list[dict[str, Any]]]:
    """Return samples of the mails staff decisions cause, ``base`` being what every one of them gets."""
    applicant = {**base, "recipient_name": "山田 太郎"}
    period = {"registered_on": "2026年12月14日（月）", "expires_on": "2030年3月31日（日）",
              "renewal_deadline": "2030年1月31日（木）"}
    changes = [{"label": "電話番号", "old": "03-1111-2222", "new": "03-3333-4444"}]
    return {
        "result_approved": [{**applicant, "mentor": mentor, "period": period}],
        "result_renewed": [{**applicant, "mentor": mentor, "period": period}],
        "result_rejected": [{**applicant, "reason": "年齢の要件を満たさないため"}],
        "result_returned": [{**applicant, "corrections": "生年月日が空欄です"}],
        "result_resubmission": [{**applicant, "document_label": "本人確認書類の写し", "reason": "住所が読めません"}],
        "change_confirmation": [{**applicant, "mentor": mentor, "changes": changes, "effective_date": "2027年1月1日"}],
        "withdrawal_confirmation": [{**applicant, "mentor": mentor}],
        "revocation_confirmation": [{**base, "item": None, "kind_label": "", "mentor": mentor,
                                     "recipient_name": mentor.name, "reason": "登録の要件を満たさなくなったため"}],
        "staff_confirmation": [{**base, "usage": "承認", "line": "承認 確認済 窓口で確認", "argument": "窓口で確認",
                                "summary": "登録しました", "state_label": "承認"}],
        "staff_help": [{**base, "problem": "「承認 よろしく」の意味がわかりません", "line": "承認 よろしく",
                        "commands": help_entries("registration"), "state_label": "審査待ち"}],
        "staff_refusal": [{**base, "reason_text": "差出人が職員のアドレスの一覧にありません", "sender": "x@example.net",
                           "message_id": "<x@example.net>", "inbound_id": 1},
                          {**base, "item": None, "kind_label": "", "reason_text": "トークンがありません",
                           "sender": "", "message_id": None, "inbound_id": 2}],
        "staff_notification": _notification_samples(base, mentor, changes),
    }


def _notification_samples(base: dict[str, Any], mentor: Mentor, changes: list[dict]) -> list[dict[str, Any]]:
    """Return a registration that needs attention, a change notice whose sender needs care, a withdrawal."""
    registration = {
        **base, "kind": "registration", "applicant_name": "山田 太郎", "state_label": "要確認",
        "created_at": "2026-12-14 10:00", "attention": ["申請書が読み取れません"],
        "checklist": [{"label": "登録申請書（様式1）", "present": True, "by_post": False, "announced": False},
                      {"label": "本人確認書類の写し", "present": False, "by_post": False, "announced": True}],
        "form_rows": [{"label": "氏名", "value": "山田 太郎"}], "career_lines": ["1980年4月 / テスト工業株式会社"],
        "unreadable_fields": ["電話番号"], "warnings": ["年齢が50歳未満です"], "manual_checks": ["押印を確認"],
        "reasons": ["件名に『登録申請』があります"], "commands": help_entries("registration"),
        "token_expires": "2027-03-14 10:00", "mentor": None, "mentor_expires_on": "", "match_label": "",
        "match_confirm": False, "changes": [], "effective_date": None, "withdrawal_reason": None,
        "sender_check": None, "notice_lines": [], "event": None,
        "replies": [{"received_at": "2026-12-14 10:05", "lines": ["先日お送りした申請は取り下げます。"]}],
        "attached": ["登録申請書（様式1）: 申請書.xlsx（8,609 バイト）"], "attached_more": 2,
        "not_attached": ["その他のファイル: zeros.bin（0 バイト）: 空のファイル"], "not_attached_more": 95,
    }
    provenance = SenderProvenance(
        from_address="taro@example.jp", verdict="none", method=None, source="認証結果がありません",
        results=("spf=pass smtp.mailfrom=example.net",), other_addresses=(OtherAddress("Reply-To", "x@example.net"),),
        cautions=("送信元の認証で差出人を確かめられません",))
    change_notice = {
        **registration, "kind": "change_notice", "kind_label": "変更届", "state_label": "審査待ち", "attention": [],
        "checklist": [], "form_rows": [], "career_lines": [], "unreadable_fields": [], "mentor": mentor,
        "mentor_expires_on": "2030年3月31日（日）", "match_label": "差出人のメールアドレス", "match_confirm": True,
        "commands": help_entries("change_notice"), "sender_check": provenance, "notice_lines": ["電話番号を変更しました"],
    }
    withdrawal = {**change_notice, "kind": "withdrawal", "kind_label": "登録取り消しの申し出", "sender_check": None,
                  "withdrawal_reason": "一身上の都合", "changes": changes, "effective_date": "2027年1月1日"}
    event = {"number": "E2026-0001", "name": "新現役交流会", "host": "テスト商工会議所", "venue": "会議室",
             "days": ["2027年3月10日（水）"], "company_count": 15, "problems": ["開催日を読み取れませんでした"],
             "window_start": "2027年1月20日（水）", "window_end": "2027年2月3日（水）",
             "planned_send_date": "2027年1月20日（水）", "send_time": "09:00", "active_mentors": 120}
    challenge_list = {**registration, "kind": "challenge_list", "kind_label": "課題一覧", "checklist": [],
                      "form_rows": [], "career_lines": [], "unreadable_fields": [], "event": event,
                      "commands": help_entries("challenge_list")}
    return [registration, change_notice, withdrawal, challenge_list]


def _digest_sample(config: Config) -> dict[str, Any]:
    day = dt.date(2026, 12, 14)
    waiting = WaitingItem("2026-0001", "registration", "ready", day, 20, 14, True)
    line = MentorLine(1, "MM-2026-0001", "山田 太郎", dt.date(2027, 3, 31), "更新申請中")
    digest = Digest(day=day, waiting=[waiting], attention=[waiting], held=[line], ending=[line], revoked=[line],
                    failed=[FailedMail(1, "receipt", day, 550, "mailbox unavailable")],
                    quarantined=[QuarantinedMessage(1, day, "解析できません")],
                    events_waiting=[EventLine(1, "E2026-0001", "新現役交流会", dt.date(2027, 3, 10),
                                              dt.date(2027, 1, 20), dt.date(2027, 2, 3)),
                                    EventLine(2, "E2026-0002", "新現役交流会", None, None, None, "開催日が不明です")],
                    events_missed=[EventLine(3, "E2026-0003", "新現役交流会", dt.date(2027, 1, 10),
                                             dt.date(2026, 11, 20), dt.date(2026, 12, 4))])
    return {"bureau": config.bureau, "digest": digest, "day": format_japanese_date(day), "kind_labels": KIND_LABELS,
            "state_labels": states.LABELS, "japanese_date": format_japanese_date}


def check_staff_addresses(config: Config) -> Check:
    """Check that staff notifications have an address and that staff replies can come from a listed address."""
    name = "職員のアドレス"
    if not config.notify_addresses:
        return Check(name, False, "bureau.staff_addresses が設定されていないため、職員への通知（審査依頼、要確認、"
                     "日次のまとめ、問い合わせの転送）を送らずに捨て、職員の返信もすべて拒否します。config.toml の "
                     '[bureau] に staff_addresses = ["shinsa@bureau.example.jp"] のように職員のアドレスを'
                     "書いてください（通知を別の宛先に送るときは notify_addresses も）")
    if not config.bureau.staff_addresses:
        return Check(name, False, "bureau.staff_addresses が設定されていないため、職員の返信（承認・却下など）を"
                     "すべて拒否します。config.toml の [bureau] の staff_addresses に、返信で操作する職員の"
                     "アドレスを書いてください")
    return Check(name, True, f"職員 {len(config.bureau.staff_addresses)} 人、通知の宛先 "
                 f"{len(config.notify_addresses)} 件が設定されています")


def check_reply_authentication(config: Config) -> Check:
    """Check that ``staff.authserv_id`` or ``staff.trusted_header`` can authenticate staff replies."""
    name = "職員の返信の認証"
    if config.staff.authserv_id:
        return Check(name, True, f"局のメールサーバー {config.staff.authserv_id} の Authentication-Results で確認します")
    if config.staff.trusted_header:
        return Check(name, True, f"ヘッダー {config.staff.trusted_header} で確認します")
    return Check(name, False, "staff.authserv_id も staff.trusted_header も設定されていないため、職員の返信は"
                 "すべて認証に不合格となり拒否されます。局のメールサーバーが Authentication-Results の先頭に"
                 "書く名前（例 mx.bureau.example.jp）を config.toml の [staff] authserv_id に書いてください")


def check_data_dir(config: Config) -> Check:
    path = config.data_dir
    if not path.is_dir():
        return Check("データフォルダー", False, f"{path} がありません。mailflow db upgrade で作成してください")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != DATA_DIR_MODE:
        return Check("データフォルダー", False,
                     f"{path} の権限が {mode:04o} です。個人情報を置くため chmod 700 {path} で 0700 にしてください")
    return Check("データフォルダー", True, f"{path} の権限は 0700 です")


CHECKS = [check_holidays, check_database, check_rules, check_templates, check_staff_addresses,
          check_reply_authentication, check_data_dir]


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
