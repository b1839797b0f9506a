"""Dovecot, PostgreSQL and aiosmtpd on 127.0.0.1 for the benchmarks, started with the test launchers.

The classes of ``tests/servers.py`` do the work: each server gets a free port on
127.0.0.1 and a private folder, and is stopped by its pid (or its thread, for aiosmtpd)
when the ExitStack closes.
"""

from __future__ import annotations

import shutil
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from mailflow.config import Config

from tests.integration.test_intake_imap import USER, imap_config
from tests.servers import (
    INSTALL_HINT,
    DovecotServer,
    PostgresServer,
    SmtpServer,
    make_certificate,
    postgres_bindir,
    private_directory,
    running,
    unprivileged_account,
)


@dataclass
class ServerSet:
    """The three servers of the production-like set-up."""

    dovecot: DovecotServer
    postgres: PostgresServer
    smtp: SmtpServer

    def app_config(self, folder: Path) -> Config:
        """Return a config that reads the ``intake`` inbox, sends to the SMTP server and uses a new database."""
        return imap_config(folder, self.dovecot, self.smtp, self.postgres.fresh_database())

    def load_inbox(self, raws: list[bytes]) -> None:
        """Empty the mailbox and the SMTP server's record, then APPEND ``raws`` to INBOX in order."""
        self.dovecot.reset(USER)
        self.smtp.reset()
        with self.dovecot.client(USER) as client:
            for raw in raws:
                client.append("INBOX", raw)

    def versions(self) -> dict[str, str]:
        return {"Dovecot": _first_line(["dovecot", "--version"]),
                "PostgreSQL": _first_line([str(self.postgres.bindir / "postgres"), "--version"])}


def start_servers(stack: ExitStack, workdir: Path) -> tuple[ServerSet | None, str]:
    """Start the three servers, each stopped when ``stack`` closes.

    Returns ``(servers, "")``, or ``(None, reason)`` when Dovecot or PostgreSQL is not
    installed, so that the caller can measure the other set-up alone.
    """
    if shutil.which("dovecot") is None or shutil.which("doveadm") is None:
        return None, f"Dovecot is not installed ({INSTALL_HINT})"
    bindir = postgres_bindir()
    if bindir is None:
        return None, f"PostgreSQL is not installed ({INSTALL_HINT})"
    tls = workdir / "tls"
    tls.mkdir()
    dovecot = stack.enter_context(running(DovecotServer(private_directory("mailflow-dovecot-", None),
                                                        make_certificate(tls))))
    account = unprivileged_account("postgres")
    postgres = stack.enter_context(running(PostgresServer(private_directory("mailflow-postgres-", account), bindir)))
    smtp = SmtpServer()
    smtp.start()
    stack.callback(smtp.stop)
    return ServerSet(dovecot, postgres, smtp), ""


def _first_line(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except OSError as error:
        return f"unknown ({type(error).__name__})"
    return (completed.stdout or completed.stderr).strip().splitlines()[0] if (completed.stdout or completed.stderr) else "unknown"
