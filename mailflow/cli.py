"""Command line: parses arguments (help in Japanese) and calls the services."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from mailflow.config import Config, ConfigError, load_config
from mailflow.errors import MailflowError
from mailflow.privacy.log_format import MessageFreeTracebackFormatter

DEFAULT_CONFIG_NAMES = ("config.toml",)

Handler = Callable[[argparse.Namespace, Config], int]

# Exit status of a command whose stdout reader closed the pipe: 128 + SIGPIPE (13), the
# status a shell reports for a program that SIGPIPE ended.
BROKEN_PIPE_EXIT = 141


def find_config(explicit: str | None) -> Path | None:
    """Return the config file to use: --config, then $MAILFLOW_CONFIG, then ./config.toml."""
    if explicit:
        return Path(explicit)
    if os.environ.get("MAILFLOW_CONFIG"):
        return Path(os.environ["MAILFLOW_CONFIG"])
    for name in DEFAULT_CONFIG_NAMES:
        if Path(name).is_file():
            return Path(name)
    return None


def build_parser() -> argparse.ArgumentParser:
    from mailflow import cli_text
    from mailflow.commands import register_all

    cli_text.install()
    parser = argparse.ArgumentParser(
        prog="mailflow",
        description="マネジメントメンター登録の受付メールを処理するデーモンと管理コマンドです。",
    )
    parser.add_argument("--config", metavar="FILE",
                        help="設定ファイル（省略時は環境変数 MAILFLOW_CONFIG、次に ./config.toml。"
                             "どれもなければ組み込みの既定値）")
    parser.add_argument("--log-level", default=os.environ.get("MAILFLOW_LOG_LEVEL"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="ログの詳しさ（既定は run が INFO、その他のコマンドが WARNING）")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="コマンド")
    register_all(subparsers)
    return parser


def configure_logging(level: str, log_file: str | Path | None = None) -> None:
    """Log to stderr and, when configured, to ``log_file`` (its folder is created 0700)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file = Path(log_file)
        log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    formatter = MessageFreeTracebackFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    for handler in handlers:
        handler.setFormatter(formatter)
    logging.basicConfig(
        level=getattr(logging, level),
        handlers=handlers,
        force=True,
    )
    # Alembic reports every migration step at INFO; operators need only its warnings.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, getattr(logging, level)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        config = load_config(find_config(args.config)) if getattr(args, "needs_config", True) else Config()
    except ConfigError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    level = args.log_level or ("INFO" if args.command == "run" else "WARNING")
    log_file = config.resolve(config.paths.log_file) if config.paths.log_file else None
    try:
        configure_logging(level, log_file)
    except OSError as exc:
        print(f"エラー: ログファイル {log_file} を開けません（{exc.strerror}）。paths.log_file を確認してください",
              file=sys.stderr)
        return 2
    try:
        return args.handler(args, config)
    except MailflowError as exc:
        print(f"エラー: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def entry_point() -> int:
    """Run the CLI as a program: every file it creates (database, documents, outbox, logs)
    is for its owner only. Tests call :func:`main` and keep their own umask.

    When the reader of stdout goes away (``mailflow queue show ID | head -1``), return
    BROKEN_PIPE_EXIT quietly instead of printing a traceback.
    """
    os.umask(0o077)
    try:
        code = main()
        # Output still in the buffer reaches a closed pipe only here, so flush inside the try.
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit. Pointing stdout at devnull keeps that flush
        # from raising a second BrokenPipeError, which Python would print as "Exception ignored".
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE_EXIT
    return code
