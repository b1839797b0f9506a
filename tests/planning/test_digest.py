"""The staff digest: what it lists, in which order, and when there is none."""

from __future__ import annotations

import datetime as dt
import email

from sqlalchemy.orm import Session, sessionmaker

from mailflow.clock import TOKYO
from mailflow.config import Config
from mailflow.db.models import InboundMessage, MentorHistory, Outbox, ReviewItem
from mailflow.db.session import transaction
from mailflow.outbound.templates import Renderer
from mailflow.planning.digest import collect_digest, digest_key, plan_staff_digest
from tests.planning.database import STAFF_ADDRESS, add_mentor

NOW = "2027-03-10 09:00"


def tokyo(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TOKYO)


def plan(sessions: sessionmaker[Session], config: Config, now: str = NOW) -> Outbox | None:
    with transaction(sessions) as session:
        return plan_staff_digest(session, config, Renderer(config.templates_dir), tokyo(now))


def collect(sessions: sessionmaker[Session], config: Config, since: str = "2027-03-09 09:00"):
    with transaction(sessions) as session:
        return collect_digest(session, config, tokyo(NOW), tokyo(since))


def add_item(sessions: sessionmaker[Session], number: str, kind: str, state: str, created: str,
             complete: str | None = None) -> None:
    with transaction(sessions) as session:
        session.add(ReviewItem(number=number, kind=kind, state=state, created_at=tokyo(created),
                               complete_at=tokyo(complete) if complete else None))


def revocation(mentor_id: int, at: str, reason: str) -> MentorHistory:
    """Return the history row a revocation writes, at expiry or by staff."""
    return MentorHistory(mentor_id=mentor_id, at=tokyo(at), actor="mailflow", action="revoked",
                         changes={"status": {"old": "active", "new": "revoked"},
                                  "status_reason": {"old": None, "new": reason}})


def body_text(row: Outbox) -> str:
    return email.message_from_bytes(row.raw).get_payload(decode=True).decode("utf-8")


def test_nothing_to_report(sessions, config) -> None:
    assert plan(sessions, config) is None


def test_digest_row(sessions, config) -> None:
    add_item(sessions, "2026-0001", "registration", "ready", "2027-03-01 10:00", "2027-03-01 10:00")
    row = plan(sessions, config)
    assert row.key == "staff-digest:2027-03-10"
    assert row.kind == "staff_digest"
    assert row.recipients == [STAFF_ADDRESS]
    assert row.due_at == tokyo(NOW)


def test_one_digest_a_day(sessions, config) -> None:
    add_item(sessions, "2026-0001", "registration", "ready", "2027-03-01 10:00", "2027-03-01 10:00")
    plan(sessions, config)
    assert plan(sessions, config, "2027-03-10 15:00") is None


def test_no_staff_address(sessions, config) -> None:
    config.bureau.staff_addresses = []
    add_item(sessions, "2026-0001", "registration", "ready", "2027-03-01 10:00", "2027-03-01 10:00")
    assert plan(sessions, config) is None


def test_waiting_order_and_ages(sessions, config) -> None:
    # Targets: 14 days for a registration, 30 for a renewal, counted from complete_at.
    add_item(sessions, "2026-0001", "registration", "ready", "2027-02-20 10:00", "2027-03-01 10:00")
    add_item(sessions, "2026-0002", "renewal", "ready", "2027-01-10 10:00", "2027-01-20 10:00")
    add_item(sessions, "2026-0003", "registration", "incomplete", "2027-01-05 10:00")
    add_item(sessions, "2026-0004", "registration", "on_hold", "2027-02-01 10:00", "2027-02-10 10:00")
    digest = collect(sessions, config)
    lines = [(line.number, line.age_days, line.target_days, line.overdue_days) for line in digest.waiting]
    assert lines == [
        ("2026-0002", 49, 30, 19),
        ("2026-0004", 28, 14, 14),
        ("2026-0001", 9, 14, 0),
        ("2026-0003", 64, 14, 0),
    ]


def test_attention_listed_apart(sessions, config) -> None:
    add_item(sessions, "2026-0005", "inquiry", "needs_attention", "2027-03-08 10:00")
    digest = collect(sessions, config)
    assert [(line.number, line.age_days) for line in digest.attention] == [("2026-0005", 2)]
    assert digest.waiting == []


def test_closed_items_left_out(sessions, config) -> None:
    add_item(sessions, "2026-0006", "registration", "approved", "2027-02-01 10:00", "2027-02-02 10:00")
    assert plan(sessions, config) is None


def test_ending_this_month(sessions, config) -> None:
    ending = add_mentor(sessions, "MM-1", dt.date(2027, 3, 31))
    add_mentor(sessions, "MM-2", dt.date(2028, 3, 31))
    digest = collect(sessions, config)
    assert [(line.mentor_id, line.note) for line in digest.ending] == [(ending, "更新申請なし")]


def test_ending_with_open_renewal(sessions, config) -> None:
    ending = add_mentor(sessions, "MM-1", dt.date(2027, 3, 31))
    with transaction(sessions) as session:
        session.add(ReviewItem(kind="renewal", state="ready", mentor_id=ending, created_at=tokyo("2027-01-20 10:00")))
    digest = collect(sessions, config)
    assert [line.note for line in digest.ending] == ["更新申請の審査中"]


def test_failed_mail_listed(sessions, config) -> None:
    with transaction(sessions) as session:
        session.add(Outbox(key="receipt:1:1", kind="receipt", status="failed", message_id="<a@b>",
                           created_at=tokyo("2027-03-09 10:00"), smtp_code=550, last_error="550 5.1.1 unknown user"))
        session.add(Outbox(key="receipt:2:2", kind="receipt", status="failed", message_id="<c@d>",
                           created_at=tokyo("2027-01-01 10:00"), smtp_code=550, last_error="old"))
    digest = collect(sessions, config)
    assert [(mail.kind, mail.smtp_code, mail.error) for mail in digest.failed] == [
        ("receipt", 550, "550 5.1.1 unknown user")]


def test_quarantine_listed(sessions, config) -> None:
    with transaction(sessions) as session:
        session.add(InboundMessage(source="maildir", raw_sha256="1" * 64, size=10, state="quarantined",
                                   error="メールが大きすぎます", received_at=tokyo("2027-03-09 11:00")))
        session.add(InboundMessage(source="maildir", raw_sha256="2" * 64, size=10, state="processed",
                                   received_at=tokyo("2027-03-09 12:00")))
    digest = collect(sessions, config)
    assert [(m.received_on, m.reason) for m in digest.quarantined] == [(dt.date(2027, 3, 9), "メールが大きすぎます")]


def test_revoked_since_last_digest(sessions, config) -> None:
    earlier = add_mentor(sessions, "MM-1", dt.date(2026, 3, 31), status="revoked")
    recent = add_mentor(sessions, "MM-2", dt.date(2026, 3, 31), status="revoked")
    staff_revoked = add_mentor(sessions, "MM-3", dt.date(2028, 3, 31), status="revoked")
    with transaction(sessions) as session:
        for mentor_id, at, reason in ((earlier, "2027-03-08 00:10", "not_renewed"),
                                      (recent, "2027-03-09 12:00", "not_renewed"),
                                      (staff_revoked, "2027-03-09 15:00", "false_statement")):
            session.add(revocation(mentor_id, at, reason))
    digest = collect(sessions, config, since="2027-03-09 09:00")
    assert [(line.mentor_id, line.note) for line in digest.revoked] == [
        (recent, "登録期間の満了までに更新の手続きがなかったため"),
        (staff_revoked, "申請の内容に偽りがあったため"),
    ]


def test_previous_digest_bounds_revocations(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-1", dt.date(2026, 3, 31), status="revoked")
    with transaction(sessions) as session:
        session.add(revocation(mentor, "2027-03-08 00:10", "not_renewed"))
        session.add(Outbox(key=digest_key(dt.date(2027, 3, 9)), kind="staff_digest", message_id="<e@f>",
                           created_at=tokyo("2027-03-09 09:00")))
    assert plan(sessions, config) is None


def test_body_lists_overdue(sessions, config) -> None:
    add_item(sessions, "2026-0002", "renewal", "ready", "2027-01-10 10:00", "2027-01-20 10:00")
    row = plan(sessions, config)
    assert "2026-0002 更新 審査待ち: 書類がそろってから49日（目安 30日、19日超過）" in body_text(row)
    assert row.subject.endswith("審査期間超過 1件")


def test_body_revoked_without_expiry(sessions, config) -> None:
    mentor = add_mentor(sessions, "MM-4", None, status="revoked", registered_on=dt.date(2025, 4, 1))
    with transaction(sessions) as session:
        session.add(revocation(mentor, "2027-03-09 15:00", "false_statement"))
    row = plan(sessions, config)
    assert "登録番号 MM-4 テスト MM-4: 申請の内容に偽りがあったため\n" in body_text(row)
