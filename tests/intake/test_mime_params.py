"""Tests of Content-Type and Content-Disposition parameter decoding (RFC 2231, RFC 2047)."""

from __future__ import annotations

import base64
import urllib.parse

from mailflow.intake.mime_params import parse_parameterized
from tests.intake.japanese_encoders import encode_iso2022jp


def percent(data: bytes) -> str:
    return urllib.parse.quote(data, safe="")


def test_value_token_lowercased():
    parsed = parse_parameterized('Multipart/Mixed; boundary="----=_Part_1"')
    assert parsed.value == "multipart/mixed"
    assert parsed.params == {"boundary": "----=_Part_1"}


def test_rfc2231_single_section():
    parsed = parse_parameterized(f"attachment; filename*=UTF-8''{percent('申込書.xlsx'.encode())}")
    assert parsed.params["filename"] == "申込書.xlsx"


def test_rfc2231_utf8_cut_mid_character():
    encoded = percent("交付申請書.xlsx".encode("utf-8"))
    cut = encoded.index("%", 12)
    value = f"attachment;\r\n filename*0*=UTF-8''{encoded[:cut + 3]};\r\n filename*1*={encoded[cut + 3:]}"
    assert parse_parameterized(value).params["filename"] == "交付申請書.xlsx"


def test_rfc2231_jis_run_and_escape_cut():
    encoded = percent(encode_iso2022jp("あいうえお.png"))
    value = f"inline; filename*0*=ISO-2022-JP''{encoded[:20]}; filename*1*={encoded[20:]}; filename*2*="
    parsed = parse_parameterized(value)
    assert parsed.params["filename"] == "あいうえお.png"
    assert parsed.defects == []


def test_rfc2231_sections_out_of_order():
    value = "attachment; filename*1*=%E6%9B%B8.pdf; filename*0*=UTF-8''%E7%94%B3%E8%BE%BC"
    assert parse_parameterized(value).params["filename"] == "申込書.pdf"


def test_rfc2231_plain_sections():
    value = 'attachment; filename*0="long file "; filename*1="name.pdf"'
    assert parse_parameterized(value).params["filename"] == "long file name.pdf"


def test_rfc2231_shift_jis_label():
    value = f"attachment; filename*=shift_jis'ja'{percent('申込書①.xlsx'.encode('cp932'))}"
    assert parse_parameterized(value).params["filename"] == "申込書①.xlsx"


def test_rfc2231_missing_charset_guessed():
    parsed = parse_parameterized(f"attachment; filename*=''{percent('申込書.pdf'.encode('cp932'))}")
    assert parsed.params["filename"] == "申込書.pdf"


def test_rfc2231_without_prefix_recorded():
    parsed = parse_parameterized(f"attachment; filename*={percent('申込書.pdf'.encode())}")
    assert parsed.params["filename"] == "申込書.pdf"
    assert parsed.defects != []


def test_rfc2231_missing_section_recorded():
    parsed = parse_parameterized("attachment; filename*0*=UTF-8''a; filename*2*=c")
    assert parsed.params["filename"] == "ac"
    assert parsed.defects != []


def test_rfc2231_preferred_over_plain():
    value = f"attachment; filename=\"fallback.pdf\"; filename*=UTF-8''{percent('申込書.pdf'.encode())}"
    assert parse_parameterized(value).params["filename"] == "申込書.pdf"


def test_quoted_encoded_word_name():
    word = base64.b64encode(encode_iso2022jp("申込書（髙橋）.xlsx")).decode("ascii")
    parsed = parse_parameterized(f'application/octet-stream;\r\n\tname="=?ISO-2022-JP?B?{word}?="')
    assert parsed.params["name"] == "申込書（髙橋）.xlsx"


def test_raw_shift_jis_name_with_backslash_byte():
    raw = 'attachment; filename="表示ソフト.xlsx"; size=10'.encode("cp932").decode("ascii", "surrogateescape")
    parsed = parse_parameterized(raw)
    assert parsed.params["filename"] == "表示ソフト.xlsx"
    assert parsed.params["size"] == "10"


def test_quoted_value_with_semicolon_and_escape():
    parsed = parse_parameterized(r'attachment; filename="a;b \"c\".pdf"; size=3')
    assert parsed.params == {"filename": 'a;b "c".pdf', "size": "3"}


def test_unquoted_value_with_blanks():
    assert parse_parameterized("attachment; filename=my form.pdf").params["filename"] == "my form.pdf"


def test_missing_closing_quote():
    parsed = parse_parameterized('attachment; filename="form.pdf')
    assert parsed.params["filename"] == "form.pdf"
    assert parsed.defects != []


def test_parameter_without_value():
    parsed = parse_parameterized("attachment; bogus; filename=a.pdf")
    assert parsed.params == {"filename": "a.pdf"}
    assert parsed.defects != []


def test_repeated_parameter_keeps_first():
    parsed = parse_parameterized("attachment; filename=a.pdf; filename=b.pdf")
    assert parsed.params["filename"] == "a.pdf"
    assert parsed.defects != []


def test_missing_header():
    parsed = parse_parameterized(None)
    assert parsed.value == ""
    assert parsed.params == {}


def test_rfc2231_line_break_becomes_space():
    parsed = parse_parameterized("attachment; filename*=UTF-8''a%0D%0Ab.pdf")
    assert parsed.params["filename"] == "a b.pdf"
