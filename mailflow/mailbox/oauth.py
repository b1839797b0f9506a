"""Obtain an OAuth2 access token by running the command the configuration names.

Microsoft 365 and Google accept IMAP and SMTP logins only with an OAuth2 access token
(SASL XOAUTH2). mailflow does not run the OAuth2 flow itself: the operator configures a
command (for example a small script around MSAL or oauth2l) that prints a fresh access
token on its first output line. The token is a secret, so it never appears in a log line
or an error message.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess

from mailflow.errors import MailflowError

logger = logging.getLogger(__name__)

TOKEN_COMMAND_TIMEOUT_SECONDS = 30.0
"""Maximum run time of the token command; an interactive prompt would otherwise hang."""

# RFC 6750 section 2.1 (b64token): the only characters a bearer token may contain.
BEARER_TOKEN_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class TokenCommandError(MailflowError):
    """The token command could not be run, failed, timed out or printed no valid token."""


def fetch_access_token(command: str, timeout: float = TOKEN_COMMAND_TIMEOUT_SECONDS) -> str:
    """Run ``command`` without a shell and return the token on its first output line.

    ``command`` is split like a POSIX shell would split it (``shlex.split``), but no shell
    runs it, so ``;``, ``|`` and ``$(...)`` are passed to the program as plain text.
    Standard input is closed. Raises TokenCommandError when the program is missing, exits
    with a non-zero status, runs longer than ``timeout`` seconds, or prints no valid
    bearer token. The error names the program but never its arguments, which may carry a
    client secret.
    """
    try:
        args = shlex.split(command)
    except ValueError as exc:
        raise TokenCommandError(
            f"oauth2_command を解釈できません（{exc}）。引用符の対応を確認してください"
        ) from None
    if not args:
        raise TokenCommandError("oauth2_command が空です。アクセストークンを出力するコマンドを指定してください")
    program = args[0]

    try:
        completed = subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise TokenCommandError(
            f"oauth2_command のプログラム {program!r} が見つかりません。パスを確認してください", program=program
        ) from None
    except PermissionError:
        raise TokenCommandError(
            f"oauth2_command のプログラム {program!r} を実行できません。実行権限を確認してください", program=program
        ) from None
    except subprocess.TimeoutExpired:
        raise TokenCommandError(
            f"oauth2_command {program!r} が {timeout:g} 秒以内に終わらなかったため中止しました。"
            "対話的な入力を求めていないか確認してください",
            program=program,
        ) from None

    if completed.returncode != 0:
        # stderr is not quoted: a failing helper may print the refresh token or client secret.
        raise TokenCommandError(
            f"oauth2_command {program!r} が終了コード {completed.returncode} で失敗しました。"
            "コマンドを手動で実行して原因を確認してください",
            program=program,
            returncode=completed.returncode,
        )

    lines = completed.stdout.decode("ascii", errors="replace").splitlines()
    token = lines[0].strip() if lines else ""
    if not BEARER_TOKEN_RE.fullmatch(token):
        raise TokenCommandError(
            f"oauth2_command {program!r} の出力の 1 行目がアクセストークンではありません"
            "（空、または空白や記号を含んでいます）。1 行目にトークンだけを出力してください",
            program=program,
        )
    logger.debug("access token obtained from program=%s", program)
    return token
