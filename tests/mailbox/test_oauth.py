"""fetch_access_token: runs the token command without a shell and keeps the token out of errors."""

from __future__ import annotations

import logging
import shlex
import sys

import pytest

from mailflow.mailbox.oauth import TokenCommandError, fetch_access_token

TOKEN = "ya29.a0Af-test_token~value/with+chars=="


def python_command(code: str, *args: str) -> str:
    return shlex.join([sys.executable, "-c", code, *args])


def test_token_from_first_line():
    command = python_command(f"print({TOKEN!r}); print('refresh-token-not-wanted')")

    assert fetch_access_token(command) == TOKEN


def test_token_surrounding_blanks_stripped():
    command = python_command(f"print('  ' + {TOKEN!r} + '  ')")

    assert fetch_access_token(command) == TOKEN


def test_command_runs_without_shell():
    # A shell would run two commands and print "first" alone on line one.
    command = f"{shlex.quote(sys.executable)} -c 'import sys; print(*sys.argv[1:])' first; echo second"

    with pytest.raises(TokenCommandError, match="アクセストークンではありません"):
        fetch_access_token(command)


def test_arguments_reach_program_literally():
    command = python_command("import sys; print(sys.argv[1])", "$HOME")

    with pytest.raises(TokenCommandError, match="アクセストークンではありません"):
        fetch_access_token(command)


def test_stdin_is_closed():
    command = python_command("import sys; print(sys.stdin.read() or 'stdin-was-empty')")

    assert fetch_access_token(command) == "stdin-was-empty"


def test_nonzero_exit_reported():
    command = python_command(f"print({TOKEN!r}); raise SystemExit(4)")

    with pytest.raises(TokenCommandError, match="終了コード 4"):
        fetch_access_token(command)


def test_timeout_reported():
    command = python_command("import time; time.sleep(30)")

    with pytest.raises(TokenCommandError, match="0.5 秒以内に終わらなかった"):
        fetch_access_token(command, timeout=0.5)


def test_missing_program_reported():
    with pytest.raises(TokenCommandError, match="見つかりません"):
        fetch_access_token("/nonexistent/get-token --tenant bureau")


def test_empty_output_rejected():
    with pytest.raises(TokenCommandError, match="アクセストークンではありません"):
        fetch_access_token(python_command("pass"))


def test_empty_command_rejected():
    with pytest.raises(TokenCommandError, match="空です"):
        fetch_access_token("   ")


def test_unbalanced_quote_rejected():
    with pytest.raises(TokenCommandError, match="解釈できません"):
        fetch_access_token("get-token 'unclosed")


def test_errors_hide_arguments():
    command = python_command("raise SystemExit(1)", "--client-secret=s3cr3t-value")

    with pytest.raises(TokenCommandError) as failure:
        fetch_access_token(command)

    assert "s3cr3t-value" not in str(failure.value)


def test_token_never_logged(caplog):
    caplog.set_level(logging.DEBUG)

    fetch_access_token(python_command(f"print({TOKEN!r})"))

    assert not [record for record in caplog.records if TOKEN in record.getMessage()]
