"""Tests for removing MIME parts from a raw message while keeping every other byte."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re

import pytest

from mailflow.intake.redact import RedactError, remove_parts
from tests.conftest import CASES, SAMPLE
from tests.leaks.secrets import base64_forms, unfolded

MAIL_07 = SAMPLE / "mailbox" / "07-registration-unmasked-mynumber.eml"
EXPECTED_07 = json.loads(MAIL_07.with_suffix(".json").read_text(encoding="utf-8"))
NUMBER = next(item["value"] for item in EXPECTED_07["must_not_store"] if item["kind"] == "text")
REMOVED_NAME = next(item["filename"] for item in EXPECTED_07["must_not_store"] if item["kind"] == "attachment")
REMOVED_ENTRY = next(entry for entry in EXPECTED_07["attachments"] if entry["filename"] == REMOVED_NAME)
NOTE = "個人番号が記載された本人確認書類のため、保存せずに削除しました"
FORWARDED = CASES / "case-11-forwarded-as-rfc822" / "mail.eml"


def parse(raw: bytes) -> email.message.Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def removed_part_id(raw: bytes) -> str:
    """Return the IMAP part id of 07's residence certificate, found by its SHA-256."""
    import hashlib

    for number, part in enumerate(parse(raw).get_payload(), 1):
        if hashlib.sha256(part.get_payload(decode=True) or b"").hexdigest() == REMOVED_ENTRY["sha256"]:
            return str(number)
    raise AssertionError("the residence certificate is not a top-level part of 07")


@pytest.fixture(scope="module")
def redacted_07() -> tuple[bytes, bytes, str]:
    raw = MAIL_07.read_bytes()
    part_id = removed_part_id(raw)
    return raw, remove_parts(raw, [part_id], NOTE), part_id


def test_07_number_absent(redacted_07):
    _, copy, _ = redacted_07

    assert NUMBER.encode() not in copy
    for form in base64_forms(NUMBER.encode()):
        assert form not in unfolded(copy)


def test_07_document_bytes_absent(redacted_07):
    raw, copy, part_id = redacted_07
    removed = parse(raw).get_payload()[int(part_id) - 1]
    # Lines that also occur in the other PDF (same producer, same header bytes) stay.
    body_lines = [line for line in removed.get_payload().splitlines() if raw.count(line.encode()) == 1]

    assert removed.get_payload(decode=True) not in copy
    assert body_lines
    assert not [line for line in body_lines if line.encode() in copy]


def test_07_removed_name_absent(redacted_07):
    _, copy, _ = redacted_07

    names = [part.get_filename() for part in parse(copy).walk()]
    assert REMOVED_NAME not in [email.utils.collapse_rfc2231_value(name) if name else None for name in names]
    assert "住民票_渡辺修".encode() not in copy


def test_07_other_bytes_identical(redacted_07):
    raw, copy, part_id = redacted_07
    boundary = parse(raw).get_boundary().encode()
    delimiter = b"--" + boundary
    starts = [match.start() for match in re.finditer(re.escape(delimiter), raw)]
    part_start = raw.index(b"\n", starts[int(part_id) - 1]) + 1
    following = starts[int(part_id)]

    assert copy[:part_start] == raw[:part_start]
    assert copy.endswith(raw[following - 2:])


def test_07_other_parts_identical(redacted_07):
    raw, copy, part_id = redacted_07
    before, after = parse(raw).get_payload(), parse(copy).get_payload()

    assert len(after) == len(before)
    for index, (old, new) in enumerate(zip(before, after), 1):
        if str(index) != part_id:
            assert new.as_bytes() == old.as_bytes()


def test_07_notice_states_removal(redacted_07):
    _, copy, part_id = redacted_07
    notice = parse(copy).get_payload()[int(part_id) - 1]
    text = notice.get_payload(decode=True).decode("utf-8")

    assert notice.get_content_type() == "text/plain"
    assert NOTE in text
    assert REMOVED_ENTRY["sha256"] in text
    assert f"{REMOVED_ENTRY['size']} バイト" in text
    assert notice["X-Mailflow-Removed-Part"] == part_id


def test_07_line_feed_only():
    raw = MAIL_07.read_bytes().replace(b"\r\n", b"\n")
    part_id = removed_part_id(raw)

    copy = remove_parts(raw, [part_id], NOTE)

    assert b"\r\n" not in copy
    assert len(parse(copy).get_payload()) == len(parse(raw).get_payload())
    assert NUMBER.encode() not in copy


def test_note_number_masked():
    raw = MAIL_07.read_bytes()

    copy = remove_parts(raw, ["1"], f"本文に個人番号 {NUMBER} がありました")

    notice = parse(copy).get_payload()[0].get_payload(decode=True).decode("utf-8")
    assert NUMBER not in notice
    assert "************" in notice


def test_forwarded_part_removed():
    raw = FORWARDED.read_bytes()

    copy = remove_parts(raw, ["2.2"], NOTE)

    inner = parse(copy).get_payload()[1].get_payload()[0]
    assert [part.get_content_type() for part in inner.get_payload()] == ["text/plain", "text/plain"]
    assert inner.get_payload()[0].as_bytes() == parse(raw).get_payload()[1].get_payload()[0].get_payload()[0].as_bytes()
    assert b"UEsDBBQAAAAIADachF1Gx01IlQAAAM0AAAAQAAAAZG9jUHJvcHMvYXBwLnhtbE3PTQvCMAwG4L9S" not in copy


def test_forwarded_headers_kept():
    raw = FORWARDED.read_bytes()

    copy = remove_parts(raw, ["2.2"], NOTE)

    outer_headers = raw[:raw.index(b"\n\n") if b"\r\n\r\n" not in raw else raw.index(b"\r\n\r\n")]
    assert copy.startswith(outer_headers)
    assert b"Message-ID: <inner-original-0001@example.jp>" in copy


def test_nested_alternative_part():
    raw = (SAMPLE / "mailbox" / "03-followup-id-only-reply.eml").read_bytes()

    copy = remove_parts(raw, ["1.2"], NOTE)

    alternative = parse(copy).get_payload()[0]
    assert [part.get_content_type() for part in alternative.get_payload()] == ["text/plain", "text/plain"]
    assert alternative.get_payload()[0].as_bytes() == parse(raw).get_payload()[0].get_payload()[0].as_bytes()


def single_part_mail() -> bytes:
    return (
        b"From: taro.yamada@example.jp\r\n"
        b"Subject: =?UTF-8?B?5L2P5rCR56Wo?=\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: application/pdf;\r\n name=\"juminhyo.pdf\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n" + base64.encodebytes(b"%PDF-1.4 " + NUMBER.encode()).replace(b"\n", b"\r\n")
    )


def test_single_part_body_removed():
    raw = single_part_mail()

    copy = remove_parts(raw, ["1"], NOTE)

    message = parse(copy)
    assert message.get_content_type() == "text/plain"
    assert message["Subject"] == "=?UTF-8?B?5L2P5rCR56Wo?="
    assert b"juminhyo.pdf" not in copy
    assert NOTE in message.get_payload(decode=True).decode("utf-8")


def test_single_part_headers_kept():
    raw = single_part_mail()

    copy = remove_parts(raw, ["1"], NOTE)

    assert copy.startswith(b"From: taro.yamada@example.jp\r\nSubject: =?UTF-8?B?5L2P5rCR56Wo?=\r\nMIME-Version: 1.0\r\n")


def test_encoded_forward_replaced_whole():
    inner = b"From: a@example.jp\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 " + NUMBER.encode() + b"\r\n"
    raw = (
        b"From: b@example.jp\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
        b"--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--b1\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(inner).replace(b"\n", b"\r\n")
        + b"--b1--\r\n"
    )

    copy = remove_parts(raw, ["2.1"], NOTE)

    parts = parse(copy).get_payload()
    assert parts[1]["X-Mailflow-Removed-Part"] == "2"
    assert base64.b64encode(inner)[:40] not in copy


def test_missing_close_boundary():
    raw = (
        b"From: b@example.jp\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
        b"--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        b"--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b"%PDF " + NUMBER.encode()) + b"\r\n"
    )

    copy = remove_parts(raw, ["2"], NOTE)

    assert copy.startswith(raw[:raw.index(b"--b1\r\nContent-Type: application/pdf")])
    assert base64.b64encode(b"%PDF " + NUMBER.encode()) not in copy


def test_unknown_part_rejected():
    raw = MAIL_07.read_bytes()

    with pytest.raises(RedactError) as caught:
        remove_parts(raw, ["9"], NOTE)

    assert caught.value.fields["part_id"] == "9"


def test_several_parts_removed():
    raw = MAIL_07.read_bytes()

    copy = remove_parts(raw, ["3", "4", "4/inner.pdf"], NOTE)

    removed = [part["X-Mailflow-Removed-Part"] for part in parse(copy).get_payload()]
    assert removed == [None, None, "3", "4"]


def test_deep_nesting_bounded():
    levels = 3000
    raw = b"From: b@example.jp\r\nMIME-Version: 1.0\r\n"
    for level in range(levels):
        raw += f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'.encode()
    raw += b"Content-Type: text/plain\r\n\r\ninnermost\r\n"
    raw += b"".join(f"--b{level}--\r\n".encode() for level in reversed(range(levels)))

    copy = remove_parts(raw, ["1.1"], NOTE)

    assert parse(copy).get_payload()[0].get_payload()[0]["X-Mailflow-Removed-Part"] == "1.1"
    assert b"innermost" not in copy
