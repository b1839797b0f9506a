"""Effects of each staff decision on the registry, the item, the audit trail and the outbox."""

from __future__ import annotations

import datetime as dt
import email
import json

import pytest
from sqlalchemy import select

from mailflow.db.models import AuditEntry, Document, Mentor, MentorHistory, Outbox
from mailflow.errors import MailflowError
from mailflow.intake.parse import parse_message
from mailflow.registry import mentors as registry
from mailflow.registry.period import PeriodSettings, registration_period, renewal_period
from mailflow.review import states
from mailflow.review.commands import ParsedCommand, parse_command
from mailflow.review.decisions import DecisionContext, apply_command, revoke_mentor
from mailflow.review.notify import plan_staff_notifications
from tests.conftest import SAMPLE
from tests.review.builders import APPLICANT, STAFF, make_item

MAILBOX = SAMPLE / "mailbox"
TODAY = dt.date(2026, 12, 14)


def _apply(session, services, item, line: str):
    parsed = parse_command(line)
    assert isinstance(parsed, ParsedCommand), parsed
    context = DecisionContext(session, services, actor=STAFF, source_message_id="<decision@bureau.example.jp>")
    result = apply_command(context, item, parsed)
    session.flush()
    return result


def _mail(session, kind: str) -> Outbox:
    return session.scalars(select(Outbox).where(Outbox.kind == kind)).one()


def _text(row: Outbox) -> str:
    return parse_message(row.raw).body_text


def _mentor(session, **values) -> Mentor:
    mentor = Mentor(name=values.pop("name", "中村 誠"), status="active", **values)
    session.add(mentor)
    session.flush()
    return mentor


def _sample_body(stem: str) -> tuple[str, dict]:
    message = parse_message((MAILBOX / f"{stem}.eml").read_bytes())
    return message.body_text, json.loads((MAILBOX / f"{stem}.json").read_text(encoding="utf-8"))


def test_approve_registration_registers(session, services):
    item = make_item(session, services)
    _apply(session, services, item, "承認")
    mentor = session.scalars(select(Mentor)).one()
    expected = registration_period(TODAY, PeriodSettings.from_config(services.config.registry))
    assert mentor.registration_number == "MM-2026-0001"
    assert (mentor.registered_on, mentor.expires_on) == (TODAY, expected.expires_on)
    assert mentor.status == registry.ACTIVE
    assert item.state == states.APPROVED
    assert item.mentor_id == mentor.id


def test_approve_registration_history_and_audit(session, services):
    item = make_item(session, services)
    _apply(session, services, item, "承認")
    history = session.scalars(select(MentorHistory)).one()
    audit = session.scalars(select(AuditEntry)).one()
    assert history.action == "registered"
    assert history.changes["expires_on"]["new"] == "2030-03-31"
    assert (audit.item_id, audit.actor, audit.action, audit.source_message_id) == \
        (item.id, STAFF, "approve", "<decision@bureau.example.jp>")
    assert (audit.detail["state_from"], audit.detail["state_to"]) == ("ready", "approved")


def test_approve_registration_result_mail(session, services):
    item = make_item(session, services)
    _apply(session, services, item, "承認")
    row = _mail(session, "result_approved")
    text = _text(row)
    assert row.recipients == [APPLICANT]
    assert "MM-2026-0001" in text
    assert "2030年3月31日" in text
    assert email.message_from_bytes(row.raw)["In-Reply-To"] == item.thread_ids[0]


def test_registration_numbers_count_up(session, services):
    first = make_item(session, services)
    second = make_item(session, services, form={"name": "佐藤 花子", "birth_date": "1962-05-05"})
    _apply(session, services, first, "承認")
    _apply(session, services, second, "承認")
    numbers = sorted(session.scalars(select(Mentor.registration_number)))
    assert numbers == ["MM-2026-0001", "MM-2026-0002"]


def test_approve_registration_twice_for_same_person_fails(session, services):
    _apply(session, services, make_item(session, services), "承認")
    again = make_item(session, services)
    with pytest.raises(MailflowError):
        _apply(session, services, again, "承認")
    assert again.state == states.READY
    assert len(session.scalars(select(Mentor)).all()) == 1


def test_approve_incomplete_item_fails_cleanly(session, services):
    item = make_item(session, services, state=states.INCOMPLETE)
    with pytest.raises(MailflowError):
        _apply(session, services, item, "承認")
    assert item.state == states.INCOMPLETE
    assert session.scalars(select(AuditEntry)).all() == []
    assert session.scalars(select(Outbox)).all() == []


def test_approve_renewal_extends_period(session, services):
    mentor = _mentor(session, name="山田 太郎", registration_number="MM-2023-0007", email=APPLICANT,
                     birth_date=dt.date(1960, 4, 1), registered_on=dt.date(2023, 6, 1),
                     expires_on=dt.date(2027, 3, 31))
    item = make_item(session, services, kind="renewal",
                     form={"name": "山田 太郎", "birth_date": "1960-04-01", "registration_number": "MM-2023-0007"})
    _apply(session, services, item, "承認")
    expected = renewal_period(dt.date(2027, 3, 31), TODAY, PeriodSettings.from_config(services.config.registry))
    assert mentor.expires_on == expected.expires_on
    assert session.scalars(select(MentorHistory.action)).all() == ["renewed"]
    assert "2031年3月31日" in _text(_mail(session, "result_renewed"))


def test_approve_renewal_matches_name_and_birth_date(session, services):
    mentor = _mentor(session, name="山田　太郎", registration_number="MM-2023-0007", email="old@example.jp",
                     birth_date=dt.date(1960, 4, 1), expires_on=dt.date(2027, 3, 31))
    item = make_item(session, services, kind="renewal", form={"name": "山田 太郎", "birth_date": "1960-04-01"})
    _apply(session, services, item, "承認")
    assert item.mentor_id == mentor.id


def test_approve_renewal_unknown_mentor_fails(session, services):
    item = make_item(session, services, kind="renewal", form={"name": "誰か", "birth_date": "1950-01-01"})
    with pytest.raises(MailflowError):
        _apply(session, services, item, "承認")
    assert item.state == states.READY


def test_change_notice_sample_applied(session, services):
    body, expected = _sample_body("08-change-notice")
    mentor = _mentor(session, registration_number=expected["applicant"]["registration_number"],
                     email=expected["from"]["email"], address=expected["change_notice"]["address"]["old"],
                     phone=expected["change_notice"]["phone"]["old"])
    item = make_item(session, services, kind="change_notice", sender=expected["from"]["email"], body=body)
    _apply(session, services, item, "承認")
    for field_name in ("address", "phone", "postal_code"):
        assert getattr(mentor, field_name) == expected["change_notice"][field_name]["new"], field_name
    history = session.scalars(select(MentorHistory)).one()
    assert history.changes["phone"] == expected["change_notice"]["phone"]
    assert _mail(session, "change_confirmation").recipients == [expected["from"]["email"]]


def test_change_notice_from_new_address_needs_confirmation(session, services):
    body, expected = _sample_body("08-change-notice")
    mentor = _mentor(session, registration_number=expected["applicant"]["registration_number"],
                     email="old-address@example.jp")
    item = make_item(session, services, kind="change_notice", sender=expected["from"]["email"], body=body)
    plan_staff_notifications(session, services, flush=True)
    assert item.mentor_id == mentor.id
    assert item.details["mentor_match"] == {"method": "registration_number", "confirm": True}
    assert "ご本人からの届出か確認" in _text(_mail(session, "staff_notification"))


def test_withdrawal_sample_ends_registration(session, services):
    body, expected = _sample_body("09-withdrawal")
    mentor = _mentor(session, name="小林 正", registration_number=expected["applicant"]["registration_number"],
                     email=expected["from"]["email"])
    pending = Outbox(key="event-notice:1", kind="event_notice", recipients=[mentor.email], message_id="<n@x>",
                     mentor_id=mentor.id)
    session.add(pending)
    item = make_item(session, services, kind="withdrawal", sender=expected["from"]["email"], body=body)
    _apply(session, services, item, "承認")
    assert (mentor.status, mentor.status_reason) == (registry.WITHDRAWN, expected["withdrawal"]["reason"])
    assert pending.status == "cancelled"
    assert _mail(session, "withdrawal_confirmation").status == "pending"


def test_revoke_by_bureau(session, services):
    mentor = _mentor(session, registration_number="MM-2024-0003", email="m@example.jp")
    context = DecisionContext(session, services, actor="admin", channel="cli")
    revoke_mentor(context, mentor, "requirements_not_met")
    assert (mentor.status, mentor.status_reason) == (registry.REVOKED, "requirements_not_met")
    assert registry.REVOCATION_REASONS["requirements_not_met"] in _text(_mail(session, "revocation_confirmation"))


def test_revoke_withdrawn_mentor_fails(session, services):
    mentor = _mentor(session, registration_number="MM-2024-0003", email="m@example.jp", status_reason=None)
    mentor.status = registry.WITHDRAWN
    with pytest.raises(MailflowError):
        revoke_mentor(DecisionContext(session, services, actor="admin"), mentor, "not_renewed")


def test_reject_mails_reason(session, services):
    item = make_item(session, services)
    _apply(session, services, item, "却下 年齢の要件を満たさないため")
    assert (item.state, item.decision_reason) == (states.REJECTED, "年齢の要件を満たさないため")
    assert "年齢の要件を満たさないため" in _text(_mail(session, "result_rejected"))


def test_return_mails_corrections(session, services):
    item = make_item(session, services)
    _apply(session, services, item, "差戻し 生年月日が空欄です")
    assert item.state == states.RETURNED
    assert "生年月日が空欄です" in _text(_mail(session, "result_returned"))


def test_received_by_post_makes_ready_and_notifies(session, services):
    item = make_item(session, services, state=states.INCOMPLETE)
    item.checklist = {**item.checklist, "identity_document": False}
    _apply(session, services, item, "郵送受領 本人確認書類")
    assert item.checklist["identity_document"] is True
    assert item.state == states.READY
    assert plan_staff_notifications(session, services, flush=True) == 1


def test_resubmit_purges_document(session, services):
    item = make_item(session, services, documents={"identity_document": b"scan", "pledge_form": b"pdf"})
    identity = session.scalars(select(Document).where(Document.role == "identity_document")).one()
    storage_id = identity.storage_id
    _apply(session, services, item, "再提出 本人確認書類 住所が読めません")
    assert identity.storage_id is None
    assert identity.purge_reason == "resubmission_requested"
    assert services.store.exists(storage_id) is False
    assert item.checklist["identity_document"] is False
    assert item.state == states.INCOMPLETE
    assert "住所が読めません" in _text(_mail(session, "result_resubmission"))


def test_hold_and_resume(session, services):
    item = make_item(session, services)
    _apply(session, services, item, "保留")
    assert item.state == states.ON_HOLD
    _apply(session, services, item, "再開")
    assert item.state == states.READY


def test_resume_when_not_held_fails(session, services):
    item = make_item(session, services)
    with pytest.raises(MailflowError):
        _apply(session, services, item, "再開")


def test_note_kept_on_item(session, services):
    item = make_item(session, services)
    _apply(session, services, item, "メモ 電話で本人確認済み")
    assert item.details["notes"][0]["text"] == "電話で本人確認済み"
    assert item.state == states.READY


def test_command_for_other_kind_fails(session, services):
    item = make_item(session, services, kind="inquiry")
    with pytest.raises(MailflowError, match="問い合わせ"):
        _apply(session, services, item, "承認")
