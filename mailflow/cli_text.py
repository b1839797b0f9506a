"""Japanese text for argparse's own messages (usage, help headings and errors).

argparse looks its messages up through ``gettext`` at run time, and Python ships no
Japanese catalogue for them; this table gives the ones the CLI can show.
"""

from __future__ import annotations

import argparse

MESSAGES = {
    "usage: ": "使い方: ",
    "options": "オプション",
    "positional arguments": "引数",
    "show this help message and exit": "このヘルプを表示して終了します",
    "%(prog)s: error: %(message)s\n": "%(prog)s: エラー: %(message)s\n",
    "the following arguments are required: %s": "次の引数が必要です: %s",
    "unrecognized arguments: %s": "不明な引数です: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "%(value)r は選べません（次から選んでください: %(choices)s）",
    "expected one argument": "値を1つ指定してください",
    "argument %(argument_name)s: %(message)s": "引数 %(argument_name)s: %(message)s",
    "invalid %(type)s value: %(value)r": "%(value)r は %(type)s として不正です",
    "ambiguous option: %(option)s could match %(matches)s": "オプション %(option)s は %(matches)s のどれか決められません",
}


def japanese(message: str) -> str:
    return MESSAGES.get(message, message)


def install() -> None:
    """Make argparse print its own messages in Japanese."""
    argparse._ = japanese  # argparse calls the module-level ``_`` for every message
