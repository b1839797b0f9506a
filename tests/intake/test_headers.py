"""Tests of header decoding: RFC 2047 words, raw 8-bit text, addresses, dates and ids."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from mailflow.intake.headers import (
    decode_header_value,
    parse_addresses,
    parse_date,
    parse_message_ids,
)
from mailflow.intake.message import Address
from tests.intake.japanese_encoders import encode_iso2022jp


def b_word(charset: str, data: bytes) -> str:
    return f"=?{charset}?B?{base64.b64encode(data).decode('ascii')}?="


def raw_header(data: bytes) -> str:
    """Return header bytes as the stdlib's compat32 parser stores them (8-bit as surrogates)."""
    return data.decode("ascii", "surrogateescape")


def test_utf8_character_split_across_words():
    data = "申込書".encode("utf-8")
    value = f"{b_word('utf-8', data[:4])} {b_word('UTF-8', data[4:])}"
    assert decode_header_value(value).text == "申込書"


def test_jis_run_split_across_words():
    data = encode_iso2022jp("申込書を送ります")
    value = f"{b_word('ISO-2022-JP', data[:7])}\r\n {b_word('iso-2022-jp', data[7:])}"
    decoded = decode_header_value(value)
    assert decoded.text == "申込書を送ります"
    assert decoded.defects == []


def test_self_contained_jis_words_joined():
    first, second = encode_iso2022jp("申込書"), encode_iso2022jp("送付")
    value = f"{b_word('ISO-2022-JP', first)}\r\n\t{b_word('ISO-2022-JP', second)}"
    assert decode_header_value(value).text == "申込書送付"


def test_blank_between_word_and_text_kept():
    assert decode_header_value(f"Re: {b_word('utf-8', '受付'.encode())} 完了").text == "Re: 受付 完了"


def test_different_charsets_adjacent():
    value = f"{b_word('iso-2022-jp', encode_iso2022jp('自動応答: '))} {b_word('utf-8', '受付'.encode())}"
    assert decode_header_value(value).text == "自動応答: 受付"


def test_lowercase_q_with_underscores():
    assert decode_header_value("=?utf-8?q?=E7=94=B3_=E8=BE=BC?=").text == "申 込"


def test_word_glued_to_text():
    assert decode_header_value(f"Re:{b_word('utf-8', '受付'.encode())}").text == "Re:受付"


def test_language_suffix_ignored():
    assert decode_header_value("=?utf-8*ja?B?5Y+X5LuY?=").text == "受付"


def test_malformed_encoding_kept_as_text():
    assert decode_header_value("=?utf-8?X?abc?=").text == "=?utf-8?X?abc?="


def test_unterminated_word_kept_as_text():
    assert decode_header_value("=?utf-8?B?5Y+X5LuY").text == "=?utf-8?B?5Y+X5LuY"


def test_unknown_word_charset_guessed():
    decoded = decode_header_value(b_word("x-unknown-japanese", "受付".encode("cp932")))
    assert decoded.text == "受付"
    assert decoded.defects != []


def test_word_missing_padding_recorded():
    unpadded = base64.b64encode("受付a".encode("utf-8")).decode("ascii").rstrip("=")
    decoded = decode_header_value(f"=?utf-8?B?{unpadded}?=")
    assert decoded.text == "受付a"
    assert decoded.defects == ["encoded-word: base64 padding was missing; decoded leniently"]


def test_raw_utf8_header_without_defect():
    decoded = decode_header_value(raw_header("申込書の送付".encode("utf-8")))
    assert decoded.text == "申込書の送付"
    assert decoded.defects == []


def test_raw_cp932_header_with_defect():
    decoded = decode_header_value(raw_header("申込書①の送付".encode("cp932")))
    assert decoded.text == "申込書①の送付"
    assert decoded.defects != []


def test_raw_eucjp_header():
    assert decode_header_value(raw_header("山田太郎の申込書です".encode("euc_jp"))).text == "山田太郎の申込書です"


def test_raw_jis_escapes_in_header():
    assert decode_header_value(raw_header(encode_iso2022jp("申込書"))).text == "申込書"


def test_encoded_line_break_becomes_space():
    assert decode_header_value(b_word("utf-8", "受付\r\n完了".encode())).text == "受付 完了"


def test_display_name_words_without_stray_space():
    name = "山本 真理".encode("utf-8")
    value = f"{b_word('UTF-8', name[:10])}\r\n {b_word('UTF-8', name[10:])} <tanto@example.jp>"
    addresses, defects = parse_addresses(value)
    assert addresses == [Address("山本 真理", "tanto@example.jp")]
    assert defects == []


def test_quoted_display_name_with_words():
    value = f'"{b_word("iso-2022-jp", encode_iso2022jp("髙橋 花子"))}" <Hanako.T@example.jp>'
    assert parse_addresses(value)[0] == [Address("髙橋 花子", "Hanako.T@example.jp")]


def test_comment_display_name():
    addresses, _ = parse_addresses("MAILER-DAEMON@example.jp (Mail Delivery System)")
    assert addresses == [Address("Mail Delivery System", "MAILER-DAEMON@example.jp")]


def test_raw_cp932_name_with_backslash_trail_byte():
    value = raw_header('"表示 ソフト" <a@example.jp>, b@example.jp'.encode("cp932"))
    addresses, _ = parse_addresses(value)
    assert addresses == [Address("表示 ソフト", "a@example.jp"), Address("", "b@example.jp")]


def test_group_and_list():
    addresses, _ = parse_addresses("staff: a@example.jp, b@example.jp;")
    assert [item.address for item in addresses] == ["a@example.jp", "b@example.jp"]


def test_broken_address_defect_without_value():
    addresses, defects = parse_addresses("Yamada <taro@example.jp")
    assert addresses == []
    assert len(defects) == 1
    assert "taro" not in defects[0]


def test_date_keeps_sender_offset():
    date, defects = parse_date("Mon, 01 Apr 2024 09:15:00 +0900")
    assert date == dt.datetime(2024, 4, 1, 9, 15, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert date.utcoffset() == dt.timedelta(hours=9)
    assert defects == []


def test_date_quarter_hour_offset():
    date, _ = parse_date("Mon, 01 Apr 2024 09:15:00 +0545")
    assert date.utcoffset() == dt.timedelta(hours=5, minutes=45)


def test_date_jst_zone_name():
    date, defects = parse_date("Mon, 1 Apr 2024 09:15:00 JST")
    assert date.utcoffset() == dt.timedelta(hours=9)
    assert date.hour == 9
    assert defects != []


def test_date_unknown_zone_is_utc():
    date, _ = parse_date("1 Apr 2024 09:15 -0000")
    assert date.utcoffset() == dt.timedelta(0)


def test_date_invalid_is_defect():
    date, defects = parse_date("next Tuesday")
    assert date is None
    assert defects != []


def test_date_weekday_mismatch_kept():
    date, defects = parse_date("Tue, 01 Apr 2024 09:15:00 +0900")
    assert date is not None
    assert defects != []


def test_message_ids_folded():
    ids, defects = parse_message_ids("<a@example.jp>\r\n <b\r\n @example.jp> (comment)")
    assert ids == ["<a@example.jp>", "<b@example.jp>"]
    assert defects == []


@pytest.mark.parametrize("value, expected", [
    (raw_header("<あい@例え.jp>".encode("utf-8")), "<%E3%81%82%E3%81%84@%E4%BE%8B%E3%81%88.jp>"),
    (raw_header(b"<a\x01b@example.jp>"), "<a%01b@example.jp>"),
    (raw_header(b"<\xff@example.jp>"), "<%FF@example.jp>"),
])
def test_message_id_outside_ascii_escaped(value, expected):
    ids, defects = parse_message_ids(value)
    assert ids == [expected]
    assert ids[0].encode("ascii")
    assert any("escaped" in defect for defect in defects)


def test_message_id_without_brackets():
    ids, defects = parse_message_ids("abc@example.jp")
    assert ids == ["<abc@example.jp>"]
    assert defects != []
