"""Renewal reminders: what is planned when, and what stops or cancels them (SQLite and PostgreSQL).

Dates for a period expiring 2027-03-31, computed by hand: the deadline is Sun 2027-01-31.
The reminders fall on Mon 2026-11-02 (90 days), Wed 2026-12-02 (60), Thu 2026-12-31 (30,
moved back from 元日), Fri 2027-01-15 (14, moved back from Sunday) and Fri 2027-01-29 (0,
moved back from Sunday), each at 09:00 Asia/Tokyo.
"""

from __future__ import annotations

import datetime as dt
import email

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailflow.calendar import BusinessCalendar
from mailflow.clock import TOKYO
from mailflow.config import Config
from mailflow.db.models import Mentor, Outbox, ReviewItem
from mailflow.db.session import transaction
from mailflow.outbound.templates import Renderer
from mailflow.planning.renewals import (
    cancel_void_reminders,
    plan_renewal_reminders,
    reminder_key,
    stop_reminders,
)
from mailflow.planning.schedule import RenewalRules
from mailflow.registry.period import late_renewal_warning
from tests.planning.database import add_mentor

EXPIRES = dt.date(2027, 3, 31)


def tokyo(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TOKYO)


def plan(sessions: sessionmaker[Session], config: Config, now: str):
    with transaction(sessions) as session:
        return plan_renewal_reminders(session, config, Renderer(config.templates_dir), BusinessCalendar(),
                                      RenewalRules(), tokyo(now))


def rows(sessions: sessionmaker[Session]) -> list[Outbox]:
    with transaction(sessions) as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)))


def keys(sessions: sessionmaker[Session], status: str | None = None) -> list[str]:
    return [row.key for row in rows(sessions) if status is None or row.status == status]


def add_application(sessions: sessionmaker[Session], mentor_id: int, opened: str, state: str = "ready",
                    decided: str | None = None, sender: str | None = None) -> int:
    with transaction(sessions) as session:
        item = ReviewItem(kind="renewal", state=state, mentor_id=mentor_id, created_at=tokyo(opened),
                          decided_at=tokyo(decided) if decided else None, sender_address=sender)
        session.add(item)
        session.flush()
        return item.id


def test_reminder_planned_on_its_day(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    plan(sessions, config, "2026-11-02 09:00")
    assert keys(sessions) == [reminder_key(mentor, EXPIRES, 90)]


def test_reminder_row_fields(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES, email="mentor@example.jp")
    plan(sessions, config, "2026-11-02 09:00")
    row = rows(sessions)[0]
    assert row.kind == "renewal_reminder"
    assert row.mentor_id == mentor
    assert row.recipients == ["mentor@example.jp"]
    assert row.due_at == tokyo("2026-11-02 09:00")
    assert row.deadline_at == tokyo("2027-02-01 00:00")


def test_reminder_not_before_first_date(sessions, config) -> None:
    add_mentor(sessions, "MM-1", EXPIRES)
    plan(sessions, config, "2026-11-01 23:59")
    assert keys(sessions) == []


def test_reminder_moved_off_holiday(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    plan(sessions, config, "2026-12-31 09:00")
    assert keys(sessions) == [reminder_key(mentor, EXPIRES, 30)]


def test_reminder_planned_once(sessions, config) -> None:
    add_mentor(sessions, "MM-1", EXPIRES)
    first = plan(sessions, config, "2026-12-02 09:00")
    second = plan(sessions, config, "2026-12-03 09:00")
    assert first.planned == 1
    assert second.planned == 0
    assert len(rows(sessions)) == 1


def test_downtime_latest_missed_only(sessions, config) -> None:
    # Down from before the 30-day reminder until after the 14-day one: only the 14 goes out.
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    plan(sessions, config, "2027-01-20 10:00")
    assert keys(sessions) == [reminder_key(mentor, EXPIRES, 14)]


def test_nothing_after_deadline(sessions, config) -> None:
    add_mentor(sessions, "MM-1", EXPIRES)
    plan(sessions, config, "2027-02-01 09:00")
    assert keys(sessions) == []


def test_open_application_stops(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    add_application(sessions, mentor, "2026-12-20 10:00")
    stats = plan(sessions, config, "2027-01-15 09:00")
    assert keys(sessions) == []
    assert stats.stopped_by_application == 1


def test_approved_application_stops(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    add_application(sessions, mentor, "2026-12-20 10:00", "approved", "2027-01-10 10:00")
    plan(sessions, config, "2027-01-15 09:00")
    assert keys(sessions) == []


def test_registered_address_application_stops(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES, email="mentor@example.jp")
    add_application(sessions, mentor, "2026-12-20 10:00", sender="Mentor@Example.jp")
    stats = plan(sessions, config, "2027-01-15 09:00")
    assert stats.stopped_by_application == 1


def test_other_address_application_not_stopping(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES, email="mentor@example.jp")
    add_application(sessions, mentor, "2026-12-20 10:00", sender="someone@attacker.example")
    stats = plan(sessions, config, "2027-01-15 09:00")
    assert keys(sessions) == [reminder_key(mentor, EXPIRES, 14)]
    assert stats.stopped_by_application == 0


def test_other_address_application_pending_kept(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES, email="mentor@example.jp")
    plan(sessions, config, "2027-01-15 09:00")
    add_application(sessions, mentor, "2027-01-15 09:00", sender="someone@attacker.example")
    with transaction(sessions) as session:
        cancelled = cancel_void_reminders(session, tokyo("2027-01-15 09:01"))
    assert cancelled == 0


def test_other_address_application_approved_stops(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES, email="mentor@example.jp")
    add_application(sessions, mentor, "2026-12-20 10:00", "approved", "2027-01-10 10:00",
                    sender="new-address@example.jp")
    plan(sessions, config, "2027-01-15 09:00")
    assert keys(sessions) == []


def test_rejection_resumes_next(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    add_application(sessions, mentor, "2027-01-10 10:00", "rejected", "2027-01-20 15:00")
    plan(sessions, config, "2027-01-21 09:00")
    skipped = keys(sessions)
    plan(sessions, config, "2027-01-29 09:00")
    assert skipped == []
    assert keys(sessions) == [reminder_key(mentor, EXPIRES, 0)]


def test_earlier_period_application_ignored(sessions, config) -> None:
    # An application approved for the period that ended 2023-03-31 does not stop these.
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    add_application(sessions, mentor, "2023-01-10 10:00", "approved", "2023-02-01 10:00")
    plan(sessions, config, "2026-11-02 09:00")
    assert keys(sessions) == [reminder_key(mentor, EXPIRES, 90)]


def test_inactive_mentor_skipped(sessions, config) -> None:
    add_mentor(sessions, "MM-1", EXPIRES, status="withdrawn")
    plan(sessions, config, "2026-11-02 09:00")
    assert keys(sessions) == []


def test_mentor_without_email_skipped(sessions, config) -> None:
    add_mentor(sessions, "MM-1", EXPIRES, email=None)
    stats = plan(sessions, config, "2026-11-02 09:00")
    assert keys(sessions) == []
    assert stats.no_email == 1


def test_invalid_expiry_skipped(sessions, config) -> None:
    add_mentor(sessions, "MM-1", dt.date(2027, 3, 30))
    stats = plan(sessions, config, "2026-11-02 09:00")
    assert keys(sessions) == []
    assert stats.invalid_expiry == 1


def test_pending_past_deadline_cancelled(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    plan(sessions, config, "2027-01-29 09:00")
    with transaction(sessions) as session:
        cancelled = cancel_void_reminders(session, tokyo("2027-02-01 00:00"))
    assert cancelled == 1
    assert keys(sessions, "cancelled") == [reminder_key(mentor, EXPIRES, 0)]


def test_pending_before_deadline_kept(sessions, config) -> None:
    plan_mentor = add_mentor(sessions, "MM-1", EXPIRES)
    plan(sessions, config, "2027-01-29 09:00")
    with transaction(sessions) as session:
        cancelled = cancel_void_reminders(session, tokyo("2027-01-31 23:59"))
    assert cancelled == 0
    assert keys(sessions, "pending") == [reminder_key(plan_mentor, EXPIRES, 0)]


def test_pending_cancelled_by_application(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    plan(sessions, config, "2027-01-15 09:00")
    add_application(sessions, mentor, "2027-01-15 09:00")
    with transaction(sessions) as session:
        cancelled = cancel_void_reminders(session, tokyo("2027-01-15 09:01"))
    assert cancelled == 1


def test_stop_reminders_cancels(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    plan(sessions, config, "2027-01-15 09:00")
    with transaction(sessions) as session:
        cancelled = stop_reminders(session, mentor)
    assert cancelled == 1
    assert keys(sessions, "pending") == []


def test_sent_reminder_not_cancelled(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", EXPIRES)
    plan(sessions, config, "2027-01-29 09:00")
    with transaction(sessions) as session:
        session.scalars(select(Outbox)).one().status = "sent"
    with transaction(sessions) as session:
        cancel_void_reminders(session, tokyo("2027-02-02 09:00"))
    assert keys(sessions, "sent") == [reminder_key(mentor, EXPIRES, 0)]


def test_reminder_body_dates(sessions, config) -> None:
    add_mentor(sessions, "MM-1", EXPIRES)
    plan(sessions, config, "2026-11-02 09:00")
    row = rows(sessions)[0]
    assert "2027年1月31日（日）" in row.subject
    assert "あと90日" in body_text(row)


def body_text(row: Outbox) -> str:
    return email.message_from_bytes(row.raw).get_payload(decode=True).decode("utf-8")


def test_late_renewal_on_time() -> None:
    mentor = Mentor(expires_on=EXPIRES)
    assert late_renewal_warning(mentor, dt.date(2027, 1, 31)) is None


def test_late_renewal_after_deadline() -> None:
    warning = late_renewal_warning(Mentor(expires_on=EXPIRES), dt.date(2027, 2, 1))
    assert warning["code"] == "late_renewal"
    assert warning["values"] == {"received_on": "2027-02-01", "renewal_deadline": "2027-01-31",
                                 "expires_on": "2027-03-31"}


def test_late_renewal_after_expiry() -> None:
    warning = late_renewal_warning(Mentor(expires_on=EXPIRES), dt.date(2027, 4, 1))
    assert warning["code"] == "renewal_after_expiry"


def test_late_renewal_without_expiry() -> None:
    assert late_renewal_warning(Mentor(expires_on=None), dt.date(2027, 4, 1)) is None
