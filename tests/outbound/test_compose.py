"""Outgoing encoding: UTF-8 base64 bodies, encoded subjects, both forms of file names."""

from __future__ import annotations

import email
import email.policy

import pytest

from mailflow.outbound.compose import (
    AUTO_GENERATED,
    AUTO_REPLIED,
    OWN_MARKER_HEADER,
    Draft,
    OutgoingAttachment,
    build_message,
    make_message_id,
    to_bytes,
)

WINDOWS_EXTENSIONS = "①②Ⅱⅰ㈱㍻№～∥－￢髙﨑ｱｲｳ"
SENDER = ("関東経済産業局 マネジメントメンター受付", "intake@bureau.example.jp")


def build(**overrides) -> bytes:
    values = dict(
        key="receipt:1:2",
        to=[("髙橋 花子", "hanako@example.jp")],
        subject=f"【受付】{WINDOWS_EXTENSIONS}（受付番号 2026-0001）",
        body=f"髙橋 花子 様\n{WINDOWS_EXTENSIONS}\n",
        auto_submitted=AUTO_REPLIED,
        in_reply_to="<orig@example.jp>",
        references=["<first@example.jp>"],
        attachments=[OutgoingAttachment(f"様式1_{WINDOWS_EXTENSIONS}.xlsx", b"PK\x03\x04data", "application/octet-stream")],
    )
    values.update(overrides)
    draft = Draft(**values)
    return to_bytes(build_message(draft, SENDER, "intake@bureau.example.jp", make_message_id(draft.key, "bureau.example.jp")))


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_stdlib_reads_without_defects():
    message = parse(build())
    assert all(not part.defects for part in message.walk())


def test_subject_round_trip():
    assert parse(build())["subject"] == f"【受付】{WINDOWS_EXTENSIONS}（受付番号 2026-0001）"


def test_body_round_trip_base64_utf8():
    message = parse(build())
    body = message.get_body(("plain",))
    assert body["content-transfer-encoding"] == "base64"
    assert body.get_content_charset() == "utf-8"
    assert body.get_content() == f"髙橋 花子 様\n{WINDOWS_EXTENSIONS}\n"


def test_filename_in_both_forms():
    raw = build()
    message = parse(raw)
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == f"様式1_{WINDOWS_EXTENSIONS}.xlsx"
    assert b"filename*=utf-8''" in raw
    assert b'name="=?utf-8?b?' in raw
    assert attachment.get_content() == b"PK\x03\x04data"


def test_threading_headers():
    message = parse(build())
    assert message["in-reply-to"] == "<orig@example.jp>"
    assert message["references"].split() == ["<first@example.jp>", "<orig@example.jp>"]


@pytest.mark.parametrize("kind", [AUTO_REPLIED, AUTO_GENERATED])
def test_auto_headers(kind):
    message = parse(build(auto_submitted=kind))
    assert message["auto-submitted"] == kind
    assert message["x-auto-response-suppress"] == "All"
    assert message[OWN_MARKER_HEADER] == "intake@bureau.example.jp"


def test_lines_within_limit():
    raw = build(subject="長い件名" * 40, attachments=[OutgoingAttachment("長いファイル名" * 10 + ".pdf", b"%PDF")])
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_crlf_line_ends():
    raw = build()
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_message_id_names_key():
    message_id = make_message_id("renewal-reminder:12:2027-03-31:30", "bureau.example.jp")
    assert message_id.startswith("<outbox.renewal-reminder.12.2027-03-31.30.")
    assert message_id.endswith("@bureau.example.jp>")


def test_round_trip_through_our_parser():
    from mailflow.intake.parse import parse_message

    message = parse_message(build())
    assert message.subject == f"【受付】{WINDOWS_EXTENSIONS}（受付番号 2026-0001）"
    assert message.body_text == f"髙橋 花子 様\n{WINDOWS_EXTENSIONS}\n"
    assert message.to[0].name == "髙橋 花子"
    assert message.from_.name == SENDER[0]
    assert [attachment.filename for attachment in message.attachments] == [f"様式1_{WINDOWS_EXTENSIONS}.xlsx"]
    assert message.defects == []
