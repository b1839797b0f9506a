"""Decisions on challenge list items: approval, the guard of an ended window, rejection."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from mailflow import clock
from mailflow.calendar import format_japanese_date
from mailflow.commands.queue import render_item_text
from mailflow.db.models import Document, Event, InboundMessage, Outbox
from mailflow.review import events as event_review
from mailflow.review import items as review_items
from mailflow.review import states
from mailflow.review.commands import REGISTRY, help_entries
from tests.review.builders import apply_line, refusal_of

HOST = "tanto@test-cci.example.jp"
# The sample event of 11-challenge-list: its notice window runs from 2027-01-20 to 2027-02-03.
DAYS = ["2027-03-10", "2027-03-11"]
WINDOW_END = dt.date(2027, 2, 3)


@pytest.fixture(autouse=True)
def release_clock():
    yield
    clock.set_now(None)


def filed_event(session, services, days: list[str], problems: list[str] | None = None):
    """File a draft event with its item the way intake does; return (item, event)."""
    item = review_items.create_item(session, event_review.ITEM_KIND, HOST, "山本 真理", 90)
    inbound = InboundMessage(source="test", message_id="<host-1@example.jp>", raw_sha256="1" * 64, raw=b"",
                             size=0, sender_address=HOST, state="processed", references=[])
    event = Event(state=event_review.DRAFT, name="テスト交流会", host="テスト商工会議所", days=days,
                  first_day=dt.date.fromisoformat(days[0]) if days else None, companies=[{"number": 1}],
                  problems=problems or [])
    session.add_all([inbound, event])
    session.flush()
    event_review.link_event_item(session, services.config, item, event, inbound)
    session.flush()
    return item, event


def at_tokyo(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=clock.TOKYO)


def test_approve_event_in_window(session, services):
    clock.set_now(at_tokyo(dt.date(2026, 12, 21)))
    item, event = filed_event(session, services, DAYS)
    assert item.state == states.READY
    result = apply_line(session, services, item, "承認")
    assert event.state == event_review.APPROVED
    assert item.state == states.APPROVED
    assert "2027年1月20日（水） 09:00" in result.summary


def test_ended_window_needs_confirmation(session, services):
    clock.set_now(at_tokyo(dt.date(2026, 12, 21)))
    item, event = filed_event(session, services, DAYS)
    clock.set_now(at_tokyo(WINDOW_END + dt.timedelta(days=1)))
    message = refusal_of(session, services, item, "承認")
    assert event_review.window_ended_reason(WINDOW_END) in message
    assert event.state == event_review.DRAFT
    apply_line(session, services, item, "承認 確認済")
    assert event.state == event_review.APPROVED


def test_unread_days_block_confirmed_approval(session, services):
    clock.set_now(at_tokyo(dt.date(2026, 12, 21)))
    item, event = filed_event(session, services, [], problems=["開催日を読み取れませんでした"])
    assert item.state == states.NEEDS_ATTENTION
    message = refusal_of(session, services, item, "承認 確認済")
    assert "開催日を読み取れていない" in message
    assert "「完了」" in message
    assert event.state == event_review.DRAFT
    assert item.state == states.NEEDS_ATTENTION


def test_discarded_form3_blocks_approval(session, services):
    clock.set_now(at_tokyo(dt.date(2026, 12, 21)))
    item, event = filed_event(session, services, DAYS)
    document = Document(item_id=item.id, part_id="2", role="challenge_list", filename="様式3.xlsx", sha256="", size=10,
                        kept=False, purge_reason="individual_number_found")
    session.add(document)
    session.flush()
    event.document_id = document.id
    message = refusal_of(session, services, item, "承認 確認済", channel="cli")
    assert "ファイルを保存していない" in message
    assert f"mailflow queue done {item.number}" in message
    assert event.state == event_review.DRAFT


def test_done_closes_event(session, services):
    clock.set_now(at_tokyo(dt.date(2026, 12, 21)))
    item, event = filed_event(session, services, [], problems=["開催日を読み取れませんでした"])
    result = apply_line(session, services, item, "完了 開催機関に再送を依頼済み")
    assert event.state == event_review.CLOSED
    assert item.state == states.DONE
    assert "開催案内は送りません" in result.summary
    assert session.scalars(select(Outbox)).all() == []


def test_done_calls_off_approved_event(session, services):
    clock.set_now(at_tokyo(dt.date(2026, 12, 21)))
    item, event = filed_event(session, services, DAYS)
    apply_line(session, services, item, "承認")
    pending = Outbox(key="event-notice:test", kind="event_notice", status="pending", recipients=["m@example.jp"],
                     message_id="<n@bureau.example.jp>", event_id=event.id)
    receipt = Outbox(key="event-receipt:test", kind="receipt_challenge_list", status="sent", recipients=[HOST],
                     message_id="<r@bureau.example.jp>", event_id=event.id)
    session.add_all([pending, receipt])
    session.flush()
    result = apply_line(session, services, item, "完了 開催中止の連絡あり")
    assert (event.state, item.state) == (event_review.CLOSED, states.DONE)
    assert pending.status == "cancelled"
    assert "1 通を取りやめました（送信済み 0 通）" in result.summary


def test_reject_event_mails_nobody(session, services):
    clock.set_now(at_tokyo(dt.date(2026, 12, 21)))
    item, event = filed_event(session, services, DAYS)
    apply_line(session, services, item, "却下 日程が重複しています")
    assert event.state == event_review.REJECTED
    assert item.state == states.REJECTED
    assert session.scalars(select(Outbox)).all() == []


def test_help_entries_for_events():
    entries = {entry["alias"]: entry["description"] for entry in help_entries(event_review.ITEM_KIND)}
    assert "開催案内を送ります" in entries["approve"]
    assert "登録簿" not in entries["approve"]
    assert "開催案内は送りません" in entries["reject"]
    assert "申請者" not in entries["reject"]


def test_help_entries_for_registration_unchanged():
    entries = {entry["alias"]: entry["description"] for entry in help_entries("registration")}
    assert entries["approve"] == REGISTRY.by_name("approve").description


def test_queue_show_lists_event_dates(session, services):
    clock.set_now(at_tokyo(dt.date(2026, 12, 21)))
    item, _ = filed_event(session, services, DAYS)
    text = render_item_text(item, [])
    assert "開催日: 2027年3月10日（水）、2027年3月11日（木）" in text
    assert f"開催案内を送る期間: 2027年1月20日（水） 〜 {format_japanese_date(WINDOW_END)}" in text
    assert "送信予定日: 2027年1月20日（水）" in text
