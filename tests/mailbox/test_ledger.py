"""The ledger that recognises mail seen before, by location and by the digest of its bytes."""

from __future__ import annotations

import pytest

from mailflow.db import migrate
from mailflow.db.models import InboundMessage
from mailflow.db.session import make_engine, make_session_factory, transaction
from mailflow.mailbox import ledger
from mailflow.mailbox.base import FetchedMail


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate.upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def store(session, mail: FetchedMail) -> InboundMessage:
    inbound = InboundMessage(source="maildir", raw_sha256=ledger.digest(mail.raw), raw=mail.raw, size=len(mail.raw))
    session.add(inbound)
    session.flush()
    ledger.add_location(session, "maildir", mail, inbound)
    return inbound


def test_same_location_same_bytes_known(sessions):
    mail = FetchedMail(key="1.1.host", uidvalidity=None, uid=None, raw=b"Subject: a\r\n\r\nbody\r\n")
    with transaction(sessions) as session:
        stored = store(session, mail)
    with transaction(sessions) as session:
        assert ledger.find_known(session, "maildir", mail).id == stored.id


def test_same_location_other_bytes_new(sessions):
    first = FetchedMail(key="1.1.host", uidvalidity=None, uid=None, raw=b"Subject: a\r\n\r\nbody\r\n")
    second = FetchedMail(key="1.1.host", uidvalidity=None, uid=None, raw=b"Subject: b\r\n\r\nother\r\n")
    with transaction(sessions) as session:
        store(session, first)
    with transaction(sessions) as session:
        assert ledger.find_known(session, "maildir", second) is None
        store(session, second)
    with transaction(sessions) as session:
        assert ledger.find_known(session, "maildir", second).raw == second.raw


def test_new_uidvalidity_found_by_digest(sessions):
    old = FetchedMail(key="7:3", uidvalidity=7, uid=3, raw=b"Subject: a\r\n\r\nbody\r\n")
    renumbered = FetchedMail(key="9:1", uidvalidity=9, uid=1, raw=old.raw)
    with transaction(sessions) as session:
        stored = store(session, old)
    with transaction(sessions) as session:
        assert ledger.find_known(session, "maildir", renumbered).id == stored.id
