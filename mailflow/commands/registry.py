"""``mailflow registry``: list, show, import and export the registry of mentors.

Each action is one ``add_*`` function in ACTIONS that adds its parser and handler, so a new
action is one more function in the list.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from mailflow import clock
from mailflow.commands.decide import add_revoke_parser
from mailflow.commands.mentor_text import render_mentor_text
from mailflow.config import Config
from mailflow.db import migrate
from mailflow.db.models import Mentor, MentorHistory, ReviewItem
from mailflow.db.session import make_engine, make_session_factory
from mailflow.registry.export import export_registry
from mailflow.registry.importer import ImportResult, import_registry
from mailflow.registry.period import PeriodError, PeriodSettings, renewal_deadline
from mailflow.registry.rows import STATUS_LABELS, normalize_registration_number

STATUS_CHOICES = (*STATUS_LABELS, "all")
NOT_FOUND = 1


def register(subparsers) -> None:
    parser = subparsers.add_parser("registry", help="登録簿（マネジメントメンターデータベース）の表示・取り込み・書き出し")
    actions = parser.add_subparsers(dest="registry_command", metavar="ACTION", title="操作")
    for add in ACTIONS:
        add(actions)


def add_list(actions) -> None:
    listing = actions.add_parser("list", help="登録者の一覧を表示します（既定では登録中のみ）")
    listing.add_argument("--status", choices=STATUS_CHOICES, default="active",
                         help="この状態の登録者だけ表示します（all ですべて。既定 active）")
    listing.add_argument("--json", action="store_true", help="JSON で出力します")
    listing.set_defaults(handler=run_list)


def add_show(actions) -> None:
    show = actions.add_parser("show", help="登録者の詳細と変更の履歴を表示します")
    show.add_argument("mentor", metavar="ID", help="登録番号（例 MM-2026-0001）または登録者ID")
    show.add_argument("--json", action="store_true", help="JSON で出力します")
    show.set_defaults(handler=run_show)


def add_import(actions) -> None:
    importing = actions.add_parser(
        "import", help="登録簿の一覧（.xlsx または .csv）を取り込みます",
        description="見出しの行（登録番号、氏名、ふりがな、メールアドレス、登録日、満了日、専門分野、状態）"
                    "のある一覧を取り込みます。登録番号、次にメールアドレスで登録済みの人と照合し、"
                    "一か所でも誤りがあれば何も取り込みません。空欄の項目は登録済みの値を変えません。",
    )
    importing.add_argument("file", metavar="FILE", type=Path, help="取り込む .xlsx または .csv（UTF-8 か Shift_JIS）")
    importing.add_argument("--dry-run", action="store_true", help="確認だけ行い、データベースは変えません")
    importing.set_defaults(handler=run_import)


def add_export(actions) -> None:
    exporting = actions.add_parser("export", help="登録簿を Excel ファイル（.xlsx）に書き出します")
    exporting.add_argument("file", metavar="FILE.xlsx", type=Path, help="書き出すファイル（既にあれば置き換えます）")
    exporting.add_argument("--status", choices=STATUS_CHOICES, default="all",
                           help="この状態の登録者だけ書き出します（既定 all）")
    exporting.set_defaults(handler=run_export)


ACTIONS = [add_list, add_show, add_import, add_export, add_revoke_parser]


def open_sessions(config: Config) -> sessionmaker[Session]:
    """Return a session factory on the configured database, migrated to the latest schema."""
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(config.database_url, config.database.busy_timeout_ms)
    migrate.upgrade(engine)
    return make_session_factory(engine)


def mentors_query(status: str):
    query = select(Mentor).order_by(Mentor.registration_number, Mentor.id)
    return query if status == "all" else query.where(Mentor.status == status)


def mentor_summary(mentor: Mentor) -> dict:
    """Return the listed fields of ``mentor`` with ISO dates, as ``registry list --json`` prints them."""
    return {
        "id": mentor.id,
        "registration_number": mentor.registration_number,
        "name": mentor.name,
        "kana": mentor.kana,
        "email": mentor.email,
        "status": mentor.status,
        "registered_on": mentor.registered_on.isoformat() if mentor.registered_on else None,
        "expires_on": mentor.expires_on.isoformat() if mentor.expires_on else None,
        "renewal_deadline": _deadline(mentor),
        "fields": list(mentor.fields or []),
    }


def _deadline(mentor: Mentor) -> str | None:
    try:
        return renewal_deadline(mentor.expires_on).isoformat() if mentor.expires_on else None
    except PeriodError:
        return None


def run_list(args: argparse.Namespace, config: Config) -> int:
    with open_sessions(config)() as session:
        mentors = list(session.scalars(mentors_query(args.status)))
    if args.json:
        print(json.dumps([mentor_summary(mentor) for mentor in mentors], ensure_ascii=False, indent=2))
        return 0
    if not mentors:
        print("該当する登録者はいません")
        return 0
    print("ID\t登録番号\t状態\t満了日\t更新期限\t氏名")
    for mentor in mentors:
        summary = mentor_summary(mentor)
        print(f"{mentor.id}\t{mentor.registration_number or '-'}\t{STATUS_LABELS.get(mentor.status, mentor.status)}\t"
              f"{summary['expires_on'] or '-'}\t{summary['renewal_deadline'] or '-'}\t{mentor.name}")
    print(f"{len(mentors)}名")
    return 0


def find_mentor(session: Session, reference: str) -> Mentor | None:
    """Return the mentor with registration number or id ``reference``, or None."""
    number = normalize_registration_number(reference)
    conditions = [Mentor.registration_number == number]
    if reference.strip().isdigit():
        conditions.append(Mentor.id == int(reference))
    return session.scalars(select(Mentor).where(or_(*conditions)).order_by(Mentor.id)).first()


def run_show(args: argparse.Namespace, config: Config) -> int:
    with open_sessions(config)() as session:
        mentor = find_mentor(session, args.mentor)
        if mentor is None:
            print(f"登録者 {args.mentor} が見つかりません（mailflow registry list で登録番号を確認してください）",
                  file=sys.stderr)
            return NOT_FOUND
        history = list(session.scalars(
            select(MentorHistory).where(MentorHistory.mentor_id == mentor.id).order_by(MentorHistory.at, MentorHistory.id)))
        renewals = list(session.scalars(
            select(ReviewItem).where(ReviewItem.mentor_id == mentor.id, ReviewItem.kind == "renewal").order_by(ReviewItem.id)))
    data = mentor_summary(mentor) | {
        "status_reason": mentor.status_reason,
        "history": [{"at": _tokyo(entry.at), "actor": entry.actor, "action": entry.action, "changes": entry.changes}
                    for entry in history],
        "renewal_applications": [{"number": item.number, "state": item.state, "created_at": _tokyo(item.created_at)}
                                 for item in renewals],
    }
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return 0
    print(render_mentor_text(data))
    return 0


def _tokyo(moment) -> str | None:
    value = clock.as_utc(moment)
    return value.astimezone(clock.TOKYO).strftime("%Y-%m-%d %H:%M") if value else None


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    WIDTH = 30

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()

    def update(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        filled = self.WIDTH * done // total
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run_import(args: argparse.Namespace, config: Config) -> int:
    sessions = open_sessions(config)
    result = import_registry(sessions, args.file, PeriodSettings.from_config(config.registry),
                             actor="cli:registry-import", dry_run=args.dry_run,
                             progress=ProgressBar("取り込み中").update)
    print(render_import_report(result))
    return 0 if not result.problems else 1


def render_import_report(result: ImportResult) -> str:
    lines = []
    if result.ignored_headings:
        lines.append(f"使わない列: {'、'.join(result.ignored_headings)}")
    if result.warnings:
        lines.append(f"注意: 満了日を過ぎた登録中の行が {len(result.warnings)} 行あります"
                     "（取り消すつもりがなければ、満了日か状態を直して取り込み直してください）:")
        lines.extend(f"  {warning}" for warning in result.warnings)
    if result.problems:
        lines.append(f"誤りが {len(result.problems)} か所あるため、何も取り込みませんでした:")
        lines.extend(f"  {problem}" for problem in result.problems)
        return "\n".join(lines)
    verb = "取り込めます（--dry-run のため、データベースは変えていません）" if result.dry_run else "取り込みました"
    lines.append(f"{result.rows}行を{verb}: 新規 {len(result.created)}名、更新 {len(result.updated)}名、"
                 f"変更なし {len(result.unchanged)}名")
    return "\n".join(lines)


def run_export(args: argparse.Namespace, config: Config) -> int:
    if args.file.suffix.lower() != ".xlsx":
        print(f"エラー: 書き出し先 {args.file} は .xlsx で終わる名前にしてください", file=sys.stderr)
        return 2
    with open_sessions(config)() as session:
        count = export_registry(session.scalars(mentors_query(args.status)), args.file)
    print(f"{count}名を {args.file} に書き出しました")
    return 0
