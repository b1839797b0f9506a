"""Checks made while filing: replies to our mail, quoted reply text, unanswered senders, duplicates."""

from __future__ import annotations

import datetime as dt

import pytest

from mailflow.config import Config
from mailflow.db.models import Mentor
from mailflow.intake.findings import Analysis
from mailflow.intake.message import Message
from mailflow.intake.privacy import check_digit
from mailflow.review import filing_checks
from mailflow.review import states
from tests.review.builders import FORM, make_item


def reply(body: str = "", in_reply_to: str | None = None, html: str = "", masked_for: list[str] | None = None) -> Analysis:
    message = Message(message_id="<reply-1@example.jp>", in_reply_to=in_reply_to, body_text=body, body_html=html)
    return Analysis(message=message, kind="other", decision="process", masked_for=list(masked_for or []))


def test_own_message_id_form_recognised(session):
    config = Config()
    analysis = reply(in_reply_to="<outbox.receipt.3.15.c20227@bureau.example.jp>")
    assert filing_checks.replies_to_our_mail(session, config, analysis.message)


def test_foreign_message_id_not_ours(session):
    config = Config()
    analysis = reply(in_reply_to="<outbox.receipt.3.15.c20227@attacker.example>")
    assert not filing_checks.replies_to_our_mail(session, config, analysis.message)


def test_reply_text_quotes_cut():
    lines = filing_checks.reply_text_lines(reply("取り下げます。\n\n> 元のメール\n> 受付番号 2026-0001"))
    assert lines == ["取り下げます。"]


def test_reply_text_numbers_masked():
    number = "12345678901" + str(check_digit("12345678901"))
    lines = filing_checks.reply_text_lines(reply(f"番号は {number} です"))
    assert number not in lines[0]
    assert "*" * 12 in lines[0]


def test_reply_text_cut_at_limit():
    body = "\n".join(f"{index}行目" for index in range(50))
    lines = filing_checks.reply_text_lines(reply(body))
    assert len(lines) == filing_checks.MAX_REPLY_LINES
    assert lines[-1] == f"（以下 {50 - filing_checks.MAX_REPLY_LINES + 1} 行は省略しました）"


def test_reply_text_from_html():
    lines = filing_checks.reply_text_lines(reply(html="<div>取り下げます。</div>"))
    assert lines == ["取り下げます。"]


def test_machine_sender_reason():
    assert filing_checks.unanswered_sender_reason(Config(), "MAILER-DAEMON@mx.example.net") == \
        filing_checks.MACHINE_ADDRESS_REASON


def test_own_sender_reason():
    assert filing_checks.unanswered_sender_reason(Config(), "Intake@Bureau.example.jp") == \
        filing_checks.OWN_ADDRESS_REASON


def test_person_sender_no_reason():
    assert filing_checks.unanswered_sender_reason(Config(), "taro.yamada@example.jp") is None


def test_duplicate_open_item_named(session, services):
    first = make_item(session, services, state=states.INCOMPLETE)
    second = make_item(session, services, sender="other@example.jp",
                       form={**FORM, "name": "山田　太郎", "email": "other@example.jp"})
    warnings = filing_checks.duplicate_applicant_warnings(session, second)
    assert [warning.code for warning in warnings] == ["same_person_open_item"]
    assert first.number in warnings[0].message


def test_duplicate_closed_item_ignored(session, services):
    make_item(session, services, state=states.REJECTED)
    second = make_item(session, services, sender="other@example.jp")
    assert filing_checks.duplicate_applicant_warnings(session, second) == []


def test_duplicate_mentor_named(session, services):
    session.add(Mentor(registration_number="MM-2023-0101", name="山田太郎", email="m@example.jp",
                       birth_date=dt.date.fromisoformat(FORM["birth_date"]), status="active"))
    item = make_item(session, services)
    warnings = filing_checks.duplicate_applicant_warnings(session, item)
    assert [warning.code for warning in warnings] == ["same_person_registered"]
    assert "MM-2023-0101" in warnings[0].message


def add_mentor(session, status: str) -> Mentor:
    mentor = Mentor(registration_number="MM-2023-0102", name="青木 一郎", email="aoki@example.jp",
                    birth_date=dt.date(1958, 4, 1), status=status)
    session.add(mentor)
    session.flush()
    return mentor


def test_attendance_from_mentor_linked(session, services):
    mentor = add_mentor(session, "active")
    item = make_item(session, services, sender="AOKI@example.jp")
    assert filing_checks.attendance_sender_warning(session, item) is None
    assert item.mentor_id == mentor.id


def test_attendance_from_revoked_mentor_warned(session, services):
    add_mentor(session, "revoked")
    item = make_item(session, services, sender="aoki@example.jp")
    warning = filing_checks.attendance_sender_warning(session, item)
    assert warning.code == "attendance_not_mentor"
    assert item.mentor_id is None


def test_attendance_from_stranger_warned(session, services):
    add_mentor(session, "active")
    item = make_item(session, services, sender="stranger@example.net")
    assert filing_checks.attendance_sender_warning(session, item).code == "attendance_not_mentor"


@pytest.mark.parametrize("answered, codes", [
    ({"number": "E2026-0001", "to_sender": True, "state": "approved"}, []),
    ({"number": "E2026-0001", "to_sender": False, "state": "approved"}, ["attendance_other_notice"]),
    ({"number": "E2026-0001", "to_sender": True, "state": "closed"}, ["attendance_event_closed"]),
])
def test_attendance_event_warnings(answered, codes):
    assert [warning.code for warning in filing_checks.attendance_event_warnings(answered)] == codes
