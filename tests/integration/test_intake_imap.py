"""The main job against real servers: Dovecot (IMAP) in, aiosmtpd (SMTP) out.

Every sample mail and every email case is APPENDed to the inbox, one ``run --once``
takes them in, and each message's folder, the items and every answer are checked.
It runs once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow import clock
from mailflow.app import App

from tests.integration import expectations
from tests.integration.harness import FROZEN_NOW, base_config, case_mails, message_id_of, sample_mails

USER = "intake"


def imap_config(tmp_path: Path, dovecot, smtp_server, database_url: str):
    config = base_config(tmp_path)
    config.database.url = database_url
    config.mailbox.type = "imap"
    imap = config.mailbox.imap
    imap.host, imap.port, imap.security = dovecot.host, dovecot.port, "plain"
    imap.username, imap.password = USER, dovecot.users[USER]
    config.outbound.type = "smtp"
    smtp = config.outbound.smtp
    smtp.host, smtp.port, smtp.security, smtp.auth = smtp_server.host, smtp_server.port, "plain", "none"
    return config


def database_for(request, backend: str, tmp_path: Path) -> str:
    if backend == "postgresql":
        return request.getfixturevalue("postgres").fresh_database()
    return f"sqlite:///{tmp_path / 'mailflow.db'}"


def folders_by_message_id(dovecot) -> dict[str, str]:
    found = {}
    for folder in ("processed", "quarantine", "auto"):
        for raw in dovecot.folder_messages(USER, f"mailflow/{folder}"):
            found[message_id_of(raw)] = folder
    return found


def run_on_server(request, backend: str, tmp_path: Path, paths: list[Path]):
    dovecot = request.getfixturevalue("dovecot")
    smtp_server = request.getfixturevalue("_smtp_plain")
    dovecot.reset(USER)
    smtp_server.reset()
    for path in paths:
        dovecot.append(USER, "INBOX", path.read_bytes())
    app = App(imap_config(tmp_path, dovecot, smtp_server, database_for(request, backend, tmp_path)))
    clock.set_now(FROZEN_NOW)
    try:
        intake, _ = app.run_once()
    finally:
        clock.set_now(None)
    return app, intake, smtp_server.messages, folders_by_message_id(dovecot), dovecot.folder_messages(USER, "INBOX")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def run(request, tmp_path_factory):
    mails = sample_mails()
    app, intake, received, folders, inbox = run_on_server(
        request, request.param, tmp_path_factory.mktemp("imap-samples"), [mail.path for mail in mails])
    yield app, mails, intake, received, folders, inbox
    app.close()


@pytest.fixture(scope="module")
def case_run(request, tmp_path_factory):
    cases = case_mails()
    app, intake, received, folders, inbox = run_on_server(
        request, "sqlite", tmp_path_factory.mktemp("imap-cases"), cases)
    yield app, cases, intake, received, folders, inbox
    app.close()


def test_every_sample_taken_in(run):
    _, mails, intake, _, _, inbox = run
    assert intake.new == len(mails)
    assert intake.failed_moves == 0
    assert inbox == []


def test_sample_folders(run):
    expectations.check_folders(run[1], run[4])


def test_sample_items(run):
    expectations.check_items(run[0], run[1])


def test_sample_replies(run):
    received = run[3]
    sent = [message.raw for message in received]
    expectations.check_replies(run[1], sent, {message.raw: message.rcpt_tos for message in received})


def test_replies_parse_without_defects(run):
    expectations.check_no_defects([message.raw for message in run[3]])


def test_replies_match_golden(run, case_run):
    names = expectations.golden_names(run[1], case_run[1])
    expectations.check_golden([m.raw for m in run[3]] + [m.raw for m in case_run[3]], names)


def test_cases_taken_in(case_run):
    app, cases, intake, received, folders, inbox = case_run
    assert intake.new == len(cases)
    assert inbox == []
    expectations.check_cases(app, cases, [message.raw for message in received], folders)


def test_envelope_sender_is_ours(run):
    for message in run[3]:
        assert message.mail_from == run[0].config.outbound.from_address
