"""Tests of lenient Content-Transfer-Encoding decoding."""

from __future__ import annotations

import base64
import binascii

from mailflow.intake.transfer import (
    decode_base64,
    decode_quoted_printable,
    decode_transfer,
    decode_uuencode,
)

PAYLOAD = "申込書の送付です。".encode("utf-8") + bytes(range(256))
ENCODED = base64.encodebytes(PAYLOAD)


def test_base64_clean_has_no_defects():
    decoded = decode_base64(ENCODED)
    assert decoded.data == PAYLOAD
    assert decoded.defects == []


def test_base64_missing_padding():
    decoded = decode_base64(ENCODED.rstrip(b"\n").rstrip(b"="))
    assert decoded.data == PAYLOAD
    assert decoded.defects == ["base64 padding was missing; decoded leniently"]


def test_base64_trailing_blanks():
    lines = ENCODED.split(b"\n")
    lines[0] += b"   "
    decoded = decode_base64(b"\r\n".join(lines))
    assert decoded.data == PAYLOAD
    assert decoded.defects == ["base64 lines had stray blanks; ignored them"]


def test_base64_junk_characters():
    decoded = decode_base64(ENCODED[:8] + b"*!" + ENCODED[8:])
    assert decoded.data == PAYLOAD
    assert decoded.defects == ["base64 contained characters outside its alphabet; skipped them"]


def test_base64_data_after_padding():
    decoded = decode_base64(base64.b64encode(b"ab") + b"\nZZZZ")
    assert decoded.data == b"ab"
    assert decoded.defects == ["base64 continued after its padding; ignored the rest"]


def test_base64_lone_final_character():
    decoded = decode_base64(base64.b64encode(b"abc") + b"Q")
    assert decoded.data == b"abc"
    assert decoded.defects == ["base64 ended with a lone character; dropped it"]


def test_quoted_printable_soft_breaks():
    encoded = binascii.b2a_qp("申込書".encode("utf-8") * 20)
    decoded = decode_quoted_printable(encoded)
    assert decoded.data == "申込書".encode("utf-8") * 20
    assert decoded.defects == []


def test_quoted_printable_bad_escape_kept():
    decoded = decode_quoted_printable(b"100=%\r\nend")
    assert decoded.data == b"100=%\r\nend"
    assert decoded.defects == ["quoted-printable had '=' not followed by two hex digits; kept it as text"]


def test_quoted_printable_lowercase_hex():
    decoded = decode_quoted_printable(b"=e3=81=82")
    assert decoded.data == "あ".encode("utf-8")
    assert decoded.defects == ["quoted-printable used lowercase hex digits; decoded them"]


def test_quoted_printable_blanks_before_break():
    decoded = decode_quoted_printable(b"soft= \r\nbreak  \r\nnext")
    assert decoded.data == b"softbreak\r\nnext"


def test_uuencode_body():
    body = b"begin 644 form.bin\n" + binascii.b2a_uu(b"form data") + b"`\nend\n"
    decoded = decode_uuencode(body)
    assert decoded.data == b"form data"
    assert decoded.defects == []


def test_uuencode_without_begin():
    decoded = decode_uuencode(b"no begin here\n")
    assert decoded.data == b"no begin here\n"
    assert decoded.defects != []


def test_transfer_identity_encodings():
    for name in (None, "7bit", "8BIT", " binary "):
        assert decode_transfer(b"\xe3\x81\x82", name).data == b"\xe3\x81\x82"


def test_transfer_unknown_encoding():
    decoded = decode_transfer(b"raw", "x-gzip")
    assert decoded.data == b"raw"
    assert decoded.defects == ["Content-Transfer-Encoding 'x-gzip' is unknown; kept the bytes as sent"]


def test_transfer_dispatches_base64():
    assert decode_transfer(ENCODED, "Base64").data == PAYLOAD
