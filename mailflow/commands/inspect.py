"""``mailflow inspect``: parse and judge one .eml or document without touching any state."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mailflow.config import Config
from mailflow.intake.analyze import load_intake_rules
from mailflow.intake.attachments import OTHER, AttachmentRules, load_attachment_rules
from mailflow.intake.forms.inspect import inspect_document
from mailflow.intake.report import message_report
from mailflow.intake.sniff import sniff
from mailflow.review.mailings import KIND_LABELS

# Message kinds: the review item kinds, and the kinds that never become an item.
MESSAGE_KIND_LABELS = {
    **KIND_LABELS,
    "staff_reply": "職員の返信",
    "auto_reply": "自動応答",
    "bounce": "配送エラーの通知",
}
# Decisions of intake on a message or document.
DECISION_LABELS = {
    "process": "通常どおり処理",
    "manual_review": "要確認として職員に回す",
    "ignore_auto_reply": "自動応答のため返信しない",
    "bounce": "配送エラーとして記録",
}
OTHER_DOCUMENT_LABEL = "その他"
# Label of an archive or a mail part, which is not judged itself because its members are.
NO_KIND = "（種類の判定なし）"
NO_FILENAME = "（ファイル名なし）"
# File formats by the sniffed type; others print as the upper-cased type ("PDF", "JPEG").
FORMAT_LABELS = {
    "xlsx": "Excel（xlsx）", "xlsm": "Excel（xlsm、マクロ付き）", "xls": "Excel（xls）",
    "docx": "Word（docx）", "doc": "Word（doc）", "pptx": "PowerPoint（pptx）",
    "ole": "Office 形式（旧形式）", "office_encrypted": "パスワード付きの Office 文書",
    "text": "テキスト", "html": "HTML", "eml": "メール", "tnef": "Outlook の添付形式（TNEF）",
    "unknown": "不明な形式",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "inspect", help="メールや書類を1件読み取り、判定結果を表示します（データベースは変更しません）",
        description="メール（.eml）または書類（Excel、Word、PDF、画像）を読み取り、"
                    "文字の復号、種類の判定、申請書の内容、警告を表示します。状態は何も変更しません。",
    )
    parser.add_argument("file", metavar="FILE", help="読み取るファイル（.eml または書類）")
    parser.add_argument("--json", action="store_true", help="結果を JSON で出力します（キーは README に記載）")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    path = Path(args.file)
    try:
        payload = path.read_bytes()
    except OSError as exc:
        print(f"エラー: ファイル {path} を読めません（{exc.strerror}）")
        return 1
    if sniff(payload) in ("eml", "text") or path.suffix.lower() == ".eml":
        report = message_report(payload, load_intake_rules(config.rules_dir))
    else:
        report = inspect_document(payload, path.name, rules_dir=config.rules_dir)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    else:
        labels = document_labels(load_attachment_rules(config.rules_dir))
        print(render_text(report, labels))
    return 0


def document_labels(rules: AttachmentRules) -> dict[str, str]:
    """Return the Japanese label of every attachment kind, as the rules file names them."""
    return {rule.name: rule.label for rule in rules.kinds} | {OTHER: OTHER_DOCUMENT_LABEL}


def render_text(report: dict, labels: dict[str, str]) -> str:
    """Return the Japanese text of a report; ``labels`` maps attachment kinds to their labels.

    The codes that ``--json`` prints (kinds and decisions) appear as Japanese labels here.
    A code without a label is printed as it is, so a new kind still shows.
    """
    lines = []
    if "message_kind" in report:
        sender = report.get("from") or {}
        kind = MESSAGE_KIND_LABELS.get(report["message_kind"], report["message_kind"])
        lines += [
            f"件名: {report['subject']}",
            f"差出人: {_sender(sender)}",
            f"日時: {report['date']}",
            f"種類: {kind}（判定: {DECISION_LABELS.get(report['decision'], report['decision'])}）",
        ]
        lines += _attachment_lines(report["attachments"], labels, depth=0)
    else:
        kind = labels.get(report["kind"], report["kind"])
        lines += [f"形式: {_format_label(report['sniffed_type'])}",
                  f"種類: {kind}（判定: {DECISION_LABELS.get(report['decision'], report['decision'])}）"]
    for reason in report.get("reasons", []):
        lines.append(f"理由: {reason}")
    for warning in report.get("warnings", []):
        lines.append(f"警告: {warning['message']}")
    for reason in report.get("needs_attention", []):
        lines.append(f"要確認: {reason}")
    for defect in report.get("defects", []):
        lines.append(f"読み取りの問題: {defect}")
    return "\n".join(lines)


def _attachment_lines(attachments: list[dict], labels: dict[str, str], depth: int) -> list[str]:
    """Return one line per attachment, with the members of an archive indented below it."""
    lines = []
    for attachment in attachments:
        name = attachment["filename"] or NO_FILENAME
        kind = labels.get(attachment["kind"], attachment["kind"]) if attachment["kind"] else NO_KIND
        facts = [_format_label(attachment["sniffed_type"]), f"{attachment['size']:,} バイト"]
        if attachment.get("encrypted"):
            facts.append("パスワード付き")
        lines.append(f"{'  ' * depth}添付: {name}（{'、'.join(facts)}） → {kind}")
        lines += _attachment_lines(attachment.get("attachments", []), labels, depth + 1)
    return lines


def _sender(sender: dict) -> str:
    """Return "name <address>", or the address alone when the mail gives no name."""
    if sender.get("name"):
        return f"{sender['name']} <{sender.get('address', '')}>"
    return sender.get("address", "")


def _format_label(sniffed_type: str | None) -> str:
    """Return the file format name staff read: "PDF", "Excel（xlsx）", "不明な形式"."""
    if sniffed_type is None:
        return FORMAT_LABELS["unknown"]
    return FORMAT_LABELS.get(sniffed_type, sniffed_type.upper())
