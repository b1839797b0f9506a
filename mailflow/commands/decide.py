"""Staff decisions from the command line: ``mailflow queue approve|reject|…``, export and revoke.

Each action builds the command line a staff reply would carry and runs it through the
same parser and :func:`mailflow.review.decisions.apply_command`, so the CLI cannot do
what a reply could not, and both leave the same audit entry (channel ``cli``).
"""

from __future__ import annotations

import argparse
import getpass
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailflow.config import Config
from mailflow.db import migrate
from mailflow.db.models import Mentor, ReviewItem
from mailflow.db.session import make_engine, make_session_factory, transaction
from mailflow.outbound.templates import Renderer
from mailflow.registry.mentors import REVOCATION_REASONS, find_by_number
from mailflow.review import states
from mailflow.review.commands import REGISTRY, ParseFailure, parse_command
from mailflow.review.decisions import DecisionContext, apply_command, revoke_registration
from mailflow.review.export import export_workbook
from mailflow.storage import DocumentStore, load_key

logger = logging.getLogger(__name__)

# The reply commands the queue offers; revocation concerns a mentor, not an item, and
# lives under ``mailflow registry revoke``.
QUEUE_COMMANDS = ("approve", "reject", "return", "received", "resubmit", "hold", "resume", "note", "done")


@dataclass
class CliServices:
    """The services a decision needs, built from the config without the mailbox."""

    config: Config
    renderer: Renderer
    store: DocumentStore
    key: bytes | None = None


def open_sessions(config: Config) -> sessionmaker[Session]:
    engine = make_engine(config.database_url, config.database.busy_timeout_ms)
    migrate.upgrade(engine)
    return make_session_factory(engine)


def open_services(config: Config) -> CliServices:
    key_file = config.privacy.encryption_key_file
    key = load_key(config.resolve(key_file)) if key_file else None
    store = DocumentStore(config.data_dir / "documents", key)
    return CliServices(config, Renderer(config.templates_dir), store, key)


def find_item(session, reference: str) -> ReviewItem | None:
    """Return the item with receipt number ``reference`` (e.g. 2026-0012) or that id, or None."""
    item = session.scalar(select(ReviewItem).where(ReviewItem.number == reference))
    if item is None and reference.isdigit():
        item = session.get(ReviewItem, int(reference))
    return item


def register_decisions(actions) -> None:
    """Add one sub-command per queue command, with its arguments."""
    for name in QUEUE_COMMANDS:
        command = REGISTRY.by_name(name)
        parser = actions.add_parser(name, help=f"{command.description}（返信の「{command.usage}」と同じ）")
        parser.add_argument("item", help="受付番号（例 2026-0012）または案件ID")
        if command.argument == "text":
            parser.add_argument("text", nargs="+", help="理由・内容・本文")
        elif command.argument == "optional_text":
            parser.add_argument("text", nargs="*", help="メモとして残す文（省略できます）")
        elif command.argument == "documents":
            parser.add_argument("documents", nargs="+", help="書類: 申請書、誓約書、本人確認書類")
        elif command.argument == "document_and_text":
            parser.add_argument("document", help="書類: 申請書、誓約書、本人確認書類")
            parser.add_argument("text", nargs="+", help="再提出をお願いする理由")
        elif command.argument == "override":
            parser.add_argument("--force", action="store_true",
                                help="要確認の案件を、理由を確認したうえで承認します（返信の「承認 確認済」と同じ。"
                                     "記録に残ります）。書類がそろっていない案件は承認しません")
            parser.add_argument("--note", help="--force で承認するときに記録に残す説明（例 窓口で原本を確認）")
        _add_actor(parser)
        parser.set_defaults(handler=run_decision, command_name=name)


def register_export(actions) -> None:
    parser = actions.add_parser("export", help="審査案件と登録簿を Excel ファイルに書き出します（個人情報を含みます）")
    parser.add_argument("file", help="書き出すファイル（例 queue.xlsx）。権限 0600 で作ります")
    parser.add_argument("--open-only", action="store_true", help="未完了の案件だけを書き出します")
    parser.set_defaults(handler=run_export)


def add_revoke_parser(actions) -> None:
    """Add ``revoke MENTOR --reason …`` to the ``mailflow registry`` actions."""
    reasons = "、".join(f"{code}（{wording}）" for code, wording in REVOCATION_REASONS.items())
    parser = actions.add_parser("revoke", help="局の判断でメンターの登録を取り消し、本人に通知します")
    parser.add_argument("mentor", help="登録番号（例 MM-2026-0001）またはメンターID")
    parser.add_argument("--reason", required=True, help=f"取り消しの理由。次の記号か、理由の文章: {reasons}")
    _add_actor(parser)
    parser.set_defaults(handler=run_revoke)


def _add_actor(parser) -> None:
    parser.add_argument("--actor", default=None, help="記録に残す操作者の名前（既定は OS のユーザー名）")


def command_line(args: argparse.Namespace) -> str:
    """Return the reply line equivalent to ``args``, e.g. ``"reject 年齢の要件"``.

    ``approve --force --note 窓口で確認`` becomes ``"approve 確認済 窓口で確認"``.
    """
    parts = [args.command_name]
    parts += getattr(args, "documents", None) or []
    parts += [args.document] if getattr(args, "document", None) else []
    parts += getattr(args, "text", None) or []
    parts += ["確認済"] if getattr(args, "force", False) else []
    parts += [args.note] if getattr(args, "note", None) else []
    return " ".join(parts)


def run_decision(args: argparse.Namespace, config: Config) -> int:
    if getattr(args, "note", None) and not args.force:
        print("エラー: --note は --force と一緒に指定してください")
        return 2
    parsed = parse_command(command_line(args))
    if isinstance(parsed, ParseFailure):
        print(f"エラー: {parsed.message}")
        return 2
    services = open_services(config)
    actor = args.actor or getpass.getuser()
    with transaction(open_sessions(config)) as session:
        item = find_item(session, args.item)
        if item is None:
            print(f"案件 {args.item} が見つかりません（mailflow queue list で受付番号を確認してください）")
            return 1
        context = DecisionContext(session, services, actor=actor, channel="cli")
        result = apply_command(context, item, parsed)
        print(f"{item.number}: {result.summary}（状態: {states.LABELS.get(item.state, item.state)}）")
    return 0


def run_export(args: argparse.Namespace, config: Config) -> int:
    with open_sessions(config)() as session:
        items, mentors = export_workbook(session, Path(args.file), include_closed=not args.open_only)
    print(f"{args.file} に書き出しました（案件 {items} 件、登録簿 {mentors} 人）")
    return 0


def run_revoke(args: argparse.Namespace, config: Config) -> int:
    services = open_services(config)
    actor = args.actor or getpass.getuser()
    with transaction(open_sessions(config)) as session:
        mentor = find_by_number(session, args.mentor)
        if mentor is None and args.mentor.isdigit():
            mentor = session.get(Mentor, int(args.mentor))
        if mentor is None:
            print(f"メンター {args.mentor} が登録簿に見つかりません（登録番号を確認してください）")
            return 1
        context = DecisionContext(session, services, actor=actor, channel="cli")
        result = revoke_registration(context, mentor, args.reason)
        print(result.summary)
    return 0
