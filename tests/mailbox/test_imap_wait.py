"""ImapSource against Dovecot: IDLE, polling, reconnects and UIDVALIDITY changes."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass

import pytest

from mailflow.config import ImapConfig
from mailflow.mailbox.base import MailboxError
from mailflow.mailbox.imap import ImapSource
from tests.mailbox.conftest import connected, sample_mail, server_uidvalidity

pytestmark = pytest.mark.integration

MAIL = "08-change-notice"
NEXT_MAIL = "09-withdrawal"
IDLE_LATENCY_LIMIT_SECONDS = 5.0
ONE_HOUR = 3600


@dataclass
class WaitResult:
    value: bool | None = None
    returned_at: float = 0.0


def wait_in_thread(source: ImapSource, timeout: float) -> tuple[threading.Thread, WaitResult]:
    result = WaitResult()

    def run() -> None:
        result.value = source.wait(timeout)
        result.returned_at = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result




def test_idle_wait_times_out(imap_server, open_sources):
    source = connected(imap_server, open_sources, poll_interval_seconds=ONE_HOUR)
    started = time.monotonic()

    assert source.wait(1.0) is False
    assert time.monotonic() - started >= 1.0


def test_wait_true_for_unfetched_mail(imap_server, open_sources):
    source = connected(imap_server, open_sources, poll_interval_seconds=ONE_HOUR)
    imap_server.append("intake", "INBOX", sample_mail(MAIL))

    assert source.wait(10.0) is True


def test_idle_sees_append_quickly(imap_server, open_sources):
    source = connected(imap_server, open_sources, poll_interval_seconds=ONE_HOUR)
    assert source.wait(1.0) is False  # IDLE is now running and stays running
    thread, result = wait_in_thread(source, 30.0)

    appended_at = time.monotonic()
    imap_server.append("intake", "INBOX", sample_mail(MAIL))
    thread.join(timeout=30.0)

    assert result.value is True
    assert result.returned_at - appended_at < IDLE_LATENCY_LIMIT_SECONDS


def test_idle_then_fetch_sees_mail(imap_server, open_sources):
    source = connected(imap_server, open_sources, poll_interval_seconds=ONE_HOUR)
    assert source.wait(1.0) is False
    imap_server.append("intake", "INBOX", sample_mail(MAIL))
    assert source.wait(30.0) is True

    mails = list(source.fetch_new())

    assert [mail.raw for mail in mails] == [sample_mail(MAIL)]


def test_idle_renewed_after_refresh_interval(imap_server, open_sources):
    source = connected(imap_server, open_sources, poll_interval_seconds=ONE_HOUR, idle_refresh_seconds=1)
    assert source.wait(2.5) is False  # renews IDLE twice meanwhile
    imap_server.append("intake", "INBOX", sample_mail(MAIL))

    assert source.wait(30.0) is True


def test_reconnect_after_kick(imap_server, open_sources):
    source = connected(imap_server, open_sources, poll_interval_seconds=ONE_HOUR)
    assert source.wait(1.0) is False
    imap_server.doveadm("kick", "intake")

    assert source.wait(30.0) is True  # reconnected: mail may have come meanwhile


def test_kick_then_next_mail_seen(imap_server, open_sources):
    source = connected(imap_server, open_sources, poll_interval_seconds=ONE_HOUR)
    assert source.wait(1.0) is False
    imap_server.doveadm("kick", "intake")
    assert source.wait(30.0) is True
    assert list(source.fetch_new()) == []
    assert source.wait(1.0) is False
    thread, result = wait_in_thread(source, 30.0)

    appended_at = time.monotonic()
    imap_server.append("intake", "INBOX", sample_mail(NEXT_MAIL))
    thread.join(timeout=30.0)

    assert result.value is True
    assert result.returned_at - appended_at < IDLE_LATENCY_LIMIT_SECONDS
    assert [mail.raw for mail in source.fetch_new()] == [sample_mail(NEXT_MAIL)]


def test_polling_without_idle_capability(imap_server, open_sources):
    source = connected(imap_server, open_sources, "legacy", poll_interval_seconds=1)
    assert source.wait(0.5) is False
    imap_server.append("legacy", "INBOX", sample_mail(MAIL))
    started = time.monotonic()

    assert source.wait(30.0) is True
    assert time.monotonic() - started < 3.0


def test_polling_when_idle_disabled(imap_server, open_sources):
    source = connected(imap_server, open_sources, idle=False, poll_interval_seconds=1)
    assert source.wait(0.5) is False
    imap_server.append("intake", "INBOX", sample_mail(MAIL))

    assert source.wait(30.0) is True


def test_interrupt_ends_wait(imap_server, open_sources):
    source = connected(imap_server, open_sources, poll_interval_seconds=ONE_HOUR)
    thread, result = wait_in_thread(source, 60.0)
    time.sleep(0.5)

    interrupted_at = time.monotonic()
    source.interrupt()
    thread.join(timeout=10.0)

    assert result.value is False
    assert result.returned_at - interrupted_at < 2.0


def test_uidvalidity_change_after_recreate(imap_server, open_sources, caplog):
    imap_server.doveadm("mailbox", "create", "-u", "intake", "Arrivals")
    source = connected(imap_server, open_sources, inbox="Arrivals")
    before = source.uidvalidity
    imap_server.doveadm("mailbox", "delete", "-u", "intake", "Arrivals")
    imap_server.doveadm("mailbox", "create", "-u", "intake", "Arrivals")
    imap_server.append("intake", "Arrivals", sample_mail(MAIL))

    with caplog.at_level(logging.WARNING, logger="mailflow.mailbox.imap"):
        mails = list(source.fetch_new())

    assert [mail.raw for mail in mails] == [sample_mail(MAIL)]
    assert mails[0].uidvalidity == server_uidvalidity(imap_server, "intake", "Arrivals")
    assert mails[0].uidvalidity != before
    assert any("UIDVALIDITY of the inbox changed" in record.getMessage() for record in caplog.records)


def test_inbox_uidvalidity_update_reported(imap_server, open_sources):
    source = connected(imap_server, open_sources)
    new_value = source.uidvalidity + 11
    imap_server.doveadm("mailbox", "update", "-u", "intake", "--uid-validity", str(new_value), "INBOX")
    imap_server.doveadm("kick", "intake")

    source.wait(10.0)

    assert source.uidvalidity == new_value


class ClosingServer:
    """A TCP server on 127.0.0.1 that accepts and at once closes every connection."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted_at: list[float] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted_at.append(time.monotonic())
            connection.close()

    def close(self) -> None:
        self.listener.close()


def test_backoff_logs_each_failure_once(caplog):
    server = ClosingServer()
    config = ImapConfig(
        host="127.0.0.1", port=server.port, security="plain", username="intake", password="backoff-secret-7",
        reconnect_max_seconds=2, timeout_seconds=5,
    )
    source = ImapSource(config)
    caplog.set_level(logging.WARNING, logger="mailflow.mailbox.imap")
    errors: list[Exception] = []

    def run() -> None:
        try:
            source.connect()
        except MailboxError as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(5.5)  # attempts at about 0, 1, 3 and 5 s with a 2 s maximum delay
    source.interrupt()
    thread.join(timeout=5.0)
    server.close()

    failures = [record for record in caplog.records if "IMAP connection to" in record.getMessage()]
    gaps = [later - earlier for earlier, later in zip(server.accepted_at, server.accepted_at[1:])]
    assert len(failures) == len(server.accepted_at)
    assert len(server.accepted_at) >= 3
    assert gaps[0] >= 0.9
    assert gaps[1] > gaps[0]
    assert max(gaps) <= config.reconnect_max_seconds + 0.5
    assert len(errors) == 1
    assert not [record for record in caplog.records if config.password in record.getMessage()]

