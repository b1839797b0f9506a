"""``mailflow purge``: delete the documents and raw mails whose retention period ended.

The daemon runs the same purge once a day; this command runs it at once, or with
``--dry-run`` shows what is due without deleting anything. The copies in the mailbox
folders are replaced at the daemon's next intake pass (or the next ``run --once``),
which owns the mailbox connection.
"""

from __future__ import annotations

import argparse
import getpass

from mailflow import clock
from mailflow.commands.decide import open_services, open_sessions
from mailflow.config import Config
from mailflow.privacy.mailbox_copies import pending_count
from mailflow.privacy.retention import RetentionPolicy, RetentionReport, outbox_folder, run_retention

ROLE_LABELS = {
    "registration_form": "登録申請書",
    "pledge_form": "誓約書",
    "identity_document": "本人確認書類",
    "challenge_list": "課題一覧",
    "attendance_form": "出席希望登録票",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "purge", help="保存期間を過ぎた書類と受信メールを削除します",
        description="設定の [privacy] に従い、保存期間を過ぎた本人確認書類・その他の書類・受信メールの原本を"
                    "削除し、記録に残します。デーモンも毎日同じ処理を行います。",
    )
    parser.add_argument("--dry-run", action="store_true", help="削除せずに、削除の対象だけを表示します")
    parser.add_argument("--actor", default=None, help="記録に残す操作者の名前（既定は OS のユーザー名）")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    services = open_services(config)
    sessions = open_sessions(config)
    policy = RetentionPolicy.from_config(config.privacy)
    actor = args.actor or getpass.getuser()
    report = run_retention(sessions, services.store, services.key, policy, clock.now(), dry_run=args.dry_run,
                           actor=actor, outbox_dir=outbox_folder(config))
    print("\n".join(report_lines(report)))
    if not args.dry_run:
        with sessions() as session:
            waiting = pending_count(session)
        if waiting:
            print(f"メールボックスの写し {waiting} 通は、次の受信処理で置き換えるか削除します")
    return 1 if report.failed_documents or report.failed_messages else 0


def report_lines(report: RetentionReport) -> list[str]:
    """Return the Japanese lines that list what is due, and what was purged unless it was a dry run."""
    lines = []
    for entry in report.due_documents:
        due = entry.due_at.astimezone(clock.TOKYO).strftime("%Y-%m-%d")
        lines.append(f"書類 [{entry.document_id}] 受付番号 {entry.item_number or '-'} "
                     f"{ROLE_LABELS.get(entry.role, entry.role)}（保存期限 {due}）")
    for entry in report.due_messages:
        due = entry.due_at.astimezone(clock.TOKYO).strftime("%Y-%m-%d")
        lines.append(f"受信メール [{entry.inbound_id}]（保存期限 {due}）")
    if not lines:
        return ["保存期間を過ぎた書類と受信メールはありません"]
    if report.dry_run:
        summary = (f"削除の対象: 書類 {len(report.due_documents)} 件、受信メール {len(report.due_messages)} 通"
                   "（--dry-run のため削除していません）")
        return [*lines, summary]
    lines.append(f"削除しました: 書類 {len(report.purged_documents)} 件、受信メール {len(report.purged_messages)} 通")
    failed = report.failed_documents + report.failed_messages
    if failed:
        lines.append(f"削除できなかったもの: 書類 {len(report.failed_documents)} 件、受信メール "
                     f"{len(report.failed_messages)} 通（ログを確認し、もう一度実行してください）")
    return lines
