"""Fixtures for the mailbox watcher tests: sample mail and per-test IMAP settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.config import ImapConfig
from mailflow.mailbox.imap import ImapSource
from tests.servers import DOVECOT_USERS, DovecotServer

SAMPLE_MAILBOX = Path(__file__).resolve().parents[1] / "fixtures" / "sample" / "mailbox"


def sample_mail(name: str) -> bytes:
    """Return the raw bytes of ``tests/fixtures/sample/mailbox/<name>.eml`` (CRLF line ends)."""
    return (SAMPLE_MAILBOX / f"{name}.eml").read_bytes()


@pytest.fixture
def imap_server(dovecot: DovecotServer) -> DovecotServer:
    """The session's Dovecot with every test account emptied and disconnected."""
    for user in DOVECOT_USERS:
        dovecot.reset(user.name)
    return dovecot


def imap_config(server: DovecotServer, user: str = "intake", **overrides: object) -> ImapConfig:
    """Return plain-text settings for ``user`` on ``server``, with ``overrides`` applied."""
    config = ImapConfig(
        host=server.host,
        port=server.port,
        security="plain",
        username=user,
        password=server.users[user],
        reconnect_max_seconds=2,
        timeout_seconds=10,
    )
    return dataclasses.replace(config, **overrides)


def connected(server: DovecotServer, open_sources: list[ImapSource], user: str = "intake", **overrides: object) -> ImapSource:
    """Return an ImapSource for ``user`` that has connected once, registered for closing."""
    source = ImapSource(imap_config(server, user, **overrides))
    open_sources.append(source)
    source.connect(retry=False)
    return source


def server_uidvalidity(server: DovecotServer, user: str, folder: str) -> int:
    """Return the UIDVALIDITY of ``folder`` as doveadm reports it."""
    output = server.doveadm("mailbox", "status", "-u", user, "uidvalidity", folder)
    return int(output.split("uidvalidity=")[1].split()[0])


@pytest.fixture
def open_sources() -> Iterator[list[ImapSource]]:
    """A list to register sources in; each is interrupted and closed after the test."""
    sources: list[ImapSource] = []
    yield sources
    for source in sources:
        source.interrupt()
        source.close()
