"""Tests for masking individual numbers and passwords in the text of a stored mail."""

from __future__ import annotations

import base64
import email
import email.header
import email.policy
import json
import quopri

import pytest

from mailflow.intake.analyze import analyze, load_intake_rules, mask_unanalysed
from mailflow.intake.masking import (
    PASSWORD_MASK,
    intake_masker,
    mask_html,
    mask_password_notice,
)
from mailflow.intake.parse import parse_message
from mailflow.intake.privacy import find_individual_numbers, mask_individual_numbers
from mailflow.intake.redact import mask_message_text, mask_text_parts, remove_parts
from mailflow.paths import DEFAULT_RULES_DIR
from tests.conftest import CASES, SAMPLE
from tests.leaks.secrets import found_in, number_forms
from tests.privacy.test_privacy import VALID_NUMBERS, WRITTEN_FORMS

KNOWN_VALID = "382916473052"
INQUIRY = SAMPLE / "mailbox" / "10-inquiry.eml"
APPLICATION = SAMPLE / "mailbox" / "01-registration-complete.eml"
FORWARDED = CASES / "case-11-forwarded-as-rfc822" / "mail.eml"
PPAP_DIR = CASES / "case-13-ppap-encrypted-zip"
PPAP_EXPECTED = json.loads((PPAP_DIR / "expected.json").read_text(encoding="utf-8"))
PASSWORD = PPAP_EXPECTED["expected"]["mail-2-password.eml"]["body_contains"][0]

# (charset label, Python codec, Content-Transfer-Encoding) as Japanese clients send text.
ENCODINGS = [
    ("iso-2022-jp", "iso2022_jp", "7bit"),
    ("utf-8", "utf-8", "quoted-printable"),
    ("utf-8", "utf-8", "base64"),
    ("shift_jis", "cp932", "base64"),
    ("euc-jp", "euc_jp", "8bit"),
]


def encode_body(text: str, codec: str, transfer: str) -> bytes:
    if transfer == "quoted-printable":
        return quopri.encodestring(text.encode(codec)).replace(b"\n", b"\r\n")
    data = text.replace("\n", "\r\n").encode(codec)
    if transfer == "base64":
        return base64.encodebytes(data).replace(b"\n", b"\r\n")
    return data


def text_mail(text: str, label: str = "utf-8", codec: str = "utf-8", transfer: str = "8bit",
              subtype: str = "plain", subject: str = "=?utf-8?b?5ZWP44GE5ZCI44KP44Gb?=") -> bytes:
    headers = (
        "From: sender@example.jp\r\nTo: intake@bureau.example.jp\r\n"
        f"Subject: {subject}\r\nMessage-ID: <mask-test@example.jp>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/{subtype}; charset={label}\r\nContent-Transfer-Encoding: {transfer}\r\n\r\n"
    )
    return headers.encode("ascii") + encode_body(text, codec, transfer)


def multipart_mail(text: str, html_text: str, attachment: bytes) -> bytes:
    boundary = "----=_mask_boundary"
    parts = [
        b'Content-Type: text/plain; charset="iso-2022-jp"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n'
        + encode_body(text, "iso2022_jp", "7bit"),
        b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
        + encode_body(html_text, "utf-8", "quoted-printable"),
        b'Content-Type: application/pdf; name="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n'
        b'Content-Disposition: attachment; filename="a.pdf"\r\n\r\n'
        + base64.encodebytes(attachment).replace(b"\n", b"\r\n"),
    ]
    body = b"".join(f"--{boundary}\r\n".encode() + part + b"\r\n" for part in parts) + f"--{boundary}--\r\n".encode()
    headers = (
        "From: sender@example.jp\r\nSubject: test\r\nMessage-ID: <mask-multi@example.jp>\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
    )
    return headers.encode("ascii") + body


@pytest.fixture(scope="module")
def rules():
    return load_intake_rules(DEFAULT_RULES_DIR)


@pytest.mark.parametrize("label,codec,transfer", ENCODINGS)
def test_number_masked_in_each_encoding(label, codec, transfer):
    for form_name, written in WRITTEN_FORMS.items():
        for number in VALID_NUMBERS:
            raw = text_mail(f"番号は {written(number)} です。\nよろしくお願いします。\n", label, codec, transfer)
            masked = mask_text_parts(raw, mask_individual_numbers)
            assert found_in(masked, number_forms(number)) == [], (form_name, number)
            assert find_individual_numbers(parse_message(masked).body_text) == [], (form_name, number)


@pytest.mark.parametrize("label,codec,transfer", ENCODINGS)
def test_masked_text_keeps_other_words(label, codec, transfer):
    raw = text_mail(f"番号は {KNOWN_VALID} です。\nよろしくお願いします。\n", label, codec, transfer)
    body = parse_message(mask_text_parts(raw, mask_individual_numbers)).body_text
    assert body.replace("\r\n", "\n") == "番号は ************ です。\nよろしくお願いします。\n"


def test_masked_part_is_utf8_base64():
    raw = text_mail(f"番号 {KNOWN_VALID}\n", "iso-2022-jp", "iso2022_jp", "7bit")
    part = email.message_from_bytes(mask_text_parts(raw, mask_individual_numbers), policy=email.policy.compat32)
    assert part.get_content_charset() == "utf-8"
    assert part["Content-Transfer-Encoding"] == "base64"


def test_unchanged_mail_identical():
    raw = INQUIRY.read_bytes()
    assert mask_text_parts(raw, mask_individual_numbers) == raw


def test_sample_inquiry_number_masked():
    raw = INQUIRY.read_bytes().replace("マイナンバーカード".encode(), f"マイナンバー {KNOWN_VALID} カード".encode())
    masked = mask_message_text(raw, mask_individual_numbers)
    assert masked.parts == ("1",)
    assert found_in(masked.raw, number_forms(KNOWN_VALID)) == []
    assert "マイナンバー ************ カード" in parse_message(masked.raw).body_text


def test_headers_kept_byte_for_byte():
    raw = INQUIRY.read_bytes().replace("マイナンバーカード".encode(), f"マイナンバー {KNOWN_VALID} カード".encode())
    masked = mask_text_parts(raw, mask_individual_numbers)
    for name in (b"From:", b"To:", b"Message-ID:", b"Date:", b"Received:"):
        original = [line for line in raw.split(b"\r\n") if line.startswith(name)]
        kept = [line for line in masked.split(b"\r\n") if line.startswith(name)]
        assert kept == original, name


def test_multipart_text_and_html_masked():
    attachment = b"%PDF-1.4 fake " + KNOWN_VALID.encode()
    html_text = f'<html><body><p title="{KNOWN_VALID}">番号 {KNOWN_VALID}</p><img src="x.png"></body></html>'
    raw = multipart_mail(f"番号 {KNOWN_VALID}\n", html_text, attachment)
    masked = mask_message_text(raw, mask_individual_numbers)
    message = parse_message(masked.raw)
    assert masked.parts == ("1", "2")
    assert find_individual_numbers(message.body_text) == []
    assert find_individual_numbers(message.body_html) == []
    assert '<img src="x.png">' in message.body_html


def test_attachment_left_alone():
    # Attachments are documents: intake removes a document with a number whole.
    attachment = b"%PDF-1.4 fake " + KNOWN_VALID.encode()
    raw = multipart_mail(f"番号 {KNOWN_VALID}\n", "<p>なし</p>", attachment)
    message = parse_message(mask_text_parts(raw, mask_individual_numbers))
    assert [a.payload for a in message.attachments] == [attachment]


def test_html_number_split_by_tags():
    document = f"<p>番号 {KNOWN_VALID[:4]}<b>{KNOWN_VALID[4:8]}</b>{KNOWN_VALID[8:]}</p>"
    masked = mask_html(document, mask_individual_numbers)
    assert masked.startswith("<pre>")
    assert KNOWN_VALID[4:8] not in masked


def test_html_entities_decoded_before_masking():
    encoded_digits = "".join(f"&#{ord(char)};" for char in KNOWN_VALID)
    masked = mask_html(f"<p>{encoded_digits}</p>", mask_individual_numbers)
    assert masked == "<p>************</p>"


def test_html_comment_masked():
    masked = mask_html(f"<!-- {KNOWN_VALID} --><p>ok</p>", mask_individual_numbers)
    assert masked == "<!-- ************ --><p>ok</p>"


def test_subject_number_masked():
    subject = "=?utf-8?b?" + base64.b64encode(f"番号 {KNOWN_VALID} の件".encode()).decode() + "?="
    masked = mask_message_text(text_mail("本文\n", subject=subject), mask_individual_numbers)
    assert masked.parts == ("HEADER",)
    assert parse_message(masked.raw).subject == "番号 ************ の件"


def test_forwarded_message_masked():
    original = FORWARDED.read_bytes()
    inner_id = next(a.part_id for a in parse_message(original).attachments if a.forwarded)
    inner_text = original.index(b"7bit\r\n\r\n", original.index(b"--inner-boundary-0001")) + len(b"7bit\r\n\r\n")
    raw = original[:inner_text] + f"{KNOWN_VALID} ".encode("ascii") + original[inner_text:]
    masked = mask_message_text(raw, mask_individual_numbers)
    assert f"{inner_id}.1" in masked.parts
    forwarded = next(a.forwarded for a in parse_message(masked.raw).attachments if a.forwarded)
    assert find_individual_numbers(forwarded.body_text) == []


def test_base64_forwarded_message_masked():
    inner = text_mail(f"番号 {KNOWN_VALID}\n")
    boundary = "fwd-boundary"
    raw = (
        "From: a@example.jp\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n転送します\r\n"
        f"--{boundary}\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + base64.encodebytes(inner).replace(b"\n", b"\r\n") + f"--{boundary}--\r\n".encode()
    masked = mask_message_text(raw, mask_individual_numbers)
    assert "2" in masked.parts
    assert found_in(masked.raw, number_forms(KNOWN_VALID)) == []


def test_removal_notice_left_alone():
    raw = (SAMPLE / "mailbox" / "07-registration-unmasked-mynumber.eml").read_bytes()
    removed = remove_parts(raw, ["4"], "理由")
    assert mask_text_parts(removed, mask_password_notice).count(b"X-Mailflow-Removed-Part") == 1


def test_remove_parts_twice_unchanged():
    raw = (SAMPLE / "mailbox" / "07-registration-unmasked-mynumber.eml").read_bytes()
    removed = remove_parts(raw, ["4"], "理由")
    assert remove_parts(removed, ["4"], "別の理由") == removed


def test_password_masker_hides_length():
    assert mask_password_notice("パスワード：Ab3xY9q2") == f"パスワード{PASSWORD_MASK}"
    assert mask_password_notice("パスワードは x1 です") == f"パスワードは {PASSWORD_MASK} です"


def test_password_masker_idempotent():
    once = mask_password_notice("pass: Ab3xY9q2 ／ ｆｕｌｌ")
    assert mask_password_notice(once) == once


def test_intake_masker_combines():
    masker = intake_masker(password_notice=True)
    assert masker(f"{KNOWN_VALID} 秘密 Ab3x") == f"{'*' * 12} 秘密 {PASSWORD_MASK}"


def test_password_notice_stored_masked(rules):
    raw = (PPAP_DIR / "mail-2-password.eml").read_bytes()
    analysis = analyze(raw, rules)
    assert analysis.stored_raw is not None
    assert found_in(analysis.stored_raw, [PASSWORD.encode(), PASSWORD.encode("iso2022_jp")]) == []
    assert PASSWORD not in parse_message(analysis.stored_raw).body_text
    assert analysis.masked_for == ["password"]


def test_password_notice_keeps_japanese(rules):
    analysis = analyze((PPAP_DIR / "mail-2-password.eml").read_bytes(), rules)
    assert "パスワード" in parse_message(analysis.stored_raw).body_text


def test_ordinary_mail_ascii_kept(rules):
    raw = APPLICATION.read_bytes()
    analysis = analyze(raw, rules)
    assert analysis.stored_raw is None
    assert analysis.masked_parts == []


def test_body_number_analysis(rules):
    raw = INQUIRY.read_bytes().replace("マイナンバーカード".encode(), f"マイナンバー {KNOWN_VALID} カード".encode())
    analysis = analyze(raw, rules)
    assert analysis.masked_parts == ["1"]
    assert analysis.masked_for == ["individual_number"]
    assert found_in(analysis.stored_raw, number_forms(KNOWN_VALID)) == []
    assert "individual_number_in_body" in analysis.warning_codes()
    assert KNOWN_VALID not in analysis.details["body_text"]


def test_subject_number_analysis(rules):
    subject = "=?utf-8?b?" + base64.b64encode(f"問い合わせ {KNOWN_VALID}".encode()).decode() + "?="
    analysis = analyze(text_mail("マネジメントメンターの登録について質問です。\n", subject=subject), rules)
    assert KNOWN_VALID not in analysis.message.subject
    assert "HEADER" in analysis.masked_parts


def test_unanalysed_mail_masked():
    masked = mask_unanalysed(text_mail(f"番号 {KNOWN_VALID}\n"))
    assert masked is not None
    assert found_in(masked.raw, number_forms(KNOWN_VALID)) == []


def test_unanalysed_clean_mail_none():
    assert mask_unanalysed(INQUIRY.read_bytes()) is None


def test_display_name_number_masked():
    encoded_name = email.header.Header(f"山田 {KNOWN_VALID}", "utf-8").encode()
    raw = text_mail("本文です。").replace(b"From: sender@example.jp", f"From: {encoded_name} <sender@example.jp>".encode())
    masked = mask_message_text(raw, mask_individual_numbers)
    assert not found_in(masked.raw, number_forms(KNOWN_VALID))
    parsed = parse_message(masked.raw)
    assert parsed.from_.address == "sender@example.jp"
    assert parsed.from_.name.startswith("山田")


def test_display_name_number_masked_in_analysis():
    encoded_name = email.header.Header(f"山田 {KNOWN_VALID}", "utf-8").encode()
    raw = text_mail("登録について質問です。").replace(
        b"From: sender@example.jp", f"From: {encoded_name} <sender@example.jp>".encode())
    analysis = analyze(raw, load_intake_rules(DEFAULT_RULES_DIR))
    assert KNOWN_VALID not in analysis.message.from_.name
    assert not found_in(analysis.stored_raw or raw, number_forms(KNOWN_VALID))


@pytest.mark.parametrize("field", ["Content-Description", "Comments", "Keywords", "Thread-Topic"])
def test_part_text_field_number_masked(field):
    encoded = email.header.Header(f"個人番号 {KNOWN_VALID}", "utf-8").encode()
    raw = multipart_mail("本文", "<p>本文</p>", b"%PDF-1.4").replace(
        b'Content-Type: application/pdf; name="a.pdf"', f'{field}: {encoded}\r\nContent-Type: application/pdf; name="a.pdf"'.encode())
    masked = mask_message_text(raw, mask_individual_numbers)
    assert masked.parts == ("3.HEADER",)
    assert not found_in(masked.raw, number_forms(KNOWN_VALID))
    assert parse_message(masked.raw).attachments[0].filename == "a.pdf"
