"""``mailflow run``: the daemon, or one pass with ``--once``."""

from __future__ import annotations

import argparse

from mailflow.app import App
from mailflow.config import Config


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run", help="受付メールボックスを監視し、受付・通知・送信を行います",
        description="受付メールボックスを監視し、届いたメールを審査キューに登録して受付メールを送ります。"
                    "SIGTERM または Ctrl-C で、処理中のメールを終えてから停止します。",
    )
    parser.add_argument("--once", action="store_true",
                        help="一巡だけ処理して終了します（受信、送信予定の作成、送信）。"
                             "まとめ待ち時間は待たずに受付メールを作ります")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    app = App(config)
    if args.once:
        try:
            intake, sent = app.run_once()
        finally:
            app.close()
        print(f"受信 {intake.fetched} 通（新規 {intake.new}、既知 {intake.known}、隔離 {intake.quarantined}）、"
              f"送信 {sent.sent} 通（再試行待ち {sent.retried}、失敗 {sent.failed}）")
        return 0
    from mailflow.daemon import Daemon

    daemon = Daemon(app)
    daemon.install_signal_handlers()
    return daemon.run()
