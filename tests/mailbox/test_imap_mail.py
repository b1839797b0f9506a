"""ImapSource against Dovecot: fetching, moving and replacing mail on each server profile.

The accounts differ in what Dovecot advertises after login: ``intake`` has MOVE and
UIDPLUS, ``nomove`` has UIDPLUS only, ``legacy`` has neither (see tests/servers.py).
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from mailflow.mailbox.base import Folder, MailboxError
from mailflow.mailbox.imap import ImapSource, StaleUidValidityError
from tests.mailbox.conftest import connected, imap_config, sample_mail

pytestmark = pytest.mark.integration

SEEN = rb"\Seen"
DELETED = rb"\Deleted"
KEYWORD = b"$MailflowDone"

# Raw messages from tests/fixtures/sample/mailbox, as an MTA would deliver them.
FIRST = "08-change-notice"
SECOND = "09-withdrawal"
THIRD = "04-renewal-docx"



def test_fetch_returns_raw_bytes(imap_server, open_sources):
    source = connected(imap_server, open_sources)
    imap_server.append("intake", "INBOX", sample_mail(THIRD))

    mails = list(source.fetch_new())

    assert [mail.raw for mail in mails] == [sample_mail(THIRD)]


def test_fetch_leaves_mail_unseen(imap_server, open_sources):
    source = connected(imap_server, open_sources)
    imap_server.append("intake", "INBOX", sample_mail(FIRST))

    list(source.fetch_new())

    assert SEEN not in imap_server.folder_flags("intake", "INBOX")[0]


def test_fetch_oldest_uid_first(imap_server, open_sources):
    source = connected(imap_server, open_sources)
    for name in (FIRST, SECOND, THIRD):
        imap_server.append("intake", "INBOX", sample_mail(name))

    mails = list(source.fetch_new())

    assert [mail.raw for mail in mails] == [sample_mail(name) for name in (FIRST, SECOND, THIRD)]


def test_fetch_identifies_mail_by_uid(imap_server, open_sources):
    source = connected(imap_server, open_sources)
    imap_server.append("intake", "INBOX", sample_mail(FIRST))

    (mail,) = source.fetch_new()

    assert (mail.key, mail.uidvalidity) == (f"{source.uidvalidity}:{mail.uid}", source.uidvalidity)


def test_fetch_limit(imap_server, open_sources):
    source = connected(imap_server, open_sources)
    for name in (FIRST, SECOND, THIRD):
        imap_server.append("intake", "INBOX", sample_mail(name))

    mails = list(source.fetch_new(limit=2))

    assert [mail.raw for mail in mails] == [sample_mail(FIRST), sample_mail(SECOND)]


def test_fetch_skips_deleted_mail(imap_server, open_sources):
    source = connected(imap_server, open_sources)
    imap_server.append("intake", "INBOX", sample_mail(FIRST), flags=(DELETED,))
    imap_server.append("intake", "INBOX", sample_mail(SECOND))

    mails = list(source.fetch_new())

    assert [mail.raw for mail in mails] == [sample_mail(SECOND)]


def test_fetch_batches_many_messages(imap_server, open_sources, monkeypatch):
    monkeypatch.setattr("mailflow.mailbox.imap.FETCH_BATCH_MESSAGES", 2)
    source = connected(imap_server, open_sources)
    names = [FIRST, SECOND, THIRD, FIRST, SECOND]
    for name in names:
        imap_server.append("intake", "INBOX", sample_mail(name))

    mails = list(source.fetch_new())

    assert [mail.raw for mail in mails] == [sample_mail(name) for name in names]


@pytest.mark.parametrize("user", ["intake", "nomove"])
def test_move_empties_inbox(imap_server, open_sources, user):
    source = connected(imap_server, open_sources, user)
    imap_server.append(user, "INBOX", sample_mail(FIRST))
    (mail,) = source.fetch_new()

    source.move(mail, Folder.PROCESSED)

    assert imap_server.folder_messages(user, "INBOX") == []


@pytest.mark.parametrize("user", ["intake", "nomove", "legacy"])
def test_move_fills_target_folder(imap_server, open_sources, user):
    source = connected(imap_server, open_sources, user)
    imap_server.append(user, "INBOX", sample_mail(FIRST))
    (mail,) = source.fetch_new()

    source.move(mail, Folder.QUARANTINE)

    assert imap_server.folder_messages(user, "mailflow/quarantine") == [sample_mail(FIRST)]


def test_move_uses_dotted_folder_names(imap_server, open_sources):
    source = connected(imap_server, open_sources, "dotted")
    imap_server.append("dotted", "INBOX", sample_mail(FIRST))
    (mail,) = source.fetch_new()

    source.move(mail, Folder.AUTO)

    assert imap_server.folder_messages("dotted", "INBOX.mailflow.auto") == [sample_mail(FIRST)]


def test_move_without_uidplus_sets_keyword(imap_server, open_sources):
    source = connected(imap_server, open_sources, "legacy")
    imap_server.append("legacy", "INBOX", sample_mail(FIRST))
    (mail,) = source.fetch_new()

    source.move(mail, Folder.PROCESSED)

    assert KEYWORD in imap_server.folder_flags("legacy", "INBOX")[0]


def test_move_without_uidplus_keeps_original(imap_server, open_sources):
    source = connected(imap_server, open_sources, "legacy")
    imap_server.append("legacy", "INBOX", sample_mail(FIRST))
    (mail,) = source.fetch_new()

    source.move(mail, Folder.PROCESSED)

    assert DELETED not in imap_server.folder_flags("legacy", "INBOX")[0]


def test_fetch_skips_keyword_without_uidplus(imap_server, open_sources):
    source = connected(imap_server, open_sources, "legacy")
    imap_server.append("legacy", "INBOX", sample_mail(FIRST))
    (mail,) = source.fetch_new()
    source.move(mail, Folder.PROCESSED)
    imap_server.append("legacy", "INBOX", sample_mail(SECOND))

    mails = list(source.fetch_new())

    assert [mail.raw for mail in mails] == [sample_mail(SECOND)]


def test_move_after_move_is_harmless(imap_server, open_sources):
    source = connected(imap_server, open_sources)
    imap_server.append("intake", "INBOX", sample_mail(FIRST))
    (mail,) = source.fetch_new()
    source.move(mail, Folder.PROCESSED)

    source.move(mail, Folder.PROCESSED)

    assert imap_server.folder_messages("intake", "mailflow/processed") == [sample_mail(FIRST)]


def test_move_survives_kick(imap_server, open_sources):
    source = connected(imap_server, open_sources)
    imap_server.append("intake", "INBOX", sample_mail(FIRST))
    (mail,) = source.fetch_new()
    imap_server.doveadm("kick", "intake")

    source.move(mail, Folder.PROCESSED)

    assert imap_server.folder_messages("intake", "mailflow/processed") == [sample_mail(FIRST)]


@pytest.mark.parametrize("user", ["intake", "legacy"])
def test_replace_stores_new_copy(imap_server, open_sources, user):
    source = connected(imap_server, open_sources, user)
    imap_server.append(user, "INBOX", sample_mail(FIRST))
    (mail,) = source.fetch_new()

    source.replace(mail, sample_mail(SECOND), Folder.QUARANTINE)

    assert imap_server.folder_messages(user, "mailflow/quarantine") == [sample_mail(SECOND)]


def test_replace_expunges_original(imap_server, open_sources):
    source = connected(imap_server, open_sources)
    imap_server.append("intake", "INBOX", sample_mail(FIRST))
    (mail,) = source.fetch_new()

    source.replace(mail, sample_mail(SECOND), Folder.QUARANTINE)

    assert imap_server.folder_messages("intake", "INBOX") == []


def internal_dates(server, user: str, folder: str) -> list:
    with server.client(user) as client:
        client.select_folder(folder, readonly=True)
        response = client.fetch(client.search(["ALL"]), ["INTERNALDATE"])
        return [item[b"INTERNALDATE"].astimezone(dt.timezone.utc) for _, item in sorted(response.items())]


def test_replace_keeps_internal_date(imap_server, open_sources):
    source = connected(imap_server, open_sources)
    received = dt.datetime(2025, 1, 6, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    imap_server.append("intake", "INBOX", sample_mail(FIRST), msg_time=received)
    original = internal_dates(imap_server, "intake", "INBOX")
    (mail,) = source.fetch_new()

    source.replace(mail, sample_mail(SECOND), Folder.QUARANTINE)

    assert internal_dates(imap_server, "intake", "mailflow/quarantine") == original


def test_replace_without_uidplus_flags_original(imap_server, open_sources):
    source = connected(imap_server, open_sources, "legacy")
    imap_server.append("legacy", "INBOX", sample_mail(FIRST))
    (mail,) = source.fetch_new()

    source.replace(mail, sample_mail(SECOND), Folder.QUARANTINE)

    assert {DELETED, KEYWORD} <= imap_server.folder_flags("legacy", "INBOX")[0]


def test_replace_without_uidplus_logs_warning(imap_server, open_sources, caplog):
    source = connected(imap_server, open_sources, "legacy")
    imap_server.append("legacy", "INBOX", sample_mail(FIRST))
    (mail,) = source.fetch_new()

    with caplog.at_level(logging.WARNING, logger="mailflow.mailbox.imap"):
        source.replace(mail, sample_mail(SECOND), Folder.QUARANTINE)

    assert any("not expunged" in record.getMessage() for record in caplog.records)


def test_replace_of_vanished_mail_rejected(imap_server, open_sources):
    source = connected(imap_server, open_sources)
    imap_server.append("intake", "INBOX", sample_mail(FIRST))
    (mail,) = source.fetch_new()
    source.move(mail, Folder.PROCESSED)

    with pytest.raises(MailboxError, match="受信箱にありません"):
        source.replace(mail, sample_mail(SECOND), Folder.QUARANTINE)


def test_move_with_stale_uidvalidity_rejected(imap_server, open_sources):
    source = connected(imap_server, open_sources)
    imap_server.append("intake", "INBOX", sample_mail(FIRST))
    (mail,) = source.fetch_new()
    imap_server.doveadm("mailbox", "update", "-u", "intake", "--uid-validity", str(mail.uidvalidity + 7), "INBOX")
    imap_server.doveadm("kick", "intake")

    with pytest.raises(StaleUidValidityError):
        source.move(mail, Folder.PROCESSED)


def test_fetch_connects_when_needed(imap_server, open_sources):
    source = ImapSource(imap_config(imap_server))
    open_sources.append(source)
    imap_server.append("intake", "INBOX", sample_mail(FIRST))

    mails = list(source.fetch_new())

    assert [mail.raw for mail in mails] == [sample_mail(FIRST)]
