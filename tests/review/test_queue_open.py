"""``mailflow queue open renewal``: a renewal whose documents arrive by post, decided from the CLI."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from mailflow import clock
from mailflow.commands.decide import open_sessions
from mailflow.db.models import AuditEntry, Mentor, ReviewItem
from mailflow.db.session import transaction
from mailflow.errors import MailflowError
from mailflow.planning.renewals import applications_by_mentor
from mailflow.review import states
from mailflow.review.decisions import renewal_doubts
from tests.review.builders import make_services, run_cli

NUMBER = "MM-2023-0101"
EXPIRES = dt.date(2027, 3, 31)
TODAY = dt.datetime(2026, 12, 21, 1, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def registry(tmp_path):
    """Return (config, session factory, mentor id) with one active mentor in a file database."""
    clock.set_now(TODAY)
    services = make_services(tmp_path)
    services.config.database.url = f"sqlite:///{tmp_path / 'mailflow.db'}"
    sessions = open_sessions(services.config)
    with transaction(sessions) as session:
        mentor = Mentor(registration_number=NUMBER, name="青木 一郎", email="aoki@example.jp",
                        birth_date=dt.date(1958, 4, 1), status="active", registered_on=dt.date(2024, 4, 1),
                        expires_on=EXPIRES)
        session.add(mentor)
        session.flush()
        mentor_id = mentor.id
    yield services.config, sessions, mentor_id
    clock.set_now(None)


def opened_item(sessions) -> ReviewItem:
    with sessions() as session:
        return session.scalars(select(ReviewItem)).one()


def test_open_makes_incomplete_renewal(registry):
    config, sessions, mentor_id = registry
    assert run_cli(config, "queue", "open", "renewal", NUMBER, "--actor", "suzuki") == 0
    item = opened_item(sessions)
    assert (item.kind, item.state, item.mentor_id) == ("renewal", states.INCOMPLETE, mentor_id)
    with sessions() as session:
        audit = session.scalars(select(AuditEntry)).one()
    assert (audit.action, audit.actor) == ("item_opened", "suzuki")


def test_opened_renewal_stops_reminders(registry):
    config, sessions, mentor_id = registry
    run_cli(config, "queue", "open", "renewal", NUMBER)
    with sessions() as session:
        assert mentor_id in applications_by_mentor(session, [mentor_id], dt.date(2026, 12, 1))


def test_posted_documents_then_approval_renews(registry):
    config, sessions, mentor_id = registry
    run_cli(config, "queue", "open", "renewal", NUMBER)
    number = opened_item(sessions).number
    assert run_cli(config, "queue", "received", number, "申請書", "誓約書", "本人確認書類") == 0
    assert run_cli(config, "queue", "approve", number) == 0
    with sessions() as session:
        assert session.get(Mentor, mentor_id).expires_on > EXPIRES


def test_second_open_refused(registry, capsys):
    config, sessions, _ = registry
    run_cli(config, "queue", "open", "renewal", NUMBER)
    assert run_cli(config, "queue", "open", "renewal", NUMBER) == 1
    assert opened_item(sessions).number in capsys.readouterr().out


def test_unknown_mentor_refused(registry, capsys):
    config, sessions, _ = registry
    assert run_cli(config, "queue", "open", "renewal", "MM-2099-0001") == 1
    assert "見つかりません" in capsys.readouterr().out
    with sessions() as session:
        assert session.scalars(select(ReviewItem)).all() == []


def open_and_receive(config, sessions) -> str:
    run_cli(config, "queue", "open", "renewal", NUMBER)
    with sessions() as session:
        number = session.scalars(select(ReviewItem.number).where(ReviewItem.state != states.APPROVED)).one()
    run_cli(config, "queue", "received", number, "申請書", "誓約書", "本人確認書類")
    return number


def test_second_renewal_of_a_term_needs_force(registry):
    config, sessions, mentor_id = registry
    assert run_cli(config, "queue", "approve", open_and_receive(config, sessions)) == 0
    with sessions() as session:
        renewed = session.get(Mentor, mentor_id).expires_on
    second = open_and_receive(config, sessions)
    with pytest.raises(MailflowError, match="更新の時期ではありません"):
        run_cli(config, "queue", "approve", second)
    with sessions() as session:
        assert session.get(Mentor, mentor_id).expires_on == renewed
    assert run_cli(config, "queue", "approve", second, "--force") == 0


def test_form_naming_another_person_doubted():
    mentor = Mentor(registration_number=NUMBER, name="青木 一郎", expires_on=EXPIRES)
    item = ReviewItem(kind="renewal", form_values={"name": "鈴木 一郎", "registration_number": "mm-2023-0456"})
    doubts = renewal_doubts(item, mentor, TODAY.date())
    assert len(doubts) == 2
    assert "MM-2023-0456" in doubts[0]
    assert "鈴木 一郎" in doubts[1]


def test_own_form_not_doubted():
    mentor = Mentor(registration_number=NUMBER, name="青木 一郎", expires_on=EXPIRES)
    item = ReviewItem(kind="renewal", form_values={"name": "青木　一郎", "registration_number": NUMBER.lower()})
    assert renewal_doubts(item, mentor, TODAY.date()) == []


def test_revocation_flags_open_renewal(registry):
    config, sessions, mentor_id = registry
    run_cli(config, "queue", "open", "renewal", NUMBER)
    assert run_cli(config, "registry", "revoke", NUMBER, "--reason", "requirements_not_met") == 0
    item = opened_item(sessions)
    assert item.state == states.NEEDS_ATTENTION
    assert any("取り消されています" in reason for reason in item.details["attention"])
