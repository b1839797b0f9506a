"""Approval of an application: refused while documents are missing or attention reasons are open."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailflow.db.models import AuditEntry, Mentor, Outbox
from mailflow.errors import MailflowError
from mailflow.intake.findings import DOCUMENT_LABELS
from mailflow.intake.parse import parse_message
from mailflow.review import states
from mailflow.review.approval import UNSTATED_ATTENTION, check_approval
from mailflow.review.commands import DOCUMENT_NAMES
from mailflow.review.replies import HELP_MAILS_PER_HOUR, handle_staff_reply
from tests.review.builders import STAFF, apply_line, make_item, staff_reply, store_reply

ATTENTION = "本人確認書類に個人番号が写っていたため、保存していません"


def _refusal(session, services, item, line: str, channel: str = "mail") -> str:
    with pytest.raises(MailflowError) as caught:
        apply_line(session, services, item, line, channel)
    return caught.value.message


def _without_identity(session, services, state: str = states.NEEDS_ATTENTION):
    item = make_item(session, services, state=state)
    item.checklist = {**item.checklist, "identity_document": False}
    item.details = {**item.details, "attention": [ATTENTION]}
    return item


def test_missing_document_refused(session, services):
    item = _without_identity(session, services)
    message = _refusal(session, services, item, "承認")
    assert DOCUMENT_LABELS["identity_document"] in message
    assert f"「郵送受領 {DOCUMENT_NAMES['identity_document']}」" in message


def test_missing_document_changes_nothing(session, services):
    item = _without_identity(session, services)
    _refusal(session, services, item, "承認")
    assert item.state == states.NEEDS_ATTENTION
    assert session.scalars(select(Mentor)).all() == []
    assert session.scalars(select(AuditEntry)).all() == []
    assert session.scalars(select(Outbox)).all() == []


def test_missing_document_not_overridable(session, services):
    item = _without_identity(session, services)
    message = _refusal(session, services, item, "承認 確認済")
    assert "書類がそろわないまま承認することはできません" in message
    assert session.scalars(select(Mentor)).all() == []


def test_incomplete_item_names_missing_documents(session, services):
    item = make_item(session, services, state=states.INCOMPLETE)
    item.checklist = {"registration_form": True, "pledge_form": False, "identity_document": False}
    message = _refusal(session, services, item, "承認")
    assert DOCUMENT_LABELS["pledge_form"] in message
    assert DOCUMENT_LABELS["identity_document"] in message
    assert DOCUMENT_LABELS["registration_form"] not in message


def test_cli_refusal_names_cli_commands(session, services):
    item = _without_identity(session, services)
    message = _refusal(session, services, item, "approve", channel="cli")
    assert f"mailflow queue received {item.number} {DOCUMENT_NAMES['identity_document']}" in message
    assert f"mailflow queue approve {item.number} --force" in message


def test_attention_reason_refused(session, services):
    item = make_item(session, services, state=states.NEEDS_ATTENTION)
    item.details = {**item.details, "attention": [ATTENTION]}
    message = _refusal(session, services, item, "承認")
    assert ATTENTION in message
    assert "「承認 確認済」" in message
    assert item.state == states.NEEDS_ATTENTION


def test_attention_without_recorded_reason_refused(session, services):
    item = make_item(session, services, state=states.NEEDS_ATTENTION)
    assert check_approval(item).attention == (UNSTATED_ATTENTION,)


def test_confirmed_attention_approves(session, services):
    item = make_item(session, services, state=states.NEEDS_ATTENTION)
    item.details = {**item.details, "attention": [ATTENTION]}
    result = apply_line(session, services, item, "承認 確認済 窓口で原本を確認しました")
    assert item.state == states.APPROVED
    assert session.scalars(select(Mentor)).one().id == item.mentor_id
    assert "確認済みとして承認しました" in result.summary


def test_confirmed_attention_audited(session, services):
    item = make_item(session, services, state=states.NEEDS_ATTENTION)
    item.details = {**item.details, "attention": [ATTENTION]}
    apply_line(session, services, item, "承認 確認済 窓口で原本を確認しました")
    audit = session.scalars(select(AuditEntry)).one()
    assert audit.action == "approve"
    assert audit.detail["override"] is True
    assert audit.detail["confirmed_attention"] == [ATTENTION]
    assert audit.detail["argument"] == "窓口で原本を確認しました"
    assert audit.detail["state_from"] == states.NEEDS_ATTENTION


def test_received_by_post_then_confirmed(session, services):
    item = _without_identity(session, services)
    apply_line(session, services, item, "郵送受領 本人確認書類")
    apply_line(session, services, item, "承認 確認済")
    assert item.state == states.APPROVED


def test_complete_item_approves_without_override(session, services):
    item = make_item(session, services)
    apply_line(session, services, item, "承認")
    audit = session.scalars(select(AuditEntry)).one()
    assert item.state == states.APPROVED
    assert audit.detail["override"] is False
    assert "confirmed_attention" not in audit.detail


def test_closed_item_reports_state_first(session, services):
    item = _without_identity(session, services, state=states.REJECTED)
    message = _refusal(session, services, item, "承認")
    assert "「却下」の案件" in message


def test_reply_refusal_answers_staff(session, services):
    item = _without_identity(session, services)
    inbound, analysis = store_reply(session, staff_reply(f"RE: [{item.token}] 要確認", "承認"))
    outcome = handle_staff_reply(session, services, inbound, analysis)
    answer = session.scalars(select(Outbox).where(Outbox.kind == "staff_help")).one()
    text = parse_message(answer.raw).body_text
    assert outcome.status == "failed"
    assert answer.recipients == [STAFF]
    assert DOCUMENT_LABELS["identity_document"] in text
    assert "「郵送受領 本人確認書類」" in text
    assert session.scalars(select(AuditEntry.outcome)).all() == ["failed"]


def test_change_notice_attention_refused(session, services):
    item = make_item(session, services, kind="change_notice", state=states.NEEDS_ATTENTION,
                     body="電話番号：03-1111-2222 → 03-3333-4444")
    item.details = {**item.details, "attention": [ATTENTION]}
    message = _refusal(session, services, item, "承認")
    assert ATTENTION in message
    assert "届いていません" not in message


def test_help_mails_capped_per_hour(session, services):
    item = _without_identity(session, services)
    for index in range(HELP_MAILS_PER_HOUR + 2):
        raw = staff_reply(f"RE: [{item.token}] 要確認", "ただいま不在にしております。",
                          message_id=f"<away-{index}@bureau.example.jp>")
        inbound, analysis = store_reply(session, raw)
        handle_staff_reply(session, services, inbound, analysis)
        session.flush()
    answers = session.scalars(select(Outbox).where(Outbox.kind == "staff_help")).all()
    assert len(answers) == HELP_MAILS_PER_HOUR
