"""Tests of parse_message: MIME structure, bodies, attachments, reports and robustness."""

from __future__ import annotations

import base64
import datetime as dt
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow.intake import containers
from mailflow.intake.message import Attachment, Message
from mailflow.intake.parse import parse_message
from mailflow.intake.parts import MAX_FORWARD_DEPTH
from tests.intake.japanese_encoders import encode_iso2022jp

FIXTURES = Path(__file__).parent.parent / "fixtures"
FIXTURE_MAILS = sorted(FIXTURES.glob("cases/*/*.eml")) + sorted(FIXTURES.glob("sample/mailbox/*.eml"))
SMALL_MAILS = [path for path in FIXTURE_MAILS if path.stat().st_size < 20_000]
STAFF_NAME = "河野"
STAFF_WORD = base64.b64encode(encode_iso2022jp(STAFF_NAME)).decode("ascii")
HEADERS = (
    "From: =?utf-8?B?5bGx55SwIOWkqumDjg==?= <taro@example.jp>\r\n"
    f"To: intake@example.jp, =?iso-2022-jp?B?{STAFF_WORD}?= <staff@example.jp>\r\n"
    "Cc: cc@example.jp\r\n"
    "Reply-To: reply@example.jp\r\n"
    "Subject: =?utf-8?B?55Sz6KuL?=\r\n"
    "Date: Mon, 01 Apr 2024 09:15:00 +0900\r\n"
    "Message-ID: <m1@example.jp>\r\n"
    "In-Reply-To: <p1@example.jp> <p0@example.jp>\r\n"
    "References: <p0@example.jp>\r\n <p1@example.jp>\r\n"
    "MIME-Version: 1.0\r\n"
)
# Defects that only an exception inside the parser produces.
INTERNAL_FAILURES = ("could not be parsed", "could not be read (")


def mail(content_type: str, body: str, headers: str = HEADERS) -> bytes:
    return (headers + f"Content-Type: {content_type}\r\n\r\n" + body).encode("utf-8")


def multipart(parts: list[str], subtype: str = "mixed", boundary: str = "b1", extra: str = "") -> str:
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    return f'multipart/{subtype}; boundary="{boundary}"{extra}', body


def part(headers: str, body: str) -> str:
    return f"{headers}\r\n\r\n{body}"


def assert_no_internal_failure(message: Message) -> None:
    for defect in message.defects:
        assert not any(marker in defect for marker in INTERNAL_FAILURES), defect


def nested_multiparts(levels: int) -> bytes:
    head = b"From: a@example.jp\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
        for level in range(levels)
    )
    closing = b"".join(b"\r\n--b%d--" % level for level in reversed(range(levels)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nhello" + closing + b"\r\n"


def nested_forwards(levels: int) -> bytes:
    raw = b"From: inner@example.jp\r\nSubject: inner\r\n\r\nbody\r\n"
    for level in range(levels):
        raw = (
            b"From: f%d@example.jp\r\nSubject: level %d\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: message/rfc822\r\n\r\n" % (level, level)
        ) + raw
    return raw


# Headers ------------------------------------------------------------------------------


def test_headers_decoded_in_order():
    message = parse_message(mail("text/plain; charset=utf-8", "x"))
    assert [name for name, _ in message.headers][:3] == ["From", "To", "Cc"]
    assert message.header("subject") == "申請"


def test_raw_headers_undecoded():
    message = parse_message(mail("text/plain; charset=utf-8", "x"))
    assert message.raw_header_all("Subject") == ["=?utf-8?B?55Sz6KuL?="]


def test_raw_headers_keep_8bit_bytes():
    raw = "Subject: 申請①\r\n\r\nx".encode("cp932")
    message = parse_message(raw)
    assert message.raw_headers[0][1].encode("latin-1") == "申請①".encode("cp932")
    assert message.subject == "申請①"


def test_address_fields():
    message = parse_message(mail("text/plain; charset=utf-8", "x"))
    assert message.from_.name == "山田 太郎"
    assert [item.address for item in message.to] == ["intake@example.jp", "staff@example.jp"]
    assert message.to[1].name == STAFF_NAME
    assert [item.address for item in message.cc] == ["cc@example.jp"]
    assert [item.address for item in message.reply_to] == ["reply@example.jp"]


def test_message_ids():
    message = parse_message(mail("text/plain; charset=utf-8", "x"))
    assert message.message_id == "<m1@example.jp>"
    assert message.in_reply_to == "<p1@example.jp>"
    assert message.references == ["<p0@example.jp>", "<p1@example.jp>"]


def test_date_with_offset():
    message = parse_message(mail("text/plain; charset=utf-8", "x"))
    assert message.date == dt.datetime(2024, 4, 1, 0, 15, tzinfo=dt.timezone.utc)
    assert message.date.utcoffset() == dt.timedelta(hours=9)


def test_bad_date_is_defect():
    raw = mail("text/plain", "x", HEADERS.replace("Mon, 01 Apr 2024 09:15:00 +0900", "yesterday"))
    message = parse_message(raw)
    assert message.date is None
    assert any(defect.startswith("header date:") for defect in message.defects)


def test_missing_date_is_defect():
    message = parse_message(b"From: a@example.jp\r\n\r\nbody")
    assert message.date is None
    assert "header date: missing" in message.defects


# Bodies -------------------------------------------------------------------------------


def test_single_part_body():
    message = parse_message(mail("text/plain; charset=utf-8", "一行目\r\n二行目\r\n"))
    assert message.body_text == "一行目\n二行目\n"
    assert message.attachments == []


def test_body_without_charset_guessed():
    message = parse_message(HEADERS.encode() + b"\r\n" + "申込書".encode("cp932"))
    assert message.body_text == "申込書"


def test_ascii_label_on_utf8_body():
    raw = HEADERS.encode() + b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + "申込書".encode("utf-8")
    message = parse_message(raw)
    assert message.body_text == "申込書"
    assert "part 1: labelled us-ascii but contains 8-bit bytes; decoded as utf-8" in message.defects


def test_utf8_bom_body_stripped():
    body = base64.b64encode(b"\xef\xbb\xbf" + "申込書".encode("utf-8")).decode()
    raw = mail("text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64", body)
    assert parse_message(raw).body_text == "申込書"


def test_utf16_bom_body_decoded():
    body = base64.b64encode("申込書\r\n".encode("utf-16")).decode()
    raw = mail("text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64", body)
    assert parse_message(raw).body_text == "申込書\n"


def test_alternative_text_and_html():
    content_type, body = multipart(
        [
            part("Content-Type: text/plain; charset=utf-8", "本文"),
            part("Content-Type: text/html; charset=utf-8", "<p>本文</p>"),
        ],
        subtype="alternative",
    )
    message = parse_message(mail(content_type, body))
    assert message.body_text == "本文"
    assert message.body_html == "<p>本文</p>"


def test_html_charset_from_meta():
    html = '<html><head><meta charset="Shift_JIS"></head><body>申込</body></html>'
    raw = HEADERS.encode() + b"Content-Type: text/html\r\n\r\n" + html.encode("cp932")
    assert "申込" in parse_message(raw).body_html


def test_flowed_body_joined():
    raw = mail("text/plain; charset=utf-8; format=flowed; delsp=yes", "申込書を \r\n送ります。\r\n")
    assert parse_message(raw).body_text == "申込書を送ります。\n"


def test_iso2022jp_body_7bit():
    body = encode_iso2022jp("①申込書\r\n")
    raw = HEADERS.encode() + b"Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n" + body
    assert parse_message(raw).body_text == "①申込書\n"


# Attachments --------------------------------------------------------------------------


def test_nested_part_ids():
    inner_type, inner_body = multipart(
        [part("Content-Type: text/plain", "text"), part("Content-Type: text/html", "<p>text</p>")],
        subtype="alternative",
        boundary="b2",
    )
    content_type, body = multipart(
        [
            part(f"Content-Type: {inner_type}", inner_body),
            part("Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64", "JVBERi0xLjQK"),
        ]
    )
    message = parse_message(mail(content_type, body))
    assert [item.part_id for item in message.attachments] == ["2"]
    assert message.attachments[0].sniffed_type == "pdf"


def test_single_part_attachment_id():
    raw = mail("application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64", "JVBERi0xLjQK")
    message = parse_message(raw)
    assert message.attachments[0].part_id == "1"
    assert message.attachments[0].filename == "a.pdf"


def test_named_text_part_is_attachment():
    content_type, body = multipart(
        [
            part("Content-Type: text/plain", "body"),
            part('Content-Type: text/plain; name="memo.txt"', "memo"),
        ]
    )
    message = parse_message(mail(content_type, body))
    assert message.body_text == "body"
    assert message.attachments[0].filename == "memo.txt"
    assert message.attachments[0].payload == b"memo"


def test_text_attachment_without_name():
    content_type, body = multipart(
        [part("Content-Type: text/plain", "body"), part("Content-Type: text/csv\r\nContent-Disposition: attachment", "a,b")]
    )
    attachment = parse_message(mail(content_type, body)).attachments[0]
    assert attachment.filename is None
    assert attachment.disposition == "attachment"


def test_part_without_name_or_disposition():
    content_type, body = multipart(
        [part("Content-Type: text/plain", "body"), part("Content-Type: application/octet-stream", "data")]
    )
    attachment = parse_message(mail(content_type, body)).attachments[0]
    assert attachment.filename is None
    assert attachment.disposition is None


def test_bad_quoted_printable_kept():
    content_type, body = multipart(
        [
            part("Content-Type: text/plain", "body"),
            part("Content-Type: text/csv; name=a.csv\r\nContent-Transfer-Encoding: quoted-printable", "10=%"),
        ]
    )
    message = parse_message(mail(content_type, body))
    assert message.attachments[0].payload == b"10=%"
    assert any(defect.startswith("part 2: quoted-printable") for defect in message.defects)


def test_expand_called_on_each_attachment(monkeypatch):
    def add_marker(attachment: Attachment, depth: int = 0) -> None:
        attachment.children.append(Attachment(None, "text/plain", None, b"", attachment.part_id + "/marker"))

    monkeypatch.setattr(containers, "expand", add_marker)
    content_type, body = multipart(
        [part("Content-Type: text/plain", "body"), part("Content-Type: application/zip; name=a.zip", "PK")]
    )
    message = parse_message(mail(content_type, body))
    assert [child.part_id for child in message.attachments[0].children] == ["2/marker"]


def test_expand_failure_becomes_defect(monkeypatch):
    def fail(attachment: Attachment, depth: int = 0) -> None:
        raise ValueError("broken")

    monkeypatch.setattr(containers, "expand", fail)
    content_type, body = multipart(
        [part("Content-Type: text/plain", "body"), part("Content-Type: application/zip; name=a.zip", "PK")]
    )
    message = parse_message(mail(content_type, body))
    assert message.attachments[0].filename == "a.zip"
    assert "part 2: container could not be opened (ValueError)" in message.defects


# Forwarded messages and reports -------------------------------------------------------


def test_forwarded_base64_rfc822():
    inner = b"From: inner@example.jp\r\nSubject: inner\r\n\r\nbody\r\n"
    content_type, body = multipart(
        [
            part("Content-Type: text/plain", "see attached"),
            part("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64", base64.b64encode(inner).decode()),
        ]
    )
    attachment = parse_message(mail(content_type, body)).attachments[0]
    assert attachment.forwarded.subject == "inner"
    assert attachment.forwarded.body_text.startswith("body")


def test_forward_depth_capped():
    message = parse_message(nested_forwards(MAX_FORWARD_DEPTH + 2))
    attachment = message.attachments[0]
    for _ in range(MAX_FORWARD_DEPTH - 1):
        attachment = attachment.forwarded.attachments[0]
    assert attachment.forwarded is not None
    deepest = attachment.forwarded.attachments[0]
    assert deepest.forwarded is None
    assert deepest.sniffed_type == "eml"
    assert any("nested over" in defect for defect in deepest.defects)


def test_forwarded_part_ids():
    message = parse_message(nested_forwards(2))
    outer = message.attachments[0]
    assert outer.part_id == "1"
    assert outer.forwarded.attachments[0].part_id == "1.1"


def test_mdn_report_parts():
    content_type, body = multipart(
        [
            part("Content-Type: text/plain", "Your message was displayed."),
            part("Content-Type: message/disposition-notification", "Final-Recipient: rfc822; a@example.jp\r\nDisposition: manual-action/MDN-sent-manually; displayed"),
            part("Content-Type: text/plain", "extra machine text"),
        ],
        subtype="report",
        extra="; report-type=disposition-notification",
    )
    message = parse_message(mail(content_type, body))
    assert message.body_text == "Your message was displayed."
    assert [item.content_type for item in message.report_parts] == ["message/disposition-notification", "text/plain"]
    assert b"displayed" in message.report_parts[0].payload
    assert message.attachments == []


def test_report_returned_message_not_attachment():
    returned = (
        "From: intake@example.jp\r\nSubject: notice\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="r"\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\nhi\r\n'
        "--r\r\nContent-Type: application/pdf; name=notice.pdf\r\n\r\n%PDF-1.4\r\n--r--"
    )
    content_type, body = multipart(
        [part("Content-Type: text/plain", "failed"), part("Content-Type: message/rfc822", returned)],
        subtype="report",
    )
    message = parse_message(mail(content_type, body))
    assert message.attachments == []
    assert message.report_parts[0].children[0].filename == "notice.pdf"


# Robustness ---------------------------------------------------------------------------


def test_empty_input():
    message = parse_message(b"")
    assert "message is empty" in message.defects
    assert message.attachments == []


def test_binary_garbage():
    noise = random.Random(7)
    for _ in range(20):
        garbage = bytes(noise.randrange(256) for _ in range(2000))
        assert_no_internal_failure(parse_message(garbage))


@pytest.mark.parametrize("path", FIXTURE_MAILS, ids=lambda path: path.name)
def test_truncated_fixture(path):
    raw = path.read_bytes()
    for fraction in (0.05, 0.2, 0.5, 0.8, 0.97):
        assert_no_internal_failure(parse_message(raw[: int(len(raw) * fraction)]))


def test_missing_closing_boundary():
    raw = (FIXTURES / "cases" / "case-05-rfc2231-continuations" / "mail.eml").read_bytes()
    cut = raw[: raw.rindex(b"--------------tb2231--")]
    message = parse_message(cut)
    assert [item.filename for item in message.attachments][0] == "交付申請書_山田太郎.xlsx"
    assert any("CloseBoundaryNotFoundDefect" in defect for defect in message.defects)


def test_missing_boundary_parameter():
    message = parse_message(mail("multipart/mixed", "--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--\r\n"))
    assert "hi" in message.body_text
    assert message.defects != []


def test_deeply_nested_multiparts():
    message = parse_message(nested_multiparts(5000))
    assert message.subject == "deep"
    assert "MIME structure is nested too deeply to parse; read the headers only" in message.defects


def test_multipart_depth_limit():
    message = parse_message(nested_multiparts(150))
    assert any("multipart nested over" in defect for defect in message.defects)
    assert_no_internal_failure(message)


def test_deeply_nested_forwards():
    message = parse_message(nested_forwards(5000))
    assert message.subject == "level 4999"
    assert message.defects != []


def _mutate(raw: bytes, operations: list[tuple[int, int, int]]) -> bytes:
    data = bytearray(raw)
    for kind, position, value in operations:
        if not data:
            break
        index = position % len(data)
        if kind == 0:
            data[index] = value
        elif kind == 1:
            del data[index : index + value]
        elif kind == 2:
            data[index:index] = bytes([value]) * (value % 7 + 1)
        else:
            data[index:index] = data[max(0, index - value) : index]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(SMALL_MAILS),
    operations=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 1 << 20), st.integers(0, 255)), max_size=12
    ),
)
def test_fuzz_mutated_fixtures(path, operations):
    message = parse_message(_mutate(path.read_bytes(), operations))
    assert isinstance(message, Message)
    assert_no_internal_failure(message)
