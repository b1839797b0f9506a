"""Build parsed messages by hand, and read fixture mails through the parser, for these tests."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from mailflow.intake.message import Address, Attachment, Message

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CASES = FIXTURES / "cases"
MAILBOX = FIXTURES / "sample" / "mailbox"
SENT = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))


def make_message(
    subject: str = "",
    body: str = "",
    *,
    headers: list[tuple[str, str]] | None = None,
    sender: str = "taro.yamada@example.jp",
    sender_name: str = "山田 太郎",
    to: str = "intake@bureau.example.jp",
    attachments: list[Attachment] | None = None,
    html: str = "",
    date: dt.datetime | None = SENT,
    report_parts: list[Attachment] | None = None,
    content_type: str = "text/plain",
) -> Message:
    """Return a Message as the parser would build it, with From, To and Subject headers."""
    all_headers = [
        ("From", f"{sender_name} <{sender}>"),
        ("To", to),
        ("Subject", subject),
        ("Content-Type", content_type),
        *(headers or []),
    ]
    message = Message(
        subject=subject,
        from_=Address(sender_name, sender),
        to=[Address("", to)],
        date=date,
        message_id="<test@example.jp>",
        headers=all_headers,
        raw_headers=list(all_headers),
        content_type=content_type.split(";", 1)[0],
        body_text=body,
        body_html=html,
        attachments=attachments or [],
    )
    # Set after construction so these helpers also work with a Message that predates the
    # field; the bounce reader then falls back to the attachments.
    message.report_parts = report_parts or []
    return message


def make_attachment(
    kind: str | None = None,
    *,
    filename: str | None = "書類.xlsx",
    content_type: str = "application/octet-stream",
    payload: bytes = b"",
    encrypted: bool = False,
    forwarded: Message | None = None,
    children: list[Attachment] | None = None,
) -> Attachment:
    return Attachment(
        filename=filename,
        content_type=content_type,
        disposition="attachment",
        payload=payload,
        part_id="2",
        kind=kind,
        encrypted=encrypted,
        forwarded=forwarded,
        children=children or [],
    )


def parse_file(path: Path) -> Message:
    """Parse a fixture mail with the project's parser; skip the test while it is missing."""
    parse = pytest.importorskip("mailflow.intake.parse")
    return parse.parse_message(path.read_bytes())


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def set_kinds_from_roles(message: Message, attachments: list[dict]) -> None:
    """Set each attachment's kind from the expected ``role`` of the file with its SHA-256.

    Stands in for the attachment classifier, which runs before the message classifier.
    """
    roles = {entry["sha256"]: entry["role"] for entry in attachments if entry.get("role")}
    for attachment in message.all_attachments():
        attachment.kind = roles.get(attachment.sha256, attachment.kind)
