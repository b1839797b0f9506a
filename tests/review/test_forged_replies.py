"""Forged and misdirected staff replies change nothing but the refusal record and mail nobody outside staff."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from mailflow import clock
from mailflow.db.models import AuditEntry, Base, Outbox
from mailflow.review import states
from mailflow.review.notify import plan_staff_notifications
from mailflow.review.replies import handle_staff_reply
from tests.review.builders import (
    AUTHSERV_ID,
    OTHER_STAFF,
    STAFF,
    STAFF_LIST,
    make_item,
    notification_message_id,
    staff_reply,
    store_reply,
)

PASS_FOR = "{id}; dmarc=pass header.from={domain}; dkim=pass header.d={domain}; spf=pass smtp.mailfrom={domain}"
FAIL = f"{AUTHSERV_ID}; spf=fail smtp.mailfrom=bureau.example.jp; dkim=none; dmarc=fail header.from=bureau.example.jp"
STAFF_ADDRESSES = {STAFF, OTHER_STAFF, STAFF_LIST}


def snapshot(session) -> dict[str, list[tuple]]:
    """Return every row of every table but the audit log and the outbox, in key order."""
    session.flush()
    tables = {}
    for table in Base.metadata.sorted_tables:
        if table.name in ("audit_log", "outbox"):
            continue
        tables[table.name] = [tuple(row) for row in session.execute(select(table).order_by(*table.primary_key))]
    return tables


@pytest.fixture
def scene(session, services):
    """Two ready items, each notified; returns (item, other item, notification Message-ID of item)."""
    item = make_item(session, services)
    other = make_item(session, services, sender="other@example.jp")
    plan_staff_notifications(session, services, flush=True)
    session.commit()
    return item, other, notification_message_id(session, item)


def _forged(item, other, notification_id) -> dict[str, dict]:
    token = item.token
    subject = f"RE: [{token}] 審査依頼"
    return {
        "forged_from_no_authentication": dict(subject=subject, body="承認", auth_results=[],
                                              in_reply_to=notification_id),
        "authentication_failed": dict(subject=subject, body="承認", auth_results=[FAIL]),
        "spf_pass_unaligned_envelope": dict(
            subject=subject, body="承認",
            auth_results=[f"{AUTHSERV_ID}; spf=pass smtp.mailfrom=attacker@attacker.example.com; dkim=none"]),
        "forged_header_below_real": dict(
            subject=subject, body="承認",
            auth_results=[FAIL, PASS_FOR.format(id=AUTHSERV_ID, domain="bureau.example.jp")]),
        "foreign_authserv_id": dict(
            subject=subject, body="承認", auth_results=[PASS_FOR.format(id="mx.attacker.example",
                                                                       domain="bureau.example.jp")]),
        "display_name_spoofing": dict(
            subject=subject, body="承認", raw_from=f'"{STAFF}" <attacker@evil.example>',
            auth_results=[PASS_FOR.format(id=AUTHSERV_ID, domain="evil.example")]),
        "address_in_name_unquoted": dict(
            subject=subject, body="承認", raw_from=f"{STAFF} <attacker@evil.example>",
            auth_results=[PASS_FOR.format(id=AUTHSERV_ID, domain="evil.example")]),
        "lookalike_suffix": dict(
            subject=subject, body="承認", sender=f"{STAFF}.evil.example",
            auth_results=[PASS_FOR.format(id=AUTHSERV_ID, domain="bureau.example.jp.evil.example")]),
        "lookalike_cyrillic": dict(
            subject=subject, body="承認", sender="shinsа@bureau.example.jp",
            auth_results=[PASS_FOR.format(id=AUTHSERV_ID, domain="bureau.example.jp")]),
        "lookalike_fullwidth": dict(
            subject=subject, body="承認", sender="ｓｈｉｎｓａ@bureau.example.jp",
            auth_results=[PASS_FOR.format(id=AUTHSERV_ID, domain="bureau.example.jp")]),
        "lookalike_long_s": dict(
            subject=subject, body="承認", sender="ſhinſa@bureau.example.jp",
            auth_results=[PASS_FOR.format(id=AUTHSERV_ID, domain="bureau.example.jp")]),
        "lookalike_kelvin_sign": dict(
            subject=subject, body="承認", raw_from="\u212aakari@bureau.example.jp",
            auth_results=[PASS_FOR.format(id=AUTHSERV_ID, domain="bureau.example.jp")]),
        "other_items_token": dict(subject=f"RE: [{other.token}] 審査依頼", body="承認",
                                  in_reply_to=notification_id),
        "two_tokens": dict(subject=f"RE: [{token}] [{other.token}] 審査依頼", body="承認"),
        "subaddress_and_subject_disagree": dict(subject=subject, body="承認",
                                                to=f"intake+{other.token}@bureau.example.jp"),
        "no_token": dict(subject="RE: 審査依頼", body="承認", in_reply_to=notification_id),
        "unknown_token": dict(subject="RE: [MF0000000000] 審査依頼", body="承認"),
        "command_in_quote_only": dict(
            subject=subject, in_reply_to=notification_id,
            body="\n\n2026年12月4日(金) 10:00 受付 <intake@bureau.example.jp>:\n\n> 承認"),
    }


# The refusal code each forged reply must get: the check that stops it.
EXPECTED_REASONS = {
    "forged_from_no_authentication": "not_authenticated",
    "authentication_failed": "not_authenticated",
    "spf_pass_unaligned_envelope": "not_authenticated",
    "forged_header_below_real": "not_authenticated",
    "foreign_authserv_id": "not_authenticated",
    "display_name_spoofing": "not_staff",
    "address_in_name_unquoted": "from_ambiguous",
    "lookalike_suffix": "not_staff",
    "lookalike_cyrillic": "not_staff",
    "lookalike_fullwidth": "not_staff",
    "lookalike_long_s": "not_staff",
    "lookalike_kelvin_sign": "not_staff",
    "other_items_token": "token_conflict",
    "two_tokens": "token_conflict",
    "subaddress_and_subject_disagree": "token_conflict",
    "no_token": "no_token",
    "unknown_token": "unknown_token",
    "command_in_quote_only": "empty",
}
CASES = sorted(EXPECTED_REASONS)


@pytest.mark.parametrize("case", CASES)
def test_forged_reply_changes_nothing(case, session, services, scene):
    item, other, notification_id = scene
    arguments = _forged(item, other, notification_id)[case]
    before = snapshot(session)
    outbox_before = set(session.scalars(select(Outbox.id)))
    audit_before = set(session.scalars(select(AuditEntry.id)))

    inbound, analysis = store_reply(session, staff_reply(message_id=f"<{case}@attacker.example>", **arguments))
    outcome = handle_staff_reply(session, services, inbound, analysis)
    session.flush()

    assert outcome.reason == EXPECTED_REASONS[case]
    after = snapshot(session)
    after["inbound_message"] = [row for row in after["inbound_message"] if row[0] != inbound.id]
    assert after == before
    new_audit = list(session.scalars(select(AuditEntry).where(AuditEntry.id.not_in(audit_before))))
    assert [entry.outcome for entry in new_audit] == ["refused"]
    new_mail = list(session.scalars(select(Outbox).where(Outbox.id.not_in(outbox_before))))
    for row in new_mail:
        assert set(row.recipients) <= STAFF_ADDRESSES, row.kind
    assert all(row.kind in ("staff_refusal", "staff_help") for row in new_mail)
    assert item.state == states.READY


def test_replayed_message_id_refused(session, services, scene):
    item, _other, notification_id = scene
    raw = staff_reply(f"RE: [{item.token}] 審査依頼", "メモ 電話で確認済み", in_reply_to=notification_id)
    inbound, analysis = store_reply(session, raw)
    assert handle_staff_reply(session, services, inbound, analysis).status == "applied"
    before = snapshot(session)

    replay = raw.replace(b"Received: from", b"Received: from relay2 by x; Mon, 14 Dec 2026\r\nReceived: from", 1)
    inbound, analysis = store_reply(session, replay)
    outcome = handle_staff_reply(session, services, inbound, analysis)
    after = snapshot(session)
    after["inbound_message"] = [row for row in after["inbound_message"] if row[0] != inbound.id]

    assert outcome.reason == "duplicate_message_id"
    assert after == before


def test_closed_item_refused(session, services, scene):
    item, _other, _notification_id = scene
    item.state = states.REJECTED
    inbound, analysis = store_reply(session, staff_reply(f"RE: [{item.token}] 審査依頼", "承認"))
    assert handle_staff_reply(session, services, inbound, analysis).reason == "item_closed"


def test_expired_token_refused(session, services, scene):
    item, _other, _notification_id = scene
    item.token_expires_at = clock.now() - dt.timedelta(minutes=1)
    inbound, analysis = store_reply(session, staff_reply(f"RE: [{item.token}] 審査依頼", "承認"))
    assert handle_staff_reply(session, services, inbound, analysis).reason == "token_expired"


def test_refusal_reported_to_staff_list_only(session, services, scene):
    item, _other, _notification_id = scene
    inbound, analysis = store_reply(session, staff_reply(f"RE: [{item.token}] 審査依頼", "承認", auth_results=[]))
    handle_staff_reply(session, services, inbound, analysis)
    report = session.scalar(select(Outbox).where(Outbox.kind == "staff_refusal"))
    assert report.recipients == [STAFF_LIST]
    assert b"In-Reply-To" not in report.raw


def test_refusal_reports_capped(session, services, scene):
    item, _other, _notification_id = scene
    services.config.staff.refusal_reports_per_hour = 2
    for number in range(4):
        raw = staff_reply(f"RE: [{item.token}] x", "承認", auth_results=[], message_id=f"<flood{number}@evil>")
        inbound, analysis = store_reply(session, raw)
        handle_staff_reply(session, services, inbound, analysis)
    reports = session.scalars(select(Outbox).where(Outbox.kind == "staff_refusal")).all()
    refusals = session.scalars(select(AuditEntry).where(AuditEntry.outcome == "refused")).all()
    assert len(reports) == 2
    assert len(refusals) == 4
