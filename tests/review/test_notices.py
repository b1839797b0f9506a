"""Reading change notices and withdrawal requests from mail bodies (intake.notices)."""

from __future__ import annotations

import json

import pytest

from mailflow.intake.notices import find_registration_number, parse_change_notice, parse_withdrawal
from mailflow.intake.parse import parse_message
from tests.conftest import SAMPLE

MAILBOX = SAMPLE / "mailbox"


def _sample(stem: str) -> tuple[str, dict]:
    message = parse_message((MAILBOX / f"{stem}.eml").read_bytes())
    expected = json.loads((MAILBOX / f"{stem}.json").read_text(encoding="utf-8"))
    return message.body_text, expected


def test_change_notice_sample_fields():
    body, expected = _sample("08-change-notice")
    result = parse_change_notice(body)
    for field_name, entry in expected["change_notice"].items():
        assert result[field_name] == entry, field_name


def test_change_notice_sample_no_extra_fields():
    body, expected = _sample("08-change-notice")
    assert sorted(parse_change_notice(body)) == sorted(expected["change_notice"])


def test_change_notice_sample_registration_number():
    body, expected = _sample("08-change-notice")
    assert find_registration_number(body) == expected["applicant"]["registration_number"]


def test_withdrawal_sample_reason():
    body, expected = _sample("09-withdrawal")
    assert parse_withdrawal(body) == expected["withdrawal"]


def test_withdrawal_sample_registration_number():
    body, expected = _sample("09-withdrawal")
    assert find_registration_number(body) == expected["applicant"]["registration_number"]


@pytest.mark.parametrize("line, field_name, old, new", [
    ("新住所：東京都新宿区西新宿1-1", "address", None, "東京都新宿区西新宿1-1"),
    ("電話番号：03-1111-2222 → 03-3333-4444", "phone", "03-1111-2222", "03-3333-4444"),
    ("携帯電話（新）０９０－１１１１－２２２２", "mobile", None, "090-1111-2222"),
    ("メールアドレス 変更後 new@example.jp", "email", None, "new@example.jp"),
    ("ＴＥＬ（新）：048-987-6543", "phone", None, "048-987-6543"),
])
def test_change_notice_spellings(line, field_name, old, new):
    assert parse_change_notice(line)[field_name] == {"old": old, "new": new}


def test_change_notice_old_value_alone_dropped():
    # Without a new value there is nothing to apply.
    assert "address" not in parse_change_notice("旧住所: 大阪府テスト市1-1")


def test_change_notice_values_below_label():
    result = parse_change_notice("携帯電話\n旧：090-1111-2222\n新：080-1111-2222")
    assert result["mobile"] == {"old": "090-1111-2222", "new": "080-1111-2222"}


def test_change_notice_bare_new_word_is_not_side():
    # 「住所 新宿区…」 names a place in Shinjuku, not a new address 「宿区…」.
    assert "address" not in parse_change_notice("住所 新宿区西新宿2-8-1")


def test_change_notice_era_effective_date():
    assert parse_change_notice("住所（新）東京都1-1\n異動日：令和8年4月1日から")["effective_date"] == "2026-04-01"


def test_change_notice_ignores_quote():
    body = "よろしくお願いします。\n\n> 電話番号（新）03-0000-0000"
    assert parse_change_notice(body) == {"effective_date": None}


def test_withdrawal_labelled_reason():
    assert parse_withdrawal("登録の取り消しをお願いします。\n理由：転居のため") == {"reason": "転居のため"}


def test_withdrawal_without_reason():
    assert parse_withdrawal("登録を取り消してください。") == {"reason": None}


def test_registration_number_fullwidth():
    assert find_registration_number("登録番号 ＭＭ－２０２２－０１２３ です") == "MM-2022-0123"


def test_registration_number_absent():
    assert find_registration_number("登録番号は忘れました 2022-0123") is None
