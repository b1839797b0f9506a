"""Crash safety and mailbox changes: nothing lost, nothing done twice.

The daemon runs as a real process (``python -m mailflow run --once``) that kills itself
with SIGKILL at a chosen point; the next run must reach the same end state as a run
without a crash.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailflow.app import App
from mailflow.db.models import InboundMessage, Outbox, ReviewItem

from tests.integration.harness import message_id_of, sample_mails
from tests.integration.test_intake_imap import USER, folders_by_message_id, imap_config

ROOT = Path(__file__).resolve().parents[2]

# Patches applied in the child process before the CLI runs: each kills the process at
# one point of the work, the way a power cut or an OOM kill would.
CRASH_POINTS = {
    # The message is committed to the database; the mailbox was not told yet.
    "after_commit": "App._finish_move",
    # Every message is filed and moved; no receipt has been sent.
    "before_send": "App.send",
    # Analysis of a message never returns (killed by the kernel, or hung and killed).
    "during_analysis": "App._analyse",
}

WRAPPER = textwrap.dedent("""
    import os, signal, sys
    from mailflow.app import App
    {patch} = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
    from mailflow.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def write_config(path: Path, config) -> Path:
    imap, smtp = config.mailbox.imap, config.outbound.smtp
    path.write_text(textwrap.dedent(f"""
        [bureau]
        staff_addresses = ["shinsa@bureau.example.jp"]
        [mailbox]
        type = "imap"
        [mailbox.imap]
        host = "{imap.host}"
        port = {imap.port}
        security = "plain"
        username = "{imap.username}"
        password = "{imap.password}"
        [outbound]
        type = "smtp"
        [outbound.smtp]
        host = "{smtp.host}"
        port = {smtp.port}
        security = "plain"
        auth = "none"
        [database]
        url = "{config.database.url}"
        [paths]
        data_dir = "{config.paths.data_dir}"
        [intake]
        settle_seconds = 0
    """), encoding="utf-8")
    return path


def run_cli(config_path: Path, crash_at: str | None = None) -> subprocess.CompletedProcess:
    if crash_at is None:
        code = "import sys; from mailflow.cli import main; sys.exit(main(sys.argv[1:]))"
    else:
        code = WRAPPER.format(patch=CRASH_POINTS[crash_at])
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(config_path), "run", "--once"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture
def server(request, tmp_path, dovecot, smtp_server):
    dovecot.reset(USER)
    config = imap_config(tmp_path, dovecot, smtp_server, f"sqlite:///{tmp_path / 'mailflow.db'}")
    return dovecot, smtp_server, config, write_config(tmp_path / "config.toml", config)


def counts(config) -> tuple[int, int, int]:
    """Return how many messages, items and receipts the database holds."""
    app = App(config)
    try:
        with app.sessions() as session:
            return (
                session.scalar(select(func.count()).select_from(InboundMessage)),
                session.scalar(select(func.count()).select_from(ReviewItem)),
                session.scalar(select(func.count()).select_from(Outbox).where(Outbox.kind.like("receipt%"))),
            )
    finally:
        app.close()


@pytest.mark.parametrize("crash_at", ["after_commit", "before_send"])
def test_crash_then_restart(server, crash_at):
    dovecot, smtp_server, config, config_path = server
    mails = [mail for mail in sample_mails() if mail.stem.startswith(("01", "08", "16"))]
    for mail in mails:
        dovecot.append(USER, "INBOX", mail.raw)

    crashed = run_cli(config_path, crash_at)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    finished = run_cli(config_path)
    assert finished.returncode == 0, finished.stderr[-2000:]

    inbound, items, outbox = counts(config)
    assert inbound == len(mails)
    assert items == len(mails)
    assert outbox == len(mails)
    assert dovecot.folder_messages(USER, "INBOX") == []
    folders = folders_by_message_id(dovecot)
    assert all(folders.get(mail.expected["message_id"]) == "processed" for mail in mails)
    receipts = [message for message in smtp_server.messages if "shinsa@bureau.example.jp" not in message.rcpt_tos]
    answered = [message_id_of(message.raw) for message in receipts]
    assert len(answered) == len(set(answered)) == len(mails)


def test_recreated_inbox_with_old_and_new_mail(server):
    dovecot, smtp_server, config, config_path = server
    config.mailbox.imap.inbox = "Arrivals"
    write_config(config_path, config)
    text = config_path.read_text(encoding="utf-8").replace('[mailbox.imap]\n', '[mailbox.imap]\ninbox = "Arrivals"\n')
    config_path.write_text(text, encoding="utf-8")
    old, new = sample_mails()[0], sample_mails()[7]
    dovecot.doveadm("mailbox", "create", "-u", USER, "Arrivals")
    dovecot.append(USER, "Arrivals", old.raw)
    assert run_cli(config_path).returncode == 0

    # The folder is deleted and made again (a new UIDVALIDITY); a restore brings the old
    # mail back beside a new one.
    dovecot.doveadm("mailbox", "delete", "-u", USER, "Arrivals")
    dovecot.doveadm("mailbox", "create", "-u", USER, "Arrivals")
    dovecot.append(USER, "Arrivals", old.raw)
    dovecot.append(USER, "Arrivals", new.raw)
    finished = run_cli(config_path)
    assert finished.returncode == 0, finished.stderr[-2000:]

    inbound, items, outbox = counts(config)
    assert inbound == 2
    assert items == 2
    assert outbox == 2
    assert dovecot.folder_messages(USER, "Arrivals") == []
    receipts = [message for message in smtp_server.messages if "shinsa@bureau.example.jp" not in message.rcpt_tos]
    assert len(receipts) == 2


def test_changed_uidvalidity_with_unmoved_mail(server):
    dovecot, smtp_server, config, config_path = server
    first, second = sample_mails()[0], sample_mails()[15]
    dovecot.append(USER, "INBOX", first.raw)
    crashed = run_cli(config_path, "after_commit")
    assert crashed.returncode == -signal.SIGKILL
    # The stored, unmoved message gets a new UID under a new UIDVALIDITY.
    status = dovecot.doveadm("mailbox", "status", "-u", USER, "uidvalidity", "INBOX")
    uidvalidity = int(status.split("uidvalidity=")[1].split()[0])
    dovecot.doveadm("mailbox", "update", "-u", USER, "--uid-validity", str(uidvalidity + 5), "INBOX")
    dovecot.append(USER, "INBOX", second.raw)

    finished = run_cli(config_path)
    assert finished.returncode == 0, finished.stderr[-2000:]
    inbound, items, outbox = counts(config)
    assert (inbound, items, outbox) == (2, 2, 2)
    assert dovecot.folder_messages(USER, "INBOX") == []


def test_message_that_kills_analysis_is_quarantined(server):
    dovecot, smtp_server, config, config_path = server
    poison = sample_mails()[0]
    dovecot.append(USER, "INBOX", poison.raw)
    from mailflow.app import MAX_INTAKE_ATTEMPTS

    for _ in range(MAX_INTAKE_ATTEMPTS):
        crashed = run_cli(config_path, "during_analysis")
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    finished = run_cli(config_path, "during_analysis")
    assert finished.returncode == 0, finished.stderr[-2000:]

    folders = folders_by_message_id(dovecot)
    assert folders.get(poison.expected["message_id"]) == "quarantine"
    app = App(config)
    try:
        with app.sessions() as session:
            inbound = session.scalars(select(InboundMessage)).one()
    finally:
        app.close()
    assert inbound.state == "quarantined"
    assert str(MAX_INTAKE_ATTEMPTS) in inbound.error
