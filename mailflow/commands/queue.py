"""``mailflow queue``: the review queue as staff see it from the command line, and their decisions.

``approve``, ``reject``, ``return``, ``received``, ``resubmit``, ``hold``, ``resume``,
``note`` and ``done`` apply the same commands as a staff reply, through the same functions, so the
effects and the audit trail are the same; the actor is the OS user or ``--actor``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import unicodedata

from sqlalchemy import select

from mailflow import clock
from mailflow.commands.decide import (
    find_item,
    open_services,
    open_sessions,
    register_decisions,
    register_export,
)
from mailflow.commands.queue_open import register_open
from mailflow.config import Config
from mailflow.db.models import Document, InboundMessage, ReviewItem
from mailflow.intake.findings import DOCUMENT_LABELS, DOCUMENT_ROLES
from mailflow.review import events as event_review
from mailflow.review import states
from mailflow.review.form_view import form_lines
from mailflow.review.held_files import describe_file
from mailflow.review.mailings import KIND_LABELS
from mailflow.review.notify import PROVENANCE_KINDS
from mailflow.review.provenance import SenderProvenance, item_sender_provenance

# Every state as 「書類待ち（incomplete）」, for help and error text.
STATE_CHOICES = "、".join(f"{label}（{code}）" for code, label in states.LABELS.items())


def parse_state(value: str) -> str:
    """Return the state code that ``value`` names, as a code (``incomplete``) or as its label (書類待ち).

    Raises argparse.ArgumentTypeError, listing every state, for any other value.
    """
    text = unicodedata.normalize("NFKC", value).strip()
    if text.lower() in states.LABELS:
        return text.lower()
    for code, label in states.LABELS.items():
        if text == label:
            return code
    raise argparse.ArgumentTypeError(f"状態「{value}」はありません。次のいずれかで指定してください: {STATE_CHOICES}")


def document_number(value: str) -> int:
    """Parse the number of a stored document, as ``queue show`` prints it in brackets."""
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"「{value}」は書類の番号ではありません。queue show の「受け取ったファイル」の"
                                         " [ ] 内の数字を指定してください（受付番号ではありません）")
    return int(value)


def register(subparsers) -> None:
    parser = subparsers.add_parser("queue", help="審査キューの表示と操作")
    actions = parser.add_subparsers(dest="queue_command", metavar="ACTION", title="操作")

    listing = actions.add_parser("list", help="案件の一覧を表示します（既定では未完了の案件のみ）")
    listing.add_argument("--all", action="store_true", help="承認・却下済みの案件も表示します")
    listing.add_argument("--state", type=parse_state, metavar="状態",
                         help=f"この状態の案件だけ表示します。一覧の表記か英字で指定します: {STATE_CHOICES}")
    listing.add_argument("--json", action="store_true", help="JSON で出力します")
    listing.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="案件の詳細を表示します")
    show.add_argument("item", help="受付番号（例 2026-0012）または案件ID")
    show.add_argument("--json", action="store_true", help="JSON で出力します")
    show.set_defaults(handler=run_show)

    quarantine = actions.add_parser("quarantine", help="隔離したメールの一覧を表示します")
    quarantine.set_defaults(handler=run_quarantine)

    document = actions.add_parser(
        "document", help="受け取った書類を1件ファイルに書き出します（queue show の [番号]。記録に残ります）")
    document.add_argument("document_id", type=document_number, help="書類の番号（queue show の「受け取ったファイル」の [ ] 内）")
    document.add_argument("--output", required=True, metavar="FILE",
                          help="書き出し先のファイル（既にあるファイルには上書きしません）")
    document.add_argument("--actor", default=None, help="記録に残す操作者（既定は OS のユーザー名）")
    document.set_defaults(handler=run_document)

    register_decisions(actions)
    register_open(actions)
    register_export(actions)


def item_summary(item: ReviewItem) -> dict:
    created = clock.as_utc(item.created_at)
    return {
        "id": item.id,
        "number": item.number,
        "kind": item.kind,
        "state": item.state,
        "applicant_name": item.applicant_name or item.sender_name,
        "sender_address": item.sender_address,
        "created_at": created.isoformat() if created else None,
        "checklist": item.checklist,
        "warnings": [warning["code"] for warning in item.warnings or []],
    }


def run_list(args: argparse.Namespace, config: Config) -> int:
    sessions = open_sessions(config)
    with sessions() as session:
        query = select(ReviewItem).order_by(ReviewItem.id)
        if args.state:
            query = query.where(ReviewItem.state == args.state)
        elif not args.all:
            query = query.where(ReviewItem.state.in_(sorted(states.OPEN)))
        items = list(session.scalars(query))
        if args.json:
            print(json.dumps([item_summary(item) for item in items], ensure_ascii=False, indent=2))
            return 0
        if not items:
            print("該当する案件はありません")
            return 0
        print(f"{'受付番号':<10} {'種別':<6} {'状態':<6} {'受付日':<10} {'書類':<5} 申請者")
        for item in items:
            created = clock.as_utc(item.created_at).astimezone(clock.TOKYO).strftime("%Y-%m-%d")
            documents = "".join("〇" if (item.checklist or {}).get(role) else "×" for role in DOCUMENT_ROLES) \
                if item.checklist else "-"
            print(f"{item.number:<13} {KIND_LABELS.get(item.kind, item.kind):<6} "
                  f"{states.LABELS.get(item.state, item.state):<6} {created:<12} {documents:<5} "
                  f"{item.applicant_name or item.sender_name or ''}")
    return 0


def run_show(args: argparse.Namespace, config: Config) -> int:
    sessions = open_sessions(config)
    with sessions() as session:
        item = find_item(session, args.item)
        if item is None:
            print(f"案件 {args.item} が見つかりません（mailflow queue list で受付番号を確認してください）")
            return 1
        documents = list(session.scalars(select(Document).where(Document.item_id == item.id).order_by(Document.id)))
        messages = list(session.scalars(select(InboundMessage).where(InboundMessage.item_id == item.id)
                                        .order_by(InboundMessage.id)))
        if args.json:
            data = item_summary(item) | {
                "form_values": item.form_values,
                "warnings": item.warnings,
                "reasons": item.reasons,
                "manual_checks": item.manual_checks,
                "details": {k: v for k, v in (item.details or {}).items() if k != "batches"},
                "documents": [{"id": d.id, "role": d.role, "filename": d.filename, "kept": d.kept,
                               "identity_type": d.identity_type, "size": d.size} for d in documents],
                "messages": [m.id for m in messages],
            }
            print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
            return 0
        provenance = None
        if item.kind in PROVENANCE_KINDS:
            provenance = item_sender_provenance(session, open_services(config), item)
        print(render_item_text(item, documents, provenance))
    return 0


def provenance_lines(provenance: SenderProvenance | None) -> list[str]:
    """Return the 差出人の確認 lines of a change notice or withdrawal."""
    if provenance is None:
        return ["差出人の確認: 元のメールが残っていないため、送信元の認証を確認できません"]
    lines = ["差出人の確認:", f"  送信元の認証: {provenance.verdict_label}（{provenance.source}）"]
    lines.extend(f"    {result}" for result in provenance.results)
    lines.extend(f"  {other.header}: {other.address}（差出人と異なります）" for other in provenance.other_addresses)
    lines.extend(f"  ・{caution}" for caution in provenance.cautions)
    return lines


def render_item_text(item: ReviewItem, documents: list[Document],
                     provenance: SenderProvenance | None = None) -> str:
    """Return ``mailflow queue show`` text; ``provenance`` is shown for change notices and withdrawals."""
    lines = [
        f"受付番号: {item.number}",
        f"種別: {KIND_LABELS.get(item.kind, item.kind)}",
        f"状態: {states.LABELS.get(item.state, item.state)}",
        f"差出人: {item.sender_name or ''} <{item.sender_address or ''}>",
    ]
    if item.kind in PROVENANCE_KINDS:
        lines.extend(provenance_lines(provenance))
    lines.extend(event_review.show_lines(item))
    if item.checklist:
        lines.append("書類:")
        for role in DOCUMENT_ROLES:
            mark = "〇" if item.checklist.get(role) else "×"
            post = "（郵送予定）" if role in (item.by_post or []) else ""
            lines.append(f"  {mark} {DOCUMENT_LABELS[role]}{post}")
    for key, label in (("attention", "要確認の理由"),):
        values = (item.details or {}).get(key) or []
        if values:
            lines.append(f"{label}:")
            lines.extend(f"  ・{value}" for value in values)
    answered = (item.details or {}).get("attendance_event")
    if answered:
        lines.append(f"交流会: {answered['number']} {answered.get('name') or ''}（開催案内への返信）")
    lines.extend(reply_lines((item.details or {}).get("replies") or []))
    if item.warnings:
        lines.append("注意:")
        lines.extend(f"  ・{warning['message']}" for warning in item.warnings)
    if item.manual_checks:
        lines.append("担当者の確認事項:")
        lines.extend(f"  ・{check}" for check in item.manual_checks)
    form = form_lines(item.form_values or {})
    if form:
        lines.append("申請書の内容:")
        lines.extend(form)
    if documents:
        lines.append("受け取ったファイル:")
        lines.extend(document_lines(documents))
    return "\n".join(lines)


def document_lines(documents: list[Document]) -> list[str]:
    """Return one line per document, or per run of documents described alike.

    A run (a zip of 100 empty files, for example) is one line with its first and last
    number and the count.
    """
    runs: list[tuple[list[int], str]] = []
    for document in documents:
        text = describe_file(document) + ("" if document.kept else "（保存していません）")
        if runs and runs[-1][1] == text:
            runs[-1][0].append(document.id)
        else:
            runs.append(([document.id], text))
    return [f"  [{ids[0]}] {text}" if len(ids) == 1 else f"  [{ids[0]}〜{ids[-1]}] {text}（同じものが {len(ids)} 件）"
            for ids, text in runs]


def reply_lines(replies: list[dict]) -> list[str]:
    """Return the text of replies that came without documents, as filing kept it (quotes cut, numbers masked)."""
    if not replies:
        return []
    lines = ["書類なしで届いた返信の本文:"]
    for reply in replies:
        received = reply.get("received_at") or ""
        try:
            received = dt.datetime.fromisoformat(received).astimezone(clock.TOKYO).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            pass
        lines.append(f"  {received} 受信:")
        lines.extend(f"  | {line}" for line in reply.get("lines") or ["（本文はありません）"])
    return lines


def run_document(args: argparse.Namespace, config: Config) -> int:
    """Write one stored document to a file for a staff member, and audit who took it."""
    import getpass
    import os
    from pathlib import Path

    from mailflow.db.models import AuditEntry
    from mailflow.db.session import transaction

    sessions = open_sessions(config)
    services = open_services(config)
    output = Path(args.output)
    with transaction(sessions) as session:
        document = session.get(Document, args.document_id)
        if document is None:
            print(f"書類 {args.document_id} が見つかりません（mailflow queue show で番号を確認してください）")
            return 1
        if document.storage_id is None:
            print(f"書類 {args.document_id} は保存していません（{document.purge_reason or '保存対象外'}）")
            return 1
        content = services.store.get(document.storage_id)
        try:
            descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            print(f"{output} は既にあります。別のファイル名を指定してください")
            return 1
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        session.add(AuditEntry(item_id=document.item_id, actor=args.actor or getpass.getuser(),
                               action="document_exported", outcome="applied",
                               detail={"document_id": document.id, "channel": "cli"}))
    note = f"（{document.held_reason}。開く前に内容に注意してください）" if document.held_reason else ""
    print(f"書類 {args.document_id} を {output} に書き出しました{note}")
    return 0


def run_quarantine(args: argparse.Namespace, config: Config) -> int:
    sessions = open_sessions(config)
    with sessions() as session:
        rows = list(session.scalars(select(InboundMessage).where(InboundMessage.state.in_(("quarantined", "failed")))
                                    .order_by(InboundMessage.id)))
        if not rows:
            print("隔離したメールはありません")
            return 0
        for row in rows:
            received = clock.as_utc(row.received_at).astimezone(clock.TOKYO).strftime("%Y-%m-%d %H:%M")
            print(f"[{row.id}] {received} {row.sender_address or '(差出人不明)'}: {row.error or ''}")
    return 0
