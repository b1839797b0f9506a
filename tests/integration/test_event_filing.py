"""Filing a host's Form 3 that is odd or hostile: each oddity is a problem on the event, never a crash."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from mailflow.db.models import Event
from mailflow.errors import MailflowError
from mailflow.intake.forms.challenge_list import MAX_EVENT_TEXT
from mailflow.review import event_checks, states
from mailflow.review import events as event_review
from mailflow.review.items import event_number
from tests.integration.form3_mails import (
    SAMPLE_FORM3,
    form3_mail,
    form3_workbook,
    with_members,
)
from tests.integration.harness import STAFF, documents_of
from tests.integration.test_hostile_intake import Run
from tests.review.builders import run_cli

# A staff notification of one challenge list fits on a screen or two, whatever the list holds.
MAX_NOTIFICATION_LINES = 100


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


def test_unnumbered_rows_stay_short(tmp_path):
    run = Run(tmp_path)
    message_id = "<unnumbered-rows@test-cci.example.jp>"
    run.take_in(form3_mail(form3_workbook(extra_rows=300, unnumbered=True), message_id))
    attention = run.item_of(message_id).details["attention"]
    assert len(attention) == 1
    assert "ほか 290 件" in attention[0]
    notification = next(message for message in run.to(STAFF) if "課題一覧" in message["subject"])
    assert len(notification.get_body(("plain",)).get_content().splitlines()) < MAX_NOTIFICATION_LINES


def test_long_venue_cut_at_filing(tmp_path):
    run = Run(tmp_path)
    message_id = "<long-venue@test-cci.example.jp>"
    run.take_in(form3_mail(form3_workbook(venue="会" * 20000), message_id))
    event = filed_event(run, message_id)
    assert len(event.venue) == MAX_EVENT_TEXT
    assert run.item_of(message_id).state == states.NEEDS_ATTENTION


def test_resent_form3_names_first_event(tmp_path):
    run = Run(tmp_path)
    workbook = SAMPLE_FORM3.read_bytes()
    run.take_in(form3_mail(workbook, "<first-send@test-cci.example.jp>"))
    run.take_in(form3_mail(workbook, "<second-send@test-cci.example.jp>"))
    first = filed_event(run, "<first-send@test-cci.example.jp>")
    second = run.item_of("<second-send@test-cci.example.jp>")
    assert second.state == states.NEEDS_ATTENTION
    assert any(event_number(first) in reason for reason in second.details["attention"])
    assert run.item_of("<first-send@test-cci.example.jp>").state == states.READY


def test_same_host_and_day_flagged(tmp_path):
    run = Run(tmp_path)
    run.take_in(form3_mail(SAMPLE_FORM3.read_bytes(), "<original@test-cci.example.jp>"))
    run.take_in(form3_mail(form3_workbook(venue="別の会場"), "<revised@test-cci.example.jp>"))
    first = filed_event(run, "<original@test-cci.example.jp>")
    revised = run.item_of("<revised@test-cci.example.jp>")
    assert any(event_number(first) in reason for reason in revised.details["attention"])


def test_macro_workbook_held(tmp_path):
    run = Run(tmp_path)
    message_id = "<macro@test-cci.example.jp>"
    run.take_in(form3_mail(with_members(SAMPLE_FORM3.read_bytes(), {"xl/vbaProject.bin": b"vba"}), message_id))
    reason = event_checks.active_content_reason([event_checks.MACRO])
    item = run.item_of(message_id)
    assert reason in item.details["attention"]
    assert [document.held_reason for document in documents_of(run.app, item.id)] == [reason]


def test_macro_workbook_not_approvable_even_confirmed(tmp_path):
    run = Run(tmp_path)
    message_id = "<macro-approve@test-cci.example.jp>"
    run.take_in(form3_mail(with_members(SAMPLE_FORM3.read_bytes(), {"xl/vbaProject.bin": b"vba"}), message_id))
    item = run.item_of(message_id)
    with pytest.raises(MailflowError, match="保留"):
        run_cli(run.config, "queue", "approve", item.number, "--force")
    assert filed_event(run, message_id).state == event_review.DRAFT


def test_notification_help_fits_events(tmp_path):
    run = Run(tmp_path)
    run.take_in(form3_mail(SAMPLE_FORM3.read_bytes(), "<help-text@test-cci.example.jp>"))
    notification = next(message for message in run.to(STAFF) if "課題一覧" in message["subject"])
    body = notification.get_body(("plain",)).get_content()
    assert "登録簿を更新し" not in body
    assert "理由を申請者に" not in body
    assert "登録メンターへの開催案内は送りません" in body
