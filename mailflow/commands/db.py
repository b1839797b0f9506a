"""``mailflow db``: database migrations."""

from __future__ import annotations

import argparse

from mailflow.config import Config
from mailflow.db import migrate
from mailflow.db.session import make_engine


def register(subparsers) -> None:
    parser = subparsers.add_parser("db", help="データベースの管理")
    actions = parser.add_subparsers(dest="db_command", metavar="ACTION", title="操作")
    upgrade = actions.add_parser("upgrade", help="データベースを最新の形式に更新します（何度実行しても安全です）")
    upgrade.set_defaults(handler=run_upgrade)
    current = actions.add_parser("current", help="データベースの形式の版を表示します")
    current.set_defaults(handler=run_current)


def run_upgrade(args: argparse.Namespace, config: Config) -> int:
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(config.database_url, config.database.busy_timeout_ms)
    try:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
        after = migrate.current_revision(engine)
    finally:
        engine.dispose()
    if before == after:
        print(f"データベースは最新です（版 {after}）")
    else:
        print(f"データベースを更新しました（版 {before or 'なし'} → {after}）")
    return 0


def run_current(args: argparse.Namespace, config: Config) -> int:
    engine = make_engine(config.database_url, config.database.busy_timeout_ms)
    try:
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    state = "最新" if current == head else f"更新が必要（最新は {head}。mailflow db upgrade を実行してください）"
    print(f"版 {current or 'なし'}: {state}")
    return 0 if current == head else 1
