"""完了 (done): staff close an item that has nothing to decide, audited and without mail to the sender."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from mailflow.commands.decide import find_item
from mailflow.db.models import AuditEntry, Outbox, ReviewItem
from mailflow.db.session import transaction
from mailflow.review import states
from mailflow.review.replies import handle_staff_reply
from tests.privacy.populated import MAILBOX, sample_mail
from tests.review.builders import apply_line, make_item, refusal_of, run_cli, staff_reply, store_reply, taken_in

INQUIRY = "10-inquiry"


@pytest.fixture
def inquiry(tmp_path):
    """The sample inquiry taken in by the daemon: (app, receipt number, expected values)."""
    expected = json.loads((MAILBOX / f"{INQUIRY}.json").read_text(encoding="utf-8"))
    with taken_in(tmp_path, sample_mail(INQUIRY)) as app:
        with transaction(app.sessions) as session:
            item = session.scalars(select(ReviewItem)).one()
            assert (item.kind, item.state) == (expected["message_kind"], expected["review_state"])
            number = item.number
        yield app, number, expected


def _mails_to(session, address: str) -> int:
    return sum(address in row.recipients for row in session.scalars(select(Outbox)))


def test_inquiry_done_by_cli(inquiry):
    app, number, expected = inquiry
    with app.sessions() as session:
        before = _mails_to(session, expected["from"]["email"])
    assert run_cli(app.config, "queue", "done", number, "電話で回答しました", "--actor", "suzuki") == 0
    with app.sessions() as session:
        item = find_item(session, number)
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "done")).one()
        assert item.state == states.DONE
        assert item.decided_at is not None
        assert (audit.actor, audit.detail["channel"]) == ("suzuki", "cli")
        assert item.details["notes"][0]["text"] == "電話で回答しました"
        assert _mails_to(session, expected["from"]["email"]) == before


def test_inquiry_done_leaves_queue(inquiry):
    app, number, _expected = inquiry
    run_cli(app.config, "queue", "done", number)
    with app.sessions() as session:
        open_items = session.scalars(select(ReviewItem).where(ReviewItem.state.in_(sorted(states.OPEN)))).all()
        assert open_items == []


@pytest.mark.parametrize("kind, state", [("inquiry", states.READY), ("other", states.NEEDS_ATTENTION),
                                         ("attendance_form", states.READY)])
def test_done_closes_kind(session, services, kind, state):
    item = make_item(session, services, kind=kind, state=state)
    result = apply_line(session, services, item, "完了")
    assert item.state == states.DONE
    assert "メールを送っていません" in result.summary
    assert session.scalars(select(Outbox)).all() == []


def test_done_ascii_alias(session, services):
    item = make_item(session, services, kind="inquiry")
    apply_line(session, services, item, "done")
    assert item.state == states.DONE


def test_done_by_reply_confirmed(session, services):
    item = make_item(session, services, kind="inquiry")
    inbound, analysis = store_reply(session, staff_reply(f"RE: [{item.token}] 問い合わせ", "完了 電話で回答済み"))
    outcome = handle_staff_reply(session, services, inbound, analysis)
    kinds = session.scalars(select(Outbox.kind)).all()
    assert outcome.status == "applied"
    assert item.state == states.DONE
    assert kinds == ["staff_confirmation"]


def test_done_item_refuses_reply(session, services):
    item = make_item(session, services, kind="inquiry")
    apply_line(session, services, item, "完了")
    inbound, analysis = store_reply(session, staff_reply(f"RE: [{item.token}] 問い合わせ", "メモ あとから"))
    assert handle_staff_reply(session, services, inbound, analysis).reason == "item_closed"


def test_done_registration_refused(session, services):
    item = make_item(session, services)
    message = refusal_of(session, services, item, "完了")
    assert "「完了」" in message
    assert item.state == states.READY


def test_changeless_notice_done(session, services):
    item = make_item(session, services, kind="change_notice", body="登録内容を変えたいので連絡します")
    apply_line(session, services, item, "完了")
    assert item.state == states.DONE


def test_readable_notice_refused(session, services):
    item = make_item(session, services, kind="change_notice", body="電話番号：03-1111-2222 → 03-3333-4444")
    message = refusal_of(session, services, item, "完了")
    assert "「承認」" in message
    assert item.state == states.READY


def test_held_inquiry_needs_resume(session, services):
    item = make_item(session, services, kind="inquiry", state=states.ON_HOLD)
    assert "先に「再開」" in refusal_of(session, services, item, "完了")
