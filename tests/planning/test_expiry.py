"""Revocation at expiry: the registry change, its records, the mail, holds and the lease."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailflow.clock import TOKYO
from mailflow.config import Config
from mailflow.db.models import AuditEntry, Lease, Mentor, MentorHistory, Outbox, ReviewItem
from mailflow.db.session import transaction
from mailflow.outbound.compose import Draft
from mailflow.outbound.outbox import enqueue
from mailflow.outbound.templates import Renderer
from mailflow.planning.expiry import (
    HOLD_RENEWAL_APPROVED,
    HOLD_RENEWAL_OPEN,
    LEASE_NAME,
    acquire_lease,
    held_revocations,
    notice_key,
    revoke_expired,
)
from tests.planning.database import add_mentor, run_together

EXPIRES = dt.date(2027, 3, 31)
NOTICE_TIME = dt.time(9, 0)
HOLDER = "test-daemon"


def tokyo(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TOKYO)


def expire(sessions: sessionmaker[Session], config: Config, now: str, holder: str = HOLDER):
    return revoke_expired(sessions, config, Renderer(config.templates_dir), tokyo(now), holder, NOTICE_TIME)


def mentor_row(sessions: sessionmaker[Session], mentor_id: int) -> Mentor:
    with transaction(sessions) as session:
        return session.get(Mentor, mentor_id)


def outbox(sessions: sessionmaker[Session]) -> dict[str, Outbox]:
    with transaction(sessions) as session:
        return {row.key: row for row in session.scalars(select(Outbox))}


def add_application(sessions: sessionmaker[Session], mentor_id: int, state: str, sender: str | None = None) -> None:
    with transaction(sessions) as session:
        session.add(ReviewItem(kind="renewal", state=state, mentor_id=mentor_id, created_at=tokyo("2027-01-20 10:00"),
                               sender_address=sender))


def test_not_revoked_on_expiry_day(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    stats = expire(sessions, config, "2027-03-31 23:59")
    assert stats.revoked == []
    assert mentor_row(sessions, mentor).status == "active"


def test_revoked_day_after_expiry(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    stats = expire(sessions, config, "2027-04-01 00:10")
    row = mentor_row(sessions, mentor)
    assert stats.revoked == [mentor]
    assert row.status == "revoked"
    assert row.status_reason == "not_renewed"
    assert row.status_changed_at == tokyo("2027-04-01 00:10")


def test_other_address_renewal_not_holding(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES, email="mentor@example.jp")
    add_application(sessions, mentor, "ready", sender="someone@attacker.example")
    stats = expire(sessions, config, "2027-04-01 00:10")
    assert stats.revoked == [mentor]


def test_revocation_history(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    expire(sessions, config, "2027-04-01 00:10")
    with transaction(sessions) as session:
        history = session.scalars(select(MentorHistory)).one()
    assert history.mentor_id == mentor
    assert history.action == "revoked"
    assert history.changes == {"status": {"old": "active", "new": "revoked"},
                               "status_reason": {"old": None, "new": "not_renewed"}}


def test_revocation_audit(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    expire(sessions, config, "2027-04-01 00:10")
    with transaction(sessions) as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert entry.mentor_id == mentor
    assert entry.action == "revoke"
    assert entry.detail == {"channel": "expiry", "reason": "not_renewed", "expires_on": "2027-03-31",
                            "effective_on": "2027-04-01"}


def test_revocation_notice_planned(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES, email="mentor@example.jp")
    expire(sessions, config, "2027-04-01 00:10")
    notice = outbox(sessions)[notice_key(mentor, EXPIRES)]
    assert notice.kind == "revocation_notice"
    assert notice.recipients == ["mentor@example.jp"]
    assert notice.due_at == tokyo("2027-04-01 09:00")
    assert notice.subject == "【関東経済産業局】マネジメントメンター登録の取り消しについて"


def test_late_run_notice_due_now(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    expire(sessions, config, "2027-04-05 14:00")
    assert outbox(sessions)[notice_key(mentor, EXPIRES)].due_at == tokyo("2027-04-05 14:00")


def test_pending_mail_cancelled(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    with transaction(sessions) as session:
        draft = Draft(key="event-notice:1:test", to=[("", "mentor@example.jp")], subject="案内", body="本文")
        enqueue(session, config, draft, "event_notice", mentor_id=mentor, due_at=tokyo("2027-04-10 09:00"))
    expire(sessions, config, "2027-04-01 00:10")
    assert outbox(sessions)["event-notice:1:test"].status == "cancelled"
    assert outbox(sessions)[notice_key(mentor, EXPIRES)].status == "pending"


def test_second_run_changes_nothing(sessions, config) -> None:
    add_mentor(sessions, "MM-1", EXPIRES)
    expire(sessions, config, "2027-04-01 00:10")
    stats = expire(sessions, config, "2027-04-02 00:10")
    with transaction(sessions) as session:
        history = session.scalars(select(MentorHistory)).all()
    assert stats.revoked == []
    assert len(history) == 1


def test_later_expiry_untouched(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", dt.date(2028, 3, 31))
    expire(sessions, config, "2027-04-01 00:10")
    assert mentor_row(sessions, mentor).status == "active"


def test_open_renewal_holds(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    add_application(sessions, mentor, "ready")
    stats = expire(sessions, config, "2027-04-01 00:10")
    assert stats.held == [mentor]
    assert mentor_row(sessions, mentor).status == "active"


def test_rejected_renewal_revokes(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    add_application(sessions, mentor, "rejected")
    stats = expire(sessions, config, "2027-04-01 00:10")
    assert stats.revoked == [mentor]


def test_held_revocation_reasons(sessions, config) -> None:
    open_one = add_mentor(sessions, "MM-1", EXPIRES)
    approved_one = add_mentor(sessions, "MM-2", EXPIRES)
    add_application(sessions, open_one, "on_hold")
    add_application(sessions, approved_one, "approved")
    with transaction(sessions) as session:
        held = held_revocations(session, dt.date(2027, 4, 2))
    assert [(h.mentor_id, h.reason) for h in held] == [(open_one, HOLD_RENEWAL_OPEN),
                                                       (approved_one, HOLD_RENEWAL_APPROVED)]


def test_lease_held_elsewhere_skips(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    assert acquire_lease(sessions, LEASE_NAME, "other-daemon", tokyo("2027-04-01 00:09"))
    stats = expire(sessions, config, "2027-04-01 00:10")
    assert stats.locked
    assert mentor_row(sessions, mentor).status == "active"


def test_expired_lease_taken_over(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    assert acquire_lease(sessions, LEASE_NAME, "crashed-daemon", tokyo("2027-03-31 23:00"))
    stats = expire(sessions, config, "2027-04-01 00:10")
    assert stats.revoked == [mentor]


def test_lease_released_after_run(sessions, config) -> None:
    add_mentor(sessions, "MM-1", EXPIRES)
    expire(sessions, config, "2027-04-01 00:10")
    with transaction(sessions) as session:
        assert session.get(Lease, LEASE_NAME) is None


def test_two_daemons_revoke_once(sessions, config) -> None:
    mentors = [add_mentor(sessions, f"MM-{index}", EXPIRES) for index in range(10)]
    outcomes = run_together(*[lambda holder=holder: expire(sessions, config, "2027-04-01 00:10", holder)
                               for holder in ("daemon-1", "daemon-2")])
    with transaction(sessions) as session:
        history = session.scalars(select(MentorHistory.mentor_id).order_by(MentorHistory.mentor_id)).all()
    assert sorted(mentor for outcome in outcomes for mentor in outcome.revoked) == mentors
    assert history == mentors
    assert len([key for key in outbox(sessions) if key.startswith("revocation-notice:")]) == len(mentors)
