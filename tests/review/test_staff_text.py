"""Text that staff write in a command: its continuation lines indented like the first in every mail."""

from __future__ import annotations

from sqlalchemy import select

from mailflow.db.models import Outbox
from mailflow.intake.parse import parse_message
from mailflow.review.replies import handle_staff_reply
from tests.review.builders import make_item, staff_reply, store_reply

REASON_LINES = ("次の理由によります。", "年齢の要件を満たしません。", "経験年数の要件も満たしません。")


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
