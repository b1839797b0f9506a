"""``mailflow person``: export or erase what the bureau keeps about one person, at their request.

QUERY is a mail address, a registration number (MM-2026-0001) or a receipt number
(2026-0012). A query that reaches more than one person lists them and changes nothing;
run the command again with a registration or receipt number from the list.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from mailflow import clock
from mailflow.commands.decide import open_services, open_sessions
from mailflow.config import Config
from mailflow.db.session import transaction
from mailflow.privacy.erase import erase_person
from mailflow.privacy.export import export_person
from mailflow.privacy.mailbox_copies import pending_count
from mailflow.privacy.person import Lookup, Person, find_person
from mailflow.privacy.retention import outbox_folder

QUERY_HELP = "メールアドレス、登録番号（例 MM-2026-0001）または受付番号（例 2026-0012）"


def register(subparsers) -> None:
    parser = subparsers.add_parser("person", help="本人からの開示・削除の求めに応じます（個人情報保護法）")
    actions = parser.add_subparsers(dest="person_command", metavar="ACTION", title="操作")

    export = actions.add_parser(
        "export", help="本人について保有するすべての情報を zip ファイルに書き出します",
        description="登録簿、案件、書類（復号して）、受信・送信メール、処理の記録を、説明（README.txt）付きの"
                    "zip ファイルに書き出します。ファイルは権限 0600 で作り、既存のファイルは上書きしません。",
    )
    export.add_argument("query", metavar="QUERY", help=QUERY_HELP)
    export.add_argument("--output", metavar="FILE",
                        help="書き出す zip ファイル（既定 person-export-日時.zip を現在のフォルダーに）")
    _add_actor(export)
    export.set_defaults(handler=run_export)

    erase = actions.add_parser(
        "erase", help="本人について保有する情報を削除または匿名化します",
        description="書類・受信メール・送信メールを削除し、案件と登録簿の個人情報を消去します。処理の記録は"
                    "個人情報を除いて残し、削除したことも記録します。元に戻せません。先に --dry-run で確認してください。",
    )
    erase.add_argument("query", metavar="QUERY", help=QUERY_HELP)
    erase.add_argument("--dry-run", action="store_true", help="何も変えずに、削除の対象の件数と、対象の案件・登録を表示します")
    _add_actor(erase)
    erase.set_defaults(handler=run_erase)


def _add_actor(parser) -> None:
    parser.add_argument("--actor", default=None, help="記録に残す操作者の名前（既定は OS のユーザー名）")


def run_export(args: argparse.Namespace, config: Config) -> int:
    services = open_services(config)
    output = Path(args.output or f"person-export-{clock.now().astimezone(clock.TOKYO):%Y%m%d-%H%M%S}.zip")
    with transaction(open_sessions(config)) as session:
        lookup = find_person(session, args.query)
        if lookup.person is None:
            return _not_resolved(args.query, lookup)
        summary = export_person(session, services.store, services.key, lookup.person, output,
                                args.actor or getpass.getuser())
    print(f"{output} に書き出しました（案件 {summary.items} 件、書類 {summary.documents} 件、"
          f"受信メール {summary.mails_received} 通、送信メール {summary.mails_sent} 通、記録 {summary.audit_entries} 件）")
    print("個人情報を含むファイルです。本人に渡した後は削除してください。")
    return 0


def run_erase(args: argparse.Namespace, config: Config) -> int:
    services = open_services(config)
    sessions = open_sessions(config)
    outbox_dir = outbox_folder(config)
    with transaction(sessions) as session:
        lookup = find_person(session, args.query)
        if lookup.person is None:
            return _not_resolved(args.query, lookup)
        targets = target_lines(lookup.person)
        summary = erase_person(session, services.store, services.key, lookup.person,
                               args.actor or getpass.getuser(), outbox_dir, dry_run=args.dry_run)
    counts = (f"登録簿 {summary.mentors} 件、案件 {summary.items} 件、書類 {summary.documents} 件、"
              f"受信メール {summary.mails_received} 通、送信メール {summary.mails_sent} 通、記録 {summary.audit_entries} 件")
    if summary.dry_run:
        print(f"削除・匿名化の対象: {counts}（--dry-run のため何も変えていません）")
        print("\n".join(targets))
        return 0
    print(f"削除・匿名化しました: {counts}")
    print("\n".join(targets))
    with sessions() as session:
        waiting = pending_count(session)
    if waiting:
        print(f"メールボックスの写し {waiting} 通は、次の受信処理で削除します")
    return 0


def target_lines(person: Person) -> list[str]:
    """Return one line per registry entry and item of ``person``, so staff see whom the erasure reaches."""
    lines = [f"  登録番号 {mentor.registration_number or '-'} {mentor.name or ''} <{mentor.email or ''}>"
             for mentor in person.mentors]
    lines.extend(f"  受付番号 {item.number} {item.applicant_name or item.sender_name or '(氏名なし)'}"
                 f" 差出人 <{item.sender_address or ''}>" for item in person.items)
    return lines


def _not_resolved(query: str, lookup: Lookup) -> int:
    if not lookup.candidates:
        print(f"{query} に該当する記録はありません")
        return 1
    print(f"{query} には複数の人が該当するため、何もしていません。"
          "次のいずれかの登録番号か受付番号を指定して、もう一度実行してください:")
    for line in lookup.candidates:
        print(f"  {line}")
    return 1
