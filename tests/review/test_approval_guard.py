"""The approval guard: held items, and a registration of an active mentor, refused with a way forward."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from mailflow.db.models import AuditEntry, Mentor, Outbox
from mailflow.errors import MailflowError
from mailflow.review import states
from mailflow.review.replies import handle_staff_reply
from tests.review.builders import FORM, apply_line, make_item, refusal_of, run_cli, staff_reply, store_reply


def _cli_refusal(services, *argv: str) -> str:
    with pytest.raises(MailflowError) as caught:
        run_cli(services.config, *argv)
    return caught.value.message


def _active_mentor(session) -> Mentor:
    mentor = Mentor(name=FORM["name"], status="active", registration_number="MM-2023-0101",
                    birth_date=dt.date.fromisoformat(FORM["birth_date"]), expires_on=dt.date(2027, 3, 31))
    session.add(mentor)
    session.flush()
    return mentor


def test_duplicate_registration_names_mentor(session, services):
    mentor = _active_mentor(session)
    message = refusal_of(session, services, make_item(session, services), "承認")
    assert mentor.registration_number in message
    assert "更新の申請として扱う" not in message


def test_duplicate_registration_offers_reject(session, services):
    _active_mentor(session)
    item = make_item(session, services)
    message = refusal_of(session, services, item, "承認")
    line = next(line.strip() for line in message.splitlines() if line.strip().startswith("却下 "))
    apply_line(session, services, item, line)
    assert item.state == states.REJECTED


def test_duplicate_registration_cli_words(session, services):
    _active_mentor(session)
    item = make_item(session, services)
    message = refusal_of(session, services, item, "approve", channel="cli")
    assert f"mailflow queue reject {item.number} " in message
    assert f"mailflow queue hold {item.number}" in message


def test_duplicate_registration_changes_nothing(session, services):
    _active_mentor(session)
    item = make_item(session, services)
    refusal_of(session, services, item, "承認")
    assert item.state == states.READY
    assert len(session.scalars(select(Mentor)).all()) == 1
    assert session.scalars(select(AuditEntry)).all() == []


@pytest.mark.parametrize("line", ["承認", "承認 確認済", "却下 要件を満たさないため", "差戻し 生年月日", "郵送受領 誓約書",
                                  "再提出 本人確認書類 読めません", "保留"])
def test_held_item_refuses_command(session, services, line):
    item = make_item(session, services, state=states.ON_HOLD)
    message = refusal_of(session, services, item, line)
    assert "先に「再開」" in message
    assert item.state == states.ON_HOLD


def test_held_item_refusal_changes_nothing(session, services):
    item = make_item(session, services, state=states.ON_HOLD)
    refusal_of(session, services, item, "承認")
    assert session.scalars(select(Mentor)).all() == []
    assert session.scalars(select(Outbox)).all() == []
    assert session.scalars(select(AuditEntry)).all() == []


def test_held_item_takes_note(session, services):
    item = make_item(session, services, state=states.ON_HOLD)
    apply_line(session, services, item, "メモ 本人に電話で確認中")
    assert item.state == states.ON_HOLD
    assert item.details["notes"][0]["text"] == "本人に電話で確認中"


def test_resumed_item_approves(session, services):
    item = make_item(session, services)
    apply_line(session, services, item, "保留")
    apply_line(session, services, item, "再開")
    apply_line(session, services, item, "承認")
    assert item.state == states.APPROVED


def test_held_item_reply_answered(session, services):
    item = make_item(session, services)
    apply_line(session, services, item, "保留")
    inbound, analysis = store_reply(session, staff_reply(f"RE: [{item.token}] 審査依頼", "承認"))
    outcome = handle_staff_reply(session, services, inbound, analysis)
    assert outcome.status == "failed"
    assert item.state == states.ON_HOLD
    assert session.scalars(select(Mentor)).all() == []


def test_held_item_cli_refusal(cli):
    services, sessions, number = cli
    assert run_cli(services.config, "queue", "hold", number) == 0
    message = _cli_refusal(services, "queue", "approve", number, "--force")
    assert f"mailflow queue resume {number}" in message
    with sessions() as session:
        assert session.scalars(select(Mentor)).all() == []


def test_resume_summary_states_once(cli, capsys):
    services, _sessions, number = cli
    run_cli(services.config, "queue", "hold", number)
    capsys.readouterr()
    run_cli(services.config, "queue", "resume", number)
    assert capsys.readouterr().out.count("状態:") == 1
