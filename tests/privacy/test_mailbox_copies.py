"""Finding and replacing copies in the mailflow folders, on Maildir and on a real Dovecot."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from mailflow import clock
from mailflow.app import App
from mailflow.db.models import AuditEntry, InboundMessage
from mailflow.db.session import transaction
from mailflow.intake.parse import parse_message
from mailflow.mailbox.base import Folder
from mailflow.mailbox.maildir import MaildirSource
from mailflow.privacy.retention import RetentionPolicy, run_retention
from mailflow.privacy.stored_mail import mailbox_digest
from tests.mailbox.conftest import imap_config, imap_server  # noqa: F401  (fixture)
from tests.privacy.populated import INTAKE_DAY, app_config, days_after_intake, decide_all, deliver, sample_mail

APPLICATION = "01-registration-complete"
EXPECTED = json.loads(sample_mail(APPLICATION).with_suffix(".json").read_text(encoding="utf-8"))
MESSAGE_ID = EXPECTED["message_id"]
IDENTITY_SHA256 = next(entry["sha256"] for entry in EXPECTED["attachments"] if entry["role"] == "identity_document")
OTHER = "02-registration-id-by-post"


def hashes(raw: bytes) -> list[str]:
    return [attachment.sha256 for attachment in parse_message(raw).attachments]


@pytest.fixture
def maildir(tmp_path) -> MaildirSource:
    source = MaildirSource(tmp_path / "maildir")
    source.connect()
    folder = source.folders[Folder.PROCESSED]
    for stem in (APPLICATION, OTHER):
        (folder / "cur" / f"{stem}:2,S").write_bytes(sample_mail(stem).read_bytes())
    return source


def test_maildir_finds_by_message_id(maildir):
    copies = maildir.find_copies(Folder.PROCESSED, MESSAGE_ID)
    assert [copy.key for copy in copies] == [APPLICATION]
    assert copies[0].raw == sample_mail(APPLICATION).read_bytes()


def test_maildir_id_without_brackets(maildir):
    assert len(maildir.find_copies(Folder.PROCESSED, MESSAGE_ID.strip("<>"))) == 1


def test_maildir_other_folder_empty(maildir):
    assert maildir.find_copies(Folder.QUARANTINE, MESSAGE_ID) == []


def test_maildir_replace_copy(maildir):
    copy = maildir.find_copies(Folder.PROCESSED, MESSAGE_ID)[0]
    maildir.replace_copy(Folder.PROCESSED, copy, b"Message-ID: " + MESSAGE_ID.encode() + b"\r\n\r\nnew\r\n")
    found = maildir.find_copies(Folder.PROCESSED, MESSAGE_ID)
    assert [copy.raw.endswith(b"new\r\n") for copy in found] == [True]


def test_maildir_replace_twice_one_copy(maildir):
    copy = maildir.find_copies(Folder.PROCESSED, MESSAGE_ID)[0]
    new_raw = b"Message-ID: " + MESSAGE_ID.encode() + b"\r\n\r\nnew\r\n"
    maildir.replace_copy(Folder.PROCESSED, copy, new_raw)
    maildir.replace_copy(Folder.PROCESSED, copy, new_raw)
    assert len(maildir.find_copies(Folder.PROCESSED, MESSAGE_ID)) == 1


def test_maildir_delete_copy(maildir):
    copy = maildir.find_copies(Folder.PROCESSED, MESSAGE_ID)[0]
    maildir.replace_copy(Folder.PROCESSED, copy, None)
    assert maildir.find_copies(Folder.PROCESSED, MESSAGE_ID) == []
    assert len(maildir.find_copies(Folder.PROCESSED, json.loads(
        sample_mail(OTHER).with_suffix(".json").read_text(encoding="utf-8"))["message_id"])) == 1


def test_same_id_other_bytes_untouched(tmp_path):
    """A different message that reuses the Message-ID is never replaced."""
    clock.set_now(INTAKE_DAY)
    config = app_config(tmp_path)
    deliver(config, sample_mail(APPLICATION))
    app = App(config)
    try:
        app.run_once()
        impostor = sample_mail(OTHER).read_bytes().replace(
            json.loads(sample_mail(OTHER).with_suffix(".json").read_text(encoding="utf-8"))["message_id"].encode(),
            MESSAGE_ID.encode())
        folder = app.source.folders[Folder.PROCESSED]
        (folder / "cur" / "impostor:2,S").write_bytes(impostor)
        decide_all(app)
        clock.set_now(days_after_intake(31))
        run_retention(app.sessions, app.store, app.key, RetentionPolicy(30, None, None), clock.now())
        report = app.sync_mailbox_copies()
        assert len(report.replaced) == 1
        assert (folder / "cur" / "impostor:2,S").read_bytes() == impostor
    finally:
        app.close()
        clock.set_now(None)


@pytest.fixture
def imap_app(tmp_path, imap_server):  # noqa: F811
    """An App on Dovecot that took in the application and rejected it on INTAKE_DAY."""
    clock.set_now(INTAKE_DAY)
    config = app_config(tmp_path)
    config.mailbox.type = "imap"
    config.mailbox.imap = imap_config(imap_server)
    imap_server.append("intake", "INBOX", sample_mail(APPLICATION).read_bytes())
    app = App(config)
    app.run_once()
    decide_all(app)
    yield app
    app.close()
    clock.set_now(None)


def purge_after(app: App, days: int, policy: RetentionPolicy) -> None:
    clock.set_now(days_after_intake(days))
    run_retention(app.sessions, app.store, app.key, policy, clock.now())


@pytest.mark.integration
def test_imap_copy_replaced(imap_app, imap_server):  # noqa: F811
    purge_after(imap_app, 31, RetentionPolicy(30, None, None))
    report = imap_app.sync_mailbox_copies()
    copies = imap_server.folder_messages("intake", imap_app.source.folders[Folder.PROCESSED])
    assert report.replaced != []
    assert len(copies) == 1
    assert IDENTITY_SHA256 not in hashes(copies[0])
    with transaction(imap_app.sessions) as session:
        message = session.scalars(select(InboundMessage)).one()
        assert message.mailbox_sha256 == mailbox_digest(copies[0])
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "mailbox_copy_replaced")).one()


@pytest.mark.integration
def test_imap_copy_deleted(imap_app, imap_server):  # noqa: F811
    purge_after(imap_app, 8, RetentionPolicy(30, None, 7))
    imap_app.sync_mailbox_copies()
    assert imap_server.folder_messages("intake", imap_app.source.folders[Folder.PROCESSED]) == []
    assert imap_app.source.find_copies(Folder.PROCESSED, MESSAGE_ID) == []
