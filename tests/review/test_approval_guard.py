"""The approval guard: a registration of an active mentor is refused with a way forward."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from mailflow.db.models import AuditEntry, Mentor
from mailflow.review import states
from tests.review.builders import FORM, apply_line, make_item, refusal_of


def _active_mentor(session) -> Mentor:
    mentor = Mentor(name=FORM["name"], status="active", registration_number="MM-2023-0101",
                    birth_date=dt.date.fromisoformat(FORM["birth_date"]), expires_on=dt.date(2027, 3, 31))
    session.add(mentor)
    session.flush()
    return mentor


def test_duplicate_registration_names_mentor(session, services):
    mentor = _active_mentor(session)
    message = refusal_of(session, services, make_item(session, services), "承認")
    assert mentor.registration_number in message
    assert "更新の申請として扱う" not in message


def test_duplicate_registration_offers_reject(session, services):
    _active_mentor(session)
    item = make_item(session, services)
    message = refusal_of(session, services, item, "承認")
    line = next(line.strip() for line in message.splitlines() if line.strip().startswith("却下 "))
    apply_line(session, services, item, line)
    assert item.state == states.REJECTED


def test_duplicate_registration_cli_words(session, services):
    _active_mentor(session)
    item = make_item(session, services)
    message = refusal_of(session, services, item, "approve", channel="cli")
    assert f"mailflow queue reject {item.number} " in message
    assert f"mailflow queue hold {item.number}" in message


def test_duplicate_registration_changes_nothing(session, services):
    _active_mentor(session)
    item = make_item(session, services)
    refusal_of(session, services, item, "承認")
    assert item.state == states.READY
    assert len(session.scalars(select(Mentor)).all()) == 1
    assert session.scalars(select(AuditEntry)).all() == []
