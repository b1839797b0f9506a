"""Tests of the charset layer: labels, Windows extensions, ISO-2022-JP, EUC-JP and guessing."""

from __future__ import annotations

import codecs

import pytest

from mailflow.intake.charset import (
    CP932,
    EUCJP,
    ISO2022JP,
    UTF8,
    charset_family,
    decode_bytes,
    guess_decode,
    html_meta_charset,
)
from mailflow.intake.jis import decode_eucjp_ms, decode_iso2022jp, jis_to_sjis
from tests.intake.japanese_encoders import ESC_ASCII, ESC_JIS0208, encode_iso2022jp


@pytest.mark.parametrize(
    "label, family",
    [
        ("Shift_JIS", CP932),
        ("sjis", CP932),
        ("x-sjis", CP932),
        ("windows-31j", CP932),
        ("CP932", CP932),
        ("EUC-JP", EUCJP),
        ("x-euc-jp", EUCJP),
        ("ISO-2022-JP", ISO2022JP),
        ("csISO2022JP", ISO2022JP),
        ('"utf8"', UTF8),
        ("unknown-8bit", None),
        ("", None),
        (None, None),
    ],
)
def test_charset_family_labels(label, family):
    assert charset_family(label) == family


def test_wave_dash_shift_jis_label():
    decoded = decode_bytes(b"\x81\x60", "Shift_JIS")
    assert decoded.text == "\uff5e"


def test_wave_dash_euc_jp_label():
    decoded = decode_bytes(b"\xa1\xc1", "EUC-JP")
    assert decoded.text == "\uff5e"


def test_eucjp_nec_row13():
    text, bad = decode_eucjp_ms(b"\xad\xa1\xad\xea")
    assert text == "①㈱"
    assert bad == 0


def test_eucjp_halfwidth_and_jis0212():
    text, bad = decode_eucjp_ms(b"\x8e\xb1" + "丂".encode("euc_jp"))
    assert text == "ｱ丂"
    assert bad == 0


def test_eucjp_user_defined_area():
    text, _ = decode_eucjp_ms(b"\xf5\xa1")
    assert text == "\ue000"


def test_eucjp_truncated_counts_bad():
    text, bad = decode_eucjp_ms(b"\xb0")
    assert text == "\ufffd"
    assert bad == 1


def test_iso2022jp_missing_return_to_ascii():
    text, bad = decode_iso2022jp(ESC_JIS0208 + b"$3$s\r\n$K$A$O")
    assert text == "こん\r\nにちは"
    assert bad == 0


def test_iso2022jp_redundant_escapes():
    joined = ESC_JIS0208 + b"$3" + ESC_ASCII + ESC_JIS0208 + b"$s" + ESC_ASCII
    assert decode_iso2022jp(joined) == ("こん", 0)


def test_iso2022jp_shift_out_kana():
    assert decode_iso2022jp(b"\x0e\x31\x32\x0fA") == ("ｱｲA", 0)


def test_iso2022jp_jis8_kana():
    assert decode_iso2022jp(ESC_JIS0208 + b"$3" + ESC_ASCII + b"\xb1") == ("こｱ", 0)


def test_iso2022jp_jis0212():
    assert decode_iso2022jp(b"\x1b$(D" + bytes((0x30, 0x21)) + ESC_ASCII) == ("丂", 0)


def test_iso2022jp_unknown_escape_counts_bad():
    text, bad = decode_iso2022jp(b"a\x1bZb")
    assert text == "a\ufffdZb"
    assert bad == 1


def test_iso2022jp_odd_byte_counts_bad():
    text, bad = decode_iso2022jp(ESC_JIS0208 + b"$3$" + ESC_ASCII)
    assert text == "こ\ufffd"
    assert bad == 1


def test_jis_to_sjis_nec_selected_ibm():
    assert jis_to_sjis(0x7C, 0x62).decode("cp932") == "髙"


def test_iso2022jp_label_on_utf8_bytes():
    decoded = decode_bytes("申込書".encode("utf-8"), "iso-2022-jp")
    assert decoded.text == "申込書"
    assert decoded.defect is not None


def test_ascii_label_on_cp932_bytes():
    decoded = decode_bytes("申込書".encode("cp932"), "us-ascii")
    assert decoded.text == "申込書"
    assert "us-ascii" in decoded.defect


def test_ascii_label_on_jis_escapes():
    decoded = decode_bytes(encode_iso2022jp("申込書"), "us-ascii")
    assert decoded.text == "申込書"
    assert decoded.charset == ISO2022JP


def test_utf8_label_on_cp932_bytes():
    decoded = decode_bytes("申込書".encode("cp932"), "utf-8")
    assert decoded.text == "申込書"
    assert decoded.charset == CP932


def test_unknown_label_guesses():
    decoded = decode_bytes("申込書".encode("utf-8"), "x-nonexistent")
    assert decoded.text == "申込書"
    assert "unknown" in decoded.defect


def test_bytes_codec_label_rejected():
    decoded = decode_bytes(b"YWJj", "base64")
    assert decoded.text == "YWJj"
    assert "unknown" in decoded.defect


def test_latin1_label_reads_cp1252():
    assert decode_bytes(b"\x93quoted\x94", "iso-8859-1").text == "\u201cquoted\u201d"


def test_utf8_bom_stripped():
    decoded = decode_bytes(codecs.BOM_UTF8 + "申込".encode("utf-8"), "utf-8")
    assert decoded.text == "申込"
    assert decoded.defect is None


def test_utf16_bom_overrides_label():
    decoded = decode_bytes(codecs.BOM_UTF16_LE + "申込".encode("utf-16-le"), "iso-2022-jp")
    assert decoded.text == "申込"
    assert decoded.defect is not None


def test_guess_prefers_utf8():
    assert guess_decode("申込書".encode("utf-8")).charset == UTF8


def test_guess_reads_cp932():
    decoded = guess_decode("申込書①".encode("cp932"))
    assert decoded.text == "申込書①"
    assert decoded.charset == CP932


def test_guess_reads_eucjp():
    decoded = guess_decode("山田太郎の申込書です".encode("euc_jp"))
    assert decoded.text == "山田太郎の申込書です"
    assert decoded.charset == EUCJP


def test_guess_reads_iso2022jp():
    assert guess_decode(encode_iso2022jp("申込書")).text == "申込書"


def test_guess_undecodable_records_defect():
    decoded = guess_decode(b"\x81\x20\xff\x00")
    assert "\ufffd" in decoded.text
    assert decoded.defect is not None


def test_invalid_label_bytes_replaced_with_defect():
    decoded = decode_bytes(b"\xe3\x81", "utf-8")
    assert decoded.text
    assert decoded.defect is not None


def test_html_meta_charset():
    assert html_meta_charset(b'<html><head><meta charset="Shift_JIS"></head>') == "Shift_JIS"


def test_html_meta_http_equiv():
    html = b'<meta http-equiv="Content-Type" content="text/html; charset=iso-2022-jp">'
    assert html_meta_charset(html) == "iso-2022-jp"
