"""Event notices end to end on the Maildir and file outbox defaults.

The host's challenge list of sample 11-challenge-list arrives and staff approve it by an
authenticated reply. Then the clock moves to the planned send date, and each active
mentor gets exactly one notice with Form 3 and Form 4 attached. A revoked mentor gets none.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from email.message import EmailMessage

from sqlalchemy import select

from mailflow import clock
from mailflow.calendar import format_japanese_date
from mailflow.clock import TOKYO
from mailflow.db.models import Event, Mentor, ReviewItem
from mailflow.db.session import transaction
from mailflow.planning.events import DEFAULT_ATTENDANCE_FORM
from mailflow.review.decisions import DecisionContext, revoke_registration

from tests.conftest import SAMPLE
from tests.integration.harness import FROZEN_NOW, STAFF, sample_mails
from tests.integration.test_hostile_intake import Run
from tests.review.builders import AUTHSERV_ID, PASS, staff_reply

SAMPLE_STEM = "11-challenge-list"
EXPIRES = dt.date(2030, 3, 31)
MENTORS = [("MM-2024-0001", "鈴木 一郎", "ichiro@example.jp"), ("MM-2024-0002", "佐藤 二郎", "jiro@example.jp"),
           ("MM-2024-0003", "高橋 三郎", "saburo@example.jp")]
REVOKED = ("MM-2024-0004", "田中 四郎", "shiro@example.jp")


def add_mentors(run: Run) -> dict[str, int]:
    with transaction(run.app.sessions) as session:
        ids = {}
        for number, name, address in [*MENTORS, REVOKED]:
            mentor = Mentor(registration_number=number, name=name, email=address, status="active",
                            registered_on=dt.date(2024, 4, 1), expires_on=EXPIRES)
            session.add(mentor)
            session.flush()
            ids[address] = mentor.id
        return ids


def run_at(run: Run, moment: dt.datetime):
    clock.set_now(moment)
    try:
        return run.app.run_once()
    finally:
        clock.set_now(None)


def notices(run: Run) -> list:
    return [message for message in run.sent() if "新現役交流会のご案内" in message["subject"]]


def approve_by_reply(run: Run) -> None:
    """Reply to the staff notification of the challenge list with 承認, as an authenticated staff reply."""
    notification = next(message for message in run.to(STAFF) if "課題一覧" in message["subject"])
    token = re.search(r"\[(MF[0-9A-Z]{10})\]", notification["subject"]).group(1)
    clock.set_now(FROZEN_NOW)
    try:
        reply = staff_reply(f"RE: {notification['subject']}", "承認", to=f"intake+{token}@bureau.example.jp",
                            in_reply_to=notification["message-id"], message_id="<event-approve-1@bureau.example.jp>",
                            auth_results=[PASS])
    finally:
        clock.set_now(None)
    run.take_in(reply)


def test_event_notices_reach_each_active_mentor(tmp_path):
    mail = next(sample for sample in sample_mails() if sample.stem == SAMPLE_STEM)
    window = mail.expected["event"]["notice_window"]
    run = Run(tmp_path)
    run.config.staff.authserv_id = AUTHSERV_ID
    ids = add_mentors(run)
    run.take_in(mail.raw)
    approve_by_reply(run)
    with run.app.sessions() as session:
        event = session.scalars(select(Event)).one()
        assert event.state == "approved"
        assert event.days == mail.expected["event"]["days"]
        revoke_registration(DecisionContext(session, run.app, actor=STAFF, channel="cli"),
                            session.get(Mentor, ids[REVOKED[2]]), "requirements_not_met")
        session.commit()

    send_day = dt.date.fromisoformat(window["from"])
    run_at(run, dt.datetime.combine(send_day, dt.time(9, 0), tzinfo=TOKYO))
    sent = notices(run)
    assert sorted(message["to"].addresses[0].addr_spec for message in sent) == sorted(m[2] for m in MENTORS)
    form3 = (SAMPLE / "forms" / "yoshiki3_sample.xlsx").read_bytes()
    for message in sent:
        assert len(message["to"].addresses) == 1
        assert message["cc"] is None
        assert all(not part.defects for part in message.walk())
        attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
        assert attachments[mail.expected["attachments"][0]["filename"]] == form3
        assert DEFAULT_ATTENDANCE_FORM.read_bytes() in attachments.values()
        assert len(attachments) == 2
        first_day = dt.date.fromisoformat(mail.expected["event"]["days"][0])
        assert format_japanese_date(first_day) in message.get_body(("plain",)).get_content()

    run_at(run, dt.datetime.combine(send_day, dt.time(15, 0), tzinfo=TOKYO))
    assert len(notices(run)) == len(MENTORS)
    assert all(REVOKED[2] not in message["to"] for message in run.sent())

    notice = next(message for message in sent if MENTORS[0][2] in message["to"])
    run.take_in(attendance_reply(notice, MENTORS[0][2]))
    with run.app.sessions() as session:
        item = session.scalars(select(ReviewItem).where(ReviewItem.kind == "attendance_form")).one()
        assert item.details["attendance_event"]["event_id"] == event.id
        assert item.mentor_id == ids[MENTORS[0][2]]
        assert item.warnings == []

    run.take_in(attendance_reply(notice, MENTORS[1][2], "<attendance-2@example.jp>"))
    with run.app.sessions() as session:
        forwarded = session.scalars(select(ReviewItem).where(ReviewItem.kind == "attendance_form",
                                                             ReviewItem.id != item.id)).one()
        assert [warning["code"] for warning in forwarded.warnings] == ["attendance_other_notice"]


def attendance_reply(notice, sender: str, message_id: str = "<attendance-1@example.jp>") -> bytes:
    """Return a mentor's reply to ``notice`` with Form 4 attached."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = "intake@bureau.example.jp"
    reply["Subject"] = f"Re: {notice['subject']}"
    reply["Message-ID"] = message_id
    reply["In-Reply-To"] = notice["message-id"]
    reply["References"] = notice["message-id"]
    reply["Date"] = email.utils.format_datetime(FROZEN_NOW)
    reply.set_content("出席希望登録票を送ります。")
    reply.add_attachment(DEFAULT_ATTENDANCE_FORM.read_bytes(), maintype="application",
                         subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename="様式4.xlsx")
    return bytes(reply)


def test_rejected_event_mails_no_mentor(tmp_path):
    mail = next(sample for sample in sample_mails() if sample.stem == SAMPLE_STEM)
    run = Run(tmp_path)
    run.config.staff.authserv_id = AUTHSERV_ID
    add_mentors(run)
    run.take_in(mail.raw)
    notification = next(message for message in run.to(STAFF) if "課題一覧" in message["subject"])
    token = re.search(r"\[(MF[0-9A-Z]{10})\]", notification["subject"]).group(1)
    clock.set_now(FROZEN_NOW)
    try:
        reply = staff_reply(f"RE: {notification['subject']}", "却下 日程が重複しています",
                            to=f"intake+{token}@bureau.example.jp", in_reply_to=notification["message-id"],
                            message_id="<event-reject-1@bureau.example.jp>", auth_results=[PASS])
    finally:
        clock.set_now(None)
    run.take_in(reply)
    send_day = dt.date.fromisoformat(mail.expected["event"]["notice_window"]["from"])
    run_at(run, dt.datetime.combine(send_day, dt.time(9, 0), tzinfo=TOKYO))
    with run.app.sessions() as session:
        assert session.scalars(select(Event)).one().state == "rejected"
    assert notices(run) == []
