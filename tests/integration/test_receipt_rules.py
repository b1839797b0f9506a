"""Who gets a receipt, and how many: settle time, error-reply limit, mail never answered."""

from __future__ import annotations

import datetime as dt
import email.utils
from pathlib import Path

import pytest

from mailflow import clock
from mailflow.app import App

from tests.conftest import CASES
from tests.integration.harness import FROZEN_NOW, base_config, parse
from tests.integration.test_intake_maildir import deliver

TOKYO = dt.timezone(dt.timedelta(hours=9))
REGISTRATION = (Path(__file__).resolve().parents[1] / "fixtures" / "sample" / "mailbox"
                / "16-registration-form1-only.eml")


def variant(raw: bytes, index: int, received: dt.datetime) -> bytes:
    """Return ``raw`` with a new Message-ID and a topmost Received header dated ``received``."""
    text = raw.decode("latin-1")
    head, _, body = text.partition("\r\n\r\n") if "\r\n\r\n" in text else text.partition("\n\n")
    newline = "\r\n" if "\r\n" in head else "\n"
    lines = [line for line in head.split(newline)]
    for position, line in enumerate(lines):
        if line.lower().startswith("message-id:"):
            lines[position] = f"Message-ID: <variant-{index}@example.com>"
    received_line = f"Received: from mx.test by mbox.test; {email.utils.format_datetime(received)}"
    return (received_line + newline + newline.join(lines) + newline + newline + body).encode("latin-1")


def run(tmp_path: Path, raws: list[bytes]) -> list:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = base_config(tmp_path)
    files = []
    for index, raw in enumerate(raws):
        path = tmp_path / f"in-{index}.eml"
        path.write_bytes(raw)
        files.append(path)
    deliver(Path(config.mailbox.maildir), files)
    app = App(config)
    clock.set_now(FROZEN_NOW)
    try:
        app.run_once()
    finally:
        clock.set_now(None)
        app.close()
    return [parse(path.read_bytes()) for path in sorted(Path(config.outbound.directory).glob("*.eml"))]


def receipts_to(sent: list, address: str) -> list:
    return [message for message in sent if address in message["to"]]


def test_mails_within_settle_time_share_one_receipt(tmp_path):
    raw = REGISTRATION.read_bytes()
    start = dt.datetime(2026, 12, 18, 15, 26, tzinfo=TOKYO)
    sent = run(tmp_path, [variant(raw, 1, start), variant(raw, 2, start + dt.timedelta(seconds=90))])
    receipts = receipts_to(sent, "hiroshi.yamaguchi@example.com")
    assert len(receipts) == 1
    assert receipts[0]["in-reply-to"] == "<variant-2@example.com>"


def test_mails_apart_get_a_receipt_each(tmp_path):
    raw = REGISTRATION.read_bytes()
    start = dt.datetime(2026, 12, 18, 15, 26, tzinfo=TOKYO)
    sent = run(tmp_path, [variant(raw, 1, start), variant(raw, 2, start + dt.timedelta(minutes=10))])
    receipts = receipts_to(sent, "hiroshi.yamaguchi@example.com")
    assert [message["in-reply-to"] for message in receipts] == ["<variant-1@example.com>", "<variant-2@example.com>"]


def test_one_error_reply_per_address_per_day(tmp_path):
    raw = (CASES / "case-13-ppap-encrypted-zip" / "mail-1-zip.eml").read_bytes()
    start = dt.datetime(2026, 12, 18, 9, 0, tzinfo=TOKYO)
    sent = run(tmp_path, [variant(raw, 1, start), variant(raw, 2, start + dt.timedelta(hours=3))])
    requests = [message for message in sent if "再送のお願い" in message["subject"]]
    assert len(requests) == 1


@pytest.mark.parametrize("relative", [
    "case-14-auto-replies/oof-outlook-exchange.eml",
    "case-14-auto-replies/vacation-gmail.eml",
    "case-14-auto-replies/autoreply-x-autoreply-only.eml",
    "case-14-auto-replies/autoreply-subject-only.eml",
    "case-15-bounces-dsn-and-carrier/dsn-rfc3464.eml",
    "case-15-bounces-dsn-and-carrier/carrier-plain-bounce.eml",
])
def test_automatic_mail_never_answered(tmp_path, relative):
    raw = (CASES / relative).read_bytes()
    sent = run(tmp_path, [raw])
    sender = email.utils.parseaddr(parse(raw)["from"])[1]
    assert receipts_to(sent, sender) == []


def test_own_receipt_coming_back_not_answered(tmp_path):
    first = run(tmp_path / "first", [REGISTRATION.read_bytes()])
    receipt = receipts_to(first, "hiroshi.yamaguchi@example.com")[0]
    sent = run(tmp_path / "second", [receipt.as_bytes()])
    assert sent == []


def test_oversized_mail_not_answered(tmp_path):
    config_limit = base_config(tmp_path).mailbox.max_message_bytes
    raw = REGISTRATION.read_bytes()
    padding = b"X-Padding: " + b"a" * 900 + b"\r\n"
    big = padding * (config_limit // len(padding) + 10) + raw
    sent = run(tmp_path, [big])
    assert receipts_to(sent, "hiroshi.yamaguchi@example.com") == []


def test_oversized_mail_keeps_sender_in_quarantine(tmp_path):
    from sqlalchemy import select

    from mailflow.db.models import InboundMessage

    config = base_config(tmp_path)
    raw = REGISTRATION.read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    big = head + b"\r\n\r\n" + body + b"\r\n" + b"a" * (config.mailbox.max_message_bytes + 10)
    run(tmp_path, [big])
    app = App(config)
    try:
        with app.sessions() as session:
            inbound = session.scalars(select(InboundMessage)).one()
    finally:
        app.close()
    assert inbound.state == "quarantined"
    assert inbound.sender_address == "hiroshi.yamaguchi@example.com"
    assert "大きすぎ" in inbound.error
