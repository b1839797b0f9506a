"""``mailflow inspect``: parse and judge one .eml or document without touching any state."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mailflow.config import Config
from mailflow.intake.analyze import load_intake_rules
from mailflow.intake.forms.inspect import inspect_document
from mailflow.intake.report import message_report
from mailflow.intake.sniff import sniff


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
        print(_text(report))
    return 0


def _text(report: dict) -> str:
    lines = []
    if "message_kind" in report:
        sender = report.get("from") or {}
        lines += [
            f"件名: {report['subject']}",
            f"差出人: {sender.get('name', '')} <{sender.get('address', '')}>",
            f"日時: {report['date']}",
            f"種類: {report['message_kind']}（判定 {report['decision']}）",
        ]
        for attachment in report["attachments"]:
            lines.append(f"添付: {attachment['filename']} ({attachment['sniffed_type']}, {attachment['size']:,} バイト) "
                         f"→ {attachment['kind']}")
    else:
        lines += [f"形式: {report['sniffed_type']}", f"種類: {report['kind']}（判定 {report['decision']}）"]
    for reason in report.get("reasons", []):
        lines.append(f"理由: {reason}")
    for warning in report.get("warnings", []):
        lines.append(f"警告: {warning['message']}")
    for reason in report.get("needs_attention", []):
        lines.append(f"要確認: {reason}")
    for defect in report.get("defects", []):
        lines.append(f"読み取りの問題: {defect}")
    return "\n".join(lines)
