"""``mailflow key``: create the key that encrypts stored documents and raw mails."""

from __future__ import annotations

import argparse

from mailflow.config import Config
from mailflow.storage import generate_key, key_id


def register(subparsers) -> None:
    parser = subparsers.add_parser("key", help="書類と受信メールを暗号化する鍵の管理")
    actions = parser.add_subparsers(dest="key_command", metavar="ACTION", title="操作")
    generate = actions.add_parser(
        "generate", help="新しい鍵ファイルを作成します（権限 0600。既存のファイルは上書きしません）",
        description="AES-256 の鍵を作成し、PATH に権限 0600 で書き出します。PATH が既にあれば何もせずに終了します。",
    )
    generate.add_argument("path", metavar="PATH", help="作成する鍵ファイル（例 /etc/mailflow/mailflow.key）")
    generate.set_defaults(handler=run_generate, needs_config=False)


def run_generate(args: argparse.Namespace, config: Config) -> int:
    key = generate_key(args.path)
    print(f"鍵ファイル {args.path} を作成しました（鍵 ID {key_id(key)}）。")
    print("設定ファイルの [privacy] encryption_key_file にこのパスを指定してください。"
          "鍵を失うと暗号化した書類とメールを読めなくなるため、控えを安全な場所に保管してください。")
    return 0
