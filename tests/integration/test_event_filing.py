"""Filing a host's Form 3 that is odd or hostile: each oddity is a problem on the event, never a crash."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from mailflow.db.models import Event
from mailflow.review import events as event_review
from mailflow.review import states

from tests.integration.form3_mails import form3_mail, form3_workbook
from tests.integration.test_hostile_intake import Run


def filed_event(run: Run, message_id: str) -> Event:
    with run.app.sessions() as session:
        return session.scalar(select(Event).where(Event.item_id == run.item_of(message_id).id))


def test_far_event_days_need_attention(tmp_path):
    run = Run(tmp_path)
    far_days = [dt.date(1, 1, 1), dt.date(9999, 12, 31)]
    message_id = "<far-days@test-cci.example.jp>"
    run.take_in(form3_mail(form3_workbook(days=far_days), message_id))
    assert run.inbound(message_id).state == "processed"
    item = run.item_of(message_id)
    assert item.state == states.NEEDS_ATTENTION
    assert event_review.out_of_range_reason(far_days) in item.details["attention"]
    assert filed_event(run, message_id).days == []


def test_far_day_beside_real_day_is_dropped(tmp_path):
    run = Run(tmp_path)
    message_id = "<one-far-day@test-cci.example.jp>"
    run.take_in(form3_mail(form3_workbook(days=[dt.date(2027, 3, 10), dt.date(9999, 12, 31)]), message_id))
    event = filed_event(run, message_id)
    assert event.days == ["2027-03-10"]
    assert event_review.out_of_range_reason([dt.date(9999, 12, 31)]) in event.problems
