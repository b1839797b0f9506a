"""Filing of replies, renewals and repeated applicants, end to end through a Maildir run.

A reply to our own mail that brings no document gets no receipt and opens no renewal,
and its text is shown to staff. Also covered: a renewal naming another person's
registration number, the same person applying twice, and registration mail from
addresses that never get a receipt.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from mailflow.calendar import BusinessCalendar
from mailflow.clock import TOKYO
from mailflow.db.models import Mentor, Outbox, ReviewItem
from mailflow.db.session import transaction
from mailflow.intake.privacy import check_digit
from mailflow.planning.renewals import plan_renewal_reminders, reminder_key
from mailflow.planning.schedule import RenewalRules

from tests.integration.harness import STAFF, sample_mails
from tests.integration.test_hostile_intake import APPLICANT, Run, applicant_receipt, text_mail

EXPIRES = dt.date(2027, 3, 31)
MENTOR_ADDRESS = "koushin@example.jp"
MENTOR_NUMBER = "MM-2023-0101"
STRANGER = "someone@attacker.example"
# The 30-day reminder of a period ending 2027-03-31 falls on 2026-12-31 at 09:00 Tokyo.
THIRTY_DAY_REMINDER = dt.datetime(2026, 12, 31, 9, 0, tzinfo=TOKYO)


def add_mentor(run: Run, name: str = "更新 一郎", birth_date: dt.date | None = None) -> int:
    with transaction(run.app.sessions) as session:
        mentor = Mentor(registration_number=MENTOR_NUMBER, name=name, email=MENTOR_ADDRESS,
                        birth_date=birth_date, registered_on=dt.date(2023, 4, 1), expires_on=EXPIRES,
                        status="active")
        session.add(mentor)
        session.flush()
        return mentor.id


def reminder_planned_later(run: Run, mentor_id: int) -> bool:
    """Plan reminders at the 30-day reminder's time; tell whether that reminder was planned."""
    with transaction(run.app.sessions) as session:
        plan_renewal_reminders(session, run.config, run.app.renderer, BusinessCalendar(), RenewalRules(),
                               THIRTY_DAY_REMINDER)
        key = reminder_key(mentor_id, EXPIRES, 30)
        return session.scalar(select(Outbox.id).where(Outbox.key == key)) is not None


def renewal_items(run: Run) -> list[ReviewItem]:
    with run.app.sessions() as session:
        return list(session.scalars(select(ReviewItem).where(ReviewItem.kind == "renewal")))


def staff_notifications(run: Run) -> list[str]:
    return [message.get_body(("plain",)).get_content() for message in run.to(STAFF)
            if "日次のまとめ" not in message["subject"]]


def individual_number() -> str:
    first = "12345678901"
    return first + str(check_digit(first))


def test_out_of_office_reply_to_reminder_not_renewal(tmp_path):
    run = Run(tmp_path)
    mentor_id = add_mentor(run)
    run.take_in()
    reminder = run.to(MENTOR_ADDRESS)[0]
    run.take_in(text_mail(MENTOR_ADDRESS, f"Re: {reminder['subject']}", "ただいま出張のため不在にしております。",
                          index=1, in_reply_to=reminder["message-id"]))
    item = run.item_of("<hostile-1@example.net>")
    assert item.kind == "other"
    assert item.state == "needs_attention"
    assert renewal_items(run) == []
    assert reminder_planned_later(run, mentor_id)


def test_stranger_renewal_needs_attention(tmp_path):
    run = Run(tmp_path)
    add_mentor(run)
    run.take_in(text_mail(STRANGER, f"登録の更新について（{MENTOR_NUMBER}）",
                          f"登録番号 {MENTOR_NUMBER} の更新です。メールアドレスが変わりました。", index=2))
    item = run.item_of("<hostile-2@example.net>")
    assert item.kind == "renewal"
    assert item.state == "needs_attention"
    assert any("登録アドレスと異なります" in reason for reason in item.details["attention"])
    assert any(MENTOR_NUMBER in reason for reason in item.details["attention"])


def test_stranger_renewal_keeps_reminders(tmp_path):
    run = Run(tmp_path)
    mentor_id = add_mentor(run)
    run.take_in(text_mail(STRANGER, f"登録の更新について（{MENTOR_NUMBER}）",
                          f"登録番号 {MENTOR_NUMBER} の更新を希望します。", index=3))
    assert reminder_planned_later(run, mentor_id)


def test_reply_to_unknown_receipt_id_not_answered(tmp_path):
    # A Message-ID of ours that this database never sent (another database, a restore).
    run = Run(tmp_path)
    receipt = applicant_receipt(run)
    before = len(run.to(APPLICANT))
    domain = run.config.outbound.from_address.rpartition("@")[2]
    for index in range(3):
        run.take_in(text_mail(APPLICANT, f"Re: {receipt['subject']}", "ただいま不在にしております。",
                              index=20 + index, in_reply_to=f"<outbox.receipt.9{index}.17.c20227@{domain}>",
                              minutes=index * 10))
    assert len(run.to(APPLICANT)) == before


def test_withdrawal_reply_quoted_for_staff(tmp_path):
    run = Run(tmp_path)
    receipt = applicant_receipt(run)
    number = individual_number()
    body = f"先日お送りした登録申請は取り下げます。\n個人番号 {number} は書き間違いです。\n\n> 以下は引用です"
    run.take_in(text_mail(APPLICANT, f"Re: {receipt['subject']}", body, index=30,
                          in_reply_to=receipt["message-id"]))
    latest = staff_notifications(run)[-1]
    assert "先日お送りした登録申請は取り下げます。" in latest
    assert number not in latest
    assert "以下は引用です" not in latest


def test_same_applicant_twice_warned(tmp_path):
    run = Run(tmp_path)
    application = next(mail for mail in sample_mails() if mail.stem.startswith("01"))
    run.take_in(application.raw)
    first = run.item_of(application.expected["message_id"])
    again = (application.raw.replace(application.expected["from"]["email"].encode(), b"yamada.t@example.org")
             .replace(application.expected["message_id"].encode(), b"<again-1@example.org>"))
    run.take_in(again)
    second = run.item_of("<again-1@example.org>")
    assert second.id != first.id
    messages = [warning["message"] for warning in second.warnings]
    assert any(first.number in message for message in messages)
    assert any(first.number in body for body in staff_notifications(run))


def test_registered_person_applying_warned(tmp_path):
    run = Run(tmp_path)
    application = next(mail for mail in sample_mails() if mail.stem.startswith("16"))
    applicant = application.expected["applicant"]
    add_mentor(run, name=applicant["name"], birth_date=dt.date.fromisoformat(applicant["birth_date"]))
    run.take_in(application.raw)
    item = run.item_of(application.expected["message_id"])
    assert any(MENTOR_NUMBER in warning["message"] for warning in item.warnings)


def test_machine_and_own_senders_reason_shown(tmp_path):
    run = Run(tmp_path)
    run.take_in(
        text_mail("postmaster@mail.example.net", "配信できませんでした 登録申請", "登録申請書を送付します。", index=40),
        text_mail("intake@bureau.example.jp", "登録申請書の送付", "登録申請書を送付します。", index=41),
    )
    machine = run.item_of("<hostile-40@example.net>")
    own = run.item_of("<hostile-41@example.net>")
    assert machine.state == "needs_attention"
    assert any("機械のアドレス" in reason for reason in machine.details["attention"])
    assert own.state == "needs_attention"
    assert any("当局のアドレス" in reason for reason in own.details["attention"])
