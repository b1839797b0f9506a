"""Text that staff write in a command: indented as written in every mail, individual numbers masked."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from mailflow.db.models import AuditEntry, Mentor, MentorHistory, Outbox, ReviewItem
from mailflow.db.session import transaction
from mailflow.intake.parse import parse_message
from mailflow.intake.privacy import check_digit
from mailflow.review import states
from mailflow.review.replies import handle_staff_reply
from tests.review.builders import make_item, run_cli, staff_reply, store_reply

REASON_LINES = ("次の理由によります。", "年齢の要件を満たしません。", "経験年数の要件も満たしません。")
# A valid individual number: eleven digits and their check digit.
NUMBER = "48213579264" + str(check_digit("48213579264"))
GROUPED = f"{NUMBER[:4]} {NUMBER[4:8]} {NUMBER[8:]}"


def _reply(session, services, body: str):
    """Apply ``body`` as an authenticated staff reply to a new ready registration; return the item."""
    item = make_item(session, services)
    inbound, analysis = store_reply(session, staff_reply(f"RE: [{item.token}] 審査依頼", body))
    outcome = handle_staff_reply(session, services, inbound, analysis)
    assert outcome.status == "applied", outcome
    session.flush()
    return item


def _mail_text(session, kind: str) -> str:
    row = session.scalars(select(Outbox).where(Outbox.kind == kind)).one()
    return parse_message(row.raw).body_text


def test_reject_reason_lines_indented(session, services):
    _reply(session, services, "却下 " + "\n".join(REASON_LINES))
    text = _mail_text(session, "result_rejected")
    assert "\n".join(f"  {line}" for line in REASON_LINES) in text


def test_return_corrections_lines_indented(session, services):
    _reply(session, services, "差戻し " + "\n".join(REASON_LINES))
    text = _mail_text(session, "result_returned")
    assert "\n".join(f"  {line}" for line in REASON_LINES) in text


def test_confirmation_argument_lines_indented(session, services):
    _reply(session, services, "却下 " + "\n".join(REASON_LINES))
    text = _mail_text(session, "staff_confirmation")
    continuation = "\n".join(f"{' ' * 8}{line}" for line in REASON_LINES[1:])
    assert f"  内容: {REASON_LINES[0]}\n{continuation}" in text


def _stored_text(session) -> str:
    """Return what the audit log, the items, the registry history and the outbox keep, as one text."""
    session.flush()
    parts = [json.dumps(entry.detail, ensure_ascii=False) for entry in session.scalars(select(AuditEntry))]
    for item in session.scalars(select(ReviewItem)):
        parts += [item.decision_reason or "", json.dumps(item.details, ensure_ascii=False)]
    parts += [json.dumps(row.changes, ensure_ascii=False) for row in session.scalars(select(MentorHistory))]
    for row in session.scalars(select(Outbox)):
        message = parse_message(row.raw)
        parts += [message.subject or "", message.body_text]
    return "\n".join(parts)


def _holds_number(text: str) -> bool:
    return NUMBER in re.sub(r"[\s\-]", "", text)


@pytest.mark.parametrize("body", [
    f"却下 個人番号 {NUMBER} が書かれていたため",
    f"却下 個人番号 {NUMBER[:8]}\n{NUMBER[8:]} が書かれていたため",
    f"差戻し 番号 {GROUPED} を消してください",
    f"再提出 本人確認書類 番号 {GROUPED} が写っています",
    f"メモ 本人の個人番号は {GROUPED} と電話で聞きました",
    f"保留 {NUMBER}",
])
def test_reply_number_masked(session, services, body):
    item = make_item(session, services, documents={"identity_document": b"id"})
    inbound, analysis = store_reply(session, staff_reply(f"RE: [{item.token}] 審査依頼", body))
    handle_staff_reply(session, services, inbound, analysis)
    stored = _stored_text(session)
    assert stored, body
    assert not _holds_number(stored)


def test_reject_mail_shows_mask(session, services):
    _reply(session, services, f"却下 個人番号 {NUMBER} が書かれていたため")
    assert "個人番号 ************ が書かれていたため" in _mail_text(session, "result_rejected")


def test_override_note_masked(session, services):
    item = make_item(session, services, state=states.NEEDS_ATTENTION)
    item.details = {**item.details, "attention": ["本文に個人番号らしき番号があります"]}
    inbound, analysis = store_reply(session, staff_reply(f"RE: [{item.token}] 要確認", f"承認 確認済 番号 {NUMBER} を確認"))
    handle_staff_reply(session, services, inbound, analysis)
    assert item.state == states.APPROVED
    assert not _holds_number(_stored_text(session))


@pytest.mark.parametrize("argv", [
    ("reject", "個人番号", NUMBER, "が書かれていたため"),
    ("note", f"番号は {GROUPED} と聞きました"),
    ("approve", "--force", "--note", f"番号 {NUMBER} を確認"),
])
def test_cli_number_masked(cli, argv):
    services, sessions, number = cli
    run_cli(services.config, "queue", argv[0], number, *argv[1:])
    with sessions() as session:
        stored = _stored_text(session)
        assert session.scalars(select(AuditEntry)).all(), argv
        assert not _holds_number(stored)


def test_cli_revoke_reason_masked(cli):
    services, sessions, _number = cli
    with transaction(sessions) as session:
        session.add(Mentor(name="中村 誠", status="active", registration_number="MM-2023-0001", email="m@example.jp"))
    run_cli(services.config, "registry", "revoke", "MM-2023-0001", "--reason", f"番号 {NUMBER} を偽った")
    with sessions() as session:
        assert session.scalars(select(Mentor.status)).one() == "revoked"
        assert not _holds_number(_stored_text(session))
