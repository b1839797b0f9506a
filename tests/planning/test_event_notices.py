"""Event notice planner: send dates on a frozen clock, a window end moved off a holiday, the digest lines."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from mailflow import clock
from mailflow.calendar import BusinessCalendar
from mailflow.clock import TOKYO
from mailflow.db.models import Document, Event, Outbox
from mailflow.db.session import transaction
from mailflow.outbound.templates import Renderer
from mailflow.planning.events import (
    NO_FORM3,
    digest_lines,
    notice_key,
    notice_schedule,
    plan_event_notices,
)
from mailflow.storage import DocumentStore
from tests.integration.form3_mails import SAMPLE_FORM3, with_members
from tests.planning.database import add_mentor
from tests.review.builders import Services

# Five weeks before this first day is 2027-02-11 (Thursday), 建国記念の日, so the window
# ends on Wednesday 2027-02-10. Seven weeks before is Thursday 2027-01-28, a business day.
FIRST_DAY = dt.date(2027, 3, 18)
WINDOW_START = dt.date(2027, 1, 28)
WINDOW_END = dt.date(2027, 2, 10)
# 14 days before the first day (the default of events.reply_days_before), a Thursday.
REPLY_BY = dt.date(2027, 3, 4)
EXPIRES = dt.date(2030, 3, 31)
FORM3 = b"PK\x03\x04 form 3 bytes"


def tokyo(day: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TOKYO)


@pytest.fixture
def services(config, tmp_path) -> Services:
    return Services(config, Renderer(config.templates_dir), DocumentStore(tmp_path / "documents"))


@pytest.fixture(autouse=True)
def release_clock():
    yield
    clock.set_now(None)


def add_event(sessions, services, state: str = "approved", held_reason: str | None = None,
              form3: bytes = FORM3) -> int:
    with transaction(sessions) as session:
        document = Document(part_id="2", role="challenge_list", filename="様式3.xlsx",
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            sha256="0" * 64, size=len(form3), storage_id=services.store.put(form3), kept=True,
                            held_reason=held_reason)
        session.add(document)
        session.flush()
        event = Event(state=state, name="テスト交流会", host="テスト商工会議所", venue="会議室",
                      days=[FIRST_DAY.isoformat()], first_day=FIRST_DAY, companies=[{"number": 1}],
                      document_id=document.id)
        session.add(event)
        session.flush()
        return event.id


def plan_at(sessions, services, moment: dt.datetime):
    clock.set_now(moment)
    with transaction(sessions) as session:
        return plan_event_notices(session, services, BusinessCalendar(), clock.now())


def notices(sessions) -> list[Outbox]:
    with sessions() as session:
        return list(session.scalars(select(Outbox).where(Outbox.kind == "event_notice").order_by(Outbox.id)))


def test_window_end_moved_off_holiday(sessions, services):
    event_id = add_event(sessions, services)
    with sessions() as session:
        schedule = notice_schedule(session.get(Event, event_id), services.config, BusinessCalendar())
    assert schedule.window.window_start == WINDOW_START
    assert schedule.window.window_end == WINDOW_END
    assert schedule.send_at == tokyo(WINDOW_START, 9)
    assert schedule.deadline_at == tokyo(WINDOW_END + dt.timedelta(days=1))
    assert schedule.reply_by == REPLY_BY


def test_nothing_before_send_time(sessions, services):
    add_event(sessions, services)
    add_mentor(sessions, "MM-1", EXPIRES)
    stats = plan_at(sessions, services, tokyo(WINDOW_START, 8, 59))
    assert stats.planned == 0
    assert notices(sessions) == []


def test_planned_at_send_time(sessions, services):
    event_id = add_event(sessions, services)
    mentor_id = add_mentor(sessions, "MM-1", EXPIRES)
    plan_at(sessions, services, tokyo(WINDOW_START, 9))
    rows = notices(sessions)
    assert [row.key for row in rows] == [notice_key(event_id, mentor_id)]
    assert clock.as_utc(rows[0].due_at) == tokyo(WINDOW_START, 9)
    assert clock.as_utc(rows[0].deadline_at) == tokyo(WINDOW_END + dt.timedelta(days=1))


def test_late_run_due_now(sessions, services):
    add_event(sessions, services)
    add_mentor(sessions, "MM-1", EXPIRES)
    late = tokyo(WINDOW_END, 15, 30)
    plan_at(sessions, services, late)
    assert clock.as_utc(notices(sessions)[0].due_at) == late


def test_nothing_after_window_end(sessions, services):
    add_event(sessions, services)
    add_mentor(sessions, "MM-1", EXPIRES)
    stats = plan_at(sessions, services, tokyo(WINDOW_END + dt.timedelta(days=1)))
    assert stats.planned == 0
    assert notices(sessions) == []


def test_draft_event_not_planned(sessions, services):
    add_event(sessions, services, state="draft")
    add_mentor(sessions, "MM-1", EXPIRES)
    plan_at(sessions, services, tokyo(WINDOW_START, 9))
    assert notices(sessions) == []


def test_later_mentor_planned_next_run(sessions, services):
    event_id = add_event(sessions, services)
    add_mentor(sessions, "MM-1", EXPIRES)
    plan_at(sessions, services, tokyo(WINDOW_START, 9))
    later = add_mentor(sessions, "MM-2", EXPIRES)
    add_mentor(sessions, "MM-3", EXPIRES, status="revoked")
    stats = plan_at(sessions, services, tokyo(WINDOW_START + dt.timedelta(days=1), 9))
    assert stats.planned == 1
    assert notices(sessions)[-1].key == notice_key(event_id, later)
    assert len(notices(sessions)) == 2


def test_held_form3_blocks_notices(sessions, services):
    add_event(sessions, services, held_reason="暗号化されています")
    add_mentor(sessions, "MM-1", EXPIRES)
    stats = plan_at(sessions, services, tokyo(WINDOW_START, 9))
    assert stats.blocked == 1
    assert notices(sessions) == []


def test_digest_waiting_before_send_date(sessions, services):
    event_id = add_event(sessions, services)
    with sessions() as session:
        waiting, missed = digest_lines(session, services.config, BusinessCalendar(), WINDOW_START - dt.timedelta(days=1))
    assert [line.event_id for line in waiting] == [event_id]
    assert waiting[0].planned_send_date == WINDOW_START
    assert missed == []


def test_digest_missed_after_window(sessions, services):
    event_id = add_event(sessions, services, held_reason="暗号化されています")
    with sessions() as session:
        waiting, missed = digest_lines(session, services.config, BusinessCalendar(), WINDOW_END + dt.timedelta(days=1))
    assert waiting == []
    assert [line.event_id for line in missed] == [event_id]
    assert missed[0].note == NO_FORM3


def test_digest_omits_planned_event(sessions, services):
    add_event(sessions, services)
    add_mentor(sessions, "MM-1", EXPIRES)
    plan_at(sessions, services, tokyo(WINDOW_START, 9))
    with sessions() as session:
        lines = digest_lines(session, services.config, BusinessCalendar(), WINDOW_END + dt.timedelta(days=1))
    assert lines == ([], [])


def test_same_form3_one_notice_each(sessions, services):
    first_id = add_event(sessions, services)
    add_event(sessions, services)
    mentor_ids = [add_mentor(sessions, "MM-1", EXPIRES), add_mentor(sessions, "MM-2", EXPIRES)]
    plan_at(sessions, services, tokyo(WINDOW_START, 9))
    plan_at(sessions, services, tokyo(WINDOW_START, 15))
    rows = notices(sessions)
    assert sorted(row.mentor_id for row in rows) == sorted(mentor_ids)
    assert {row.event_id for row in rows} == {first_id}
    with sessions() as session:
        lines = digest_lines(session, services.config, BusinessCalendar(), WINDOW_START)
    assert lines == ([], [])


def test_macro_form3_never_sent(sessions, services):
    add_event(sessions, services, form3=with_members(SAMPLE_FORM3.read_bytes(), {"xl/vbaProject.bin": b"vba"}))
    add_mentor(sessions, "MM-1", EXPIRES)
    stats = plan_at(sessions, services, tokyo(WINDOW_START, 9))
    assert stats.blocked == 1
    assert notices(sessions) == []
