"""The long-running daemon against Dovecot: IDLE, reconnects, and a graceful stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, select

from mailflow.app import App
from mailflow.daemon import Daemon
from mailflow.db.models import InboundMessage

from tests.integration.harness import sample_mails
from tests.integration.test_intake_imap import USER, imap_config
from tests.integration.test_recovery import ROOT, write_config

FILED_WITHIN_SECONDS = 5.0


def stored_count(app: App) -> int:
    with app.sessions() as session:
        return session.scalar(select(func.count()).select_from(InboundMessage))


def wait_until(predicate, timeout: float) -> float | None:
    """Return the seconds it took for ``predicate`` to hold, or None after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.05)
    return None


@pytest.fixture
def daemon(tmp_path, dovecot, smtp_server):
    dovecot.reset(USER)
    config = imap_config(tmp_path, dovecot, smtp_server, f"sqlite:///{tmp_path / 'mailflow.db'}")
    config.mailbox.imap.poll_interval_seconds = 3600
    app = App(config)
    daemon = Daemon(app)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    yield daemon, app, dovecot
    daemon.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_idle_files_new_mail(daemon):
    _, app, dovecot = daemon
    assert wait_until(lambda: app._source_connected, 10) is not None
    time.sleep(0.5)  # let the watcher enter IDLE
    dovecot.append(USER, "INBOX", sample_mails()[0].raw)
    took = wait_until(lambda: stored_count(app) == 1, FILED_WITHIN_SECONDS)
    assert took is not None


def test_reconnects_after_kick(daemon):
    _, app, dovecot = daemon
    assert wait_until(lambda: app._source_connected, 10) is not None
    time.sleep(0.5)
    dovecot.doveadm("kick", USER)
    time.sleep(0.5)
    dovecot.append(USER, "INBOX", sample_mails()[7].raw)
    assert wait_until(lambda: stored_count(app) == 1, 30) is not None
    assert dovecot.folder_messages(USER, "INBOX") == []


def test_sigterm_stops_gracefully(tmp_path, dovecot, smtp_server):
    dovecot.reset(USER)
    config = imap_config(tmp_path, dovecot, smtp_server, f"sqlite:///{tmp_path / 'mailflow.db'}")
    config_path = write_config(tmp_path / "config.toml", config)
    process = subprocess.Popen(
        [sys.executable, "-m", "mailflow", "--config", str(config_path), "run"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        dovecot.append(USER, "INBOX", sample_mails()[0].raw)
        assert wait_until(lambda: dovecot.folder_messages(USER, "INBOX") == [], 30) is not None
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr[-2000:]
    assert "daemon stopped" in stderr
