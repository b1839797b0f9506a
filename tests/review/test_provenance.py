"""Who sent a mentor's notice: our server's authentication verdict and foreign Reply-To or Sender."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from mailflow import clock
from mailflow.app import App
from mailflow.commands import queue
from mailflow.config import Config
from mailflow.db.models import InboundMessage, Mentor, Outbox, ReviewItem
from mailflow.intake.parse import parse_message
from mailflow.review.notify import plan_staff_notifications
from mailflow.review.provenance import FAIL, NONE, PASS, VERDICT_LABELS, sender_provenance
from tests.conftest import FIXTURES
from tests.privacy.populated import INTAKE_DAY, app_config, deliver
from tests.review.builders import AUTHSERV_ID, make_item

HOSTILE = FIXTURES / "hostile"
FORGED_CHANGE = "F03-forged-mentor-change-of-address"
SENDER = "taro.yamada@example.jp"


def _mail(*headers: str, sender: str = SENDER) -> bytes:
    lines = [*headers, f"From: 山田 太郎 <{sender}>", "To: intake@bureau.example.jp", "Subject: 登録内容の変更",
             "Message-ID: <notice-1@example.jp>", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
             "", "登録番号 MM-2026-0001 の山田です。電話番号を変更しました。"]
    return "\r\n".join(lines).encode("utf-8")


def _provenance(*headers: str, authserv_id: str = AUTHSERV_ID):
    return sender_provenance(parse_message(_mail(*headers)), authserv_id)


@pytest.mark.parametrize("header, verdict, method", [
    (f"Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=example.jp", PASS, "dmarc"),
    (f"Authentication-Results: {AUTHSERV_ID}; spf=pass smtp.mailfrom=taro.yamada@example.jp", PASS, "spf"),
    (f"Authentication-Results: {AUTHSERV_ID}; dkim=pass header.d=example.jp", PASS, "dkim"),
    (f"Authentication-Results: {AUTHSERV_ID}; dmarc=fail header.from=example.jp", FAIL, None),
    (f"Authentication-Results: {AUTHSERV_ID}; spf=softfail smtp.mailfrom=example.jp", FAIL, None),
    (f"Authentication-Results: {AUTHSERV_ID}; spf=pass smtp.mailfrom=attacker.example", NONE, None),
    (f"Authentication-Results: {AUTHSERV_ID}; none", NONE, None),
    ("Authentication-Results: mx.attacker.example; dmarc=pass header.from=example.jp", NONE, None),
])
def test_verdict_from_our_server(header, verdict, method):
    provenance = _provenance(header)
    assert provenance.verdict == verdict
    assert provenance.method == method


def test_forged_copy_below_ours_ignored():
    provenance = _provenance(f"Authentication-Results: {AUTHSERV_ID}; dmarc=fail header.from=example.jp",
                             f"Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=example.jp")
    assert provenance.verdict == FAIL


def test_results_listed_as_written():
    provenance = _provenance(f"Authentication-Results: {AUTHSERV_ID}; spf=pass smtp.mailfrom=attacker.example")
    assert provenance.results == ("spf=pass smtp.mailfrom=attacker.example",)


def test_no_authserv_id_configured():
    provenance = _provenance(f"Authentication-Results: {AUTHSERV_ID}; dmarc=pass", authserv_id="")
    assert provenance.verdict == NONE
    assert "staff.authserv_id" in provenance.source


def test_pass_needs_no_care():
    provenance = _provenance(f"Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=example.jp")
    assert provenance.needs_care is False
    assert provenance.verdict_label == f"{VERDICT_LABELS[PASS]}（dmarc）"


def test_reply_to_same_as_from_not_listed():
    provenance = _provenance(f"Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=example.jp",
                             "Reply-To: Taro.Yamada@Example.JP")
    assert provenance.other_addresses == ()
    assert provenance.needs_care is False


def test_foreign_sender_listed():
    provenance = _provenance(f"Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=example.jp",
                             "Sender: relay@list.example")
    assert [(other.header, other.address) for other in provenance.other_addresses] == \
        [("Sender", "relay@list.example")]
    assert provenance.needs_care is True


def test_forged_change_fixture_provenance():
    expected = json.loads((HOSTILE / f"{FORGED_CHANGE}.json").read_text(encoding="utf-8"))
    message = parse_message((HOSTILE / f"{FORGED_CHANGE}.eml").read_bytes())
    provenance = sender_provenance(message, AUTHSERV_ID)
    assert provenance.from_address == expected["from"]
    assert provenance.verdict == expected["authentication"]
    assert [other.address for other in provenance.other_addresses] == [expected["reply_to"]]
    assert provenance.needs_care is True


@dataclass
class TakenIn:
    """The forged change notice after the daemon took it in: its item and the staff notification."""

    expected: dict
    config: Config
    kind: str
    number: str
    text: str


@pytest.fixture
def forged_change(tmp_path):
    """Take in the forged change notice with its mentor registered."""
    expected = json.loads((HOSTILE / f"{FORGED_CHANGE}.json").read_text(encoding="utf-8"))
    clock.set_now(INTAKE_DAY)
    config = app_config(tmp_path)
    config.staff.authserv_id = AUTHSERV_ID
    app = App(config)
    try:
        with app.sessions.begin() as session:
            session.add(Mentor(name=expected["mentor_name"], status="active", email=expected["from"],
                               registration_number=expected["registration_number"]))
        deliver(config, HOSTILE / f"{FORGED_CHANGE}.eml")
        app.run_once()
        with app.sessions() as session:
            item = session.scalars(select(ReviewItem)).one()
            row = session.scalars(select(Outbox).where(Outbox.kind == "staff_notification")).one()
            yield TakenIn(expected, config, item.kind, item.number, parse_message(row.raw).body_text)
    finally:
        app.close()
        clock.set_now(None)


def test_forged_change_notification_warns(forged_change):
    expected = forged_change.expected
    assert forged_change.kind == expected["message_kind"]
    assert f"送信元の認証: {VERDICT_LABELS[expected['authentication']]}" in forged_change.text
    assert f"返信先（Reply-To）: {expected['reply_to']}（差出人と異なります）" in forged_change.text
    assert "照合に注意が必要です" in forged_change.text


def test_forged_change_notification_shows_new_address(forged_change):
    assert "yamada.collector@attacker.example" in forged_change.text
    assert "照合に注意が必要です" in forged_change.text


def test_forged_change_queue_show(forged_change, capsys):
    expected = forged_change.expected
    args = argparse.Namespace(item=forged_change.number, json=False)
    assert queue.run_show(args, forged_change.config) == 0
    output = capsys.readouterr().out
    assert f"送信元の認証: {VERDICT_LABELS[expected['authentication']]}" in output
    assert f"Reply-To: {expected['reply_to']}（差出人と異なります）" in output


def test_notification_without_raw_mail(session, services):
    make_item(session, services, kind="change_notice", body="電話番号を変更しました")
    plan_staff_notifications(session, services, flush=True)
    row = session.scalars(select(Outbox).where(Outbox.kind == "staff_notification")).one()
    assert "元のメールが残っていないため" in parse_message(row.raw).body_text


def test_notification_with_authenticated_notice(session, services):
    item = make_item(session, services, kind="change_notice", body="電話番号を変更しました")
    inbound = session.scalars(select(InboundMessage).where(InboundMessage.item_id == item.id)).one()
    inbound.raw = _mail(f"Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=example.jp")
    plan_staff_notifications(session, services, flush=True)
    text = parse_message(session.scalars(select(Outbox.raw)).one()).body_text
    assert f"送信元の認証: {VERDICT_LABELS[PASS]}（dmarc）" in text
    assert "照合に注意が必要です" not in text
