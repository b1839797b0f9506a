"""Width folding, dashes, postal codes, phone numbers, e-mail and check boxes."""

from __future__ import annotations

import pytest

from mailflow.intake.forms.normalize import (
    checked_items,
    clean_text,
    fold_width,
    join_wrapped_lines,
    label_key,
    normalize_email,
    normalize_phone,
    normalize_postal_code,
)

FOLDS = [
    ("０３－１２３４－５６７８", "03-1234-5678"),
    ("山田\u3000太郎", "山田 太郎"),
    ("ＱＣ検定１級", "QC検定1級"),
    ("テスト町１ー１", "テスト町1-1"),
    ("テスト町1‐1", "テスト町1-1"),
    ("1983年4月〜1995年3月", "1983年4月～1995年3月"),
    ("コンサルティング", "コンサルティング"),
    ("（オンライン可）", "（オンライン可）"),
]


@pytest.mark.parametrize(("text", "expected"), FOLDS)
def test_fold_width(text, expected):
    assert fold_width(text) == expected


def test_clean_text_collapses_spaces():
    assert clean_text("  山田\u3000\u3000太郎 \r\n") == "山田 太郎"


def test_clean_text_blank_is_none():
    assert clean_text(" \u3000 ") is None


LABELS = [("氏　名：", "氏名"), ("氏名:", "氏名"), ("氏 名", "氏名"), ("ﾌﾘｶﾞﾅ", "フリガナ")]


@pytest.mark.parametrize(("text", "expected"), LABELS)
def test_label_key(text, expected):
    assert label_key(text) == expected


POSTAL = [("〒１００－０００１", "100-0001"), ("1000001", "100-0001"), ("100-0001", "100-0001"), ("100-001", None)]


@pytest.mark.parametrize(("text", "expected"), POSTAL)
def test_postal_code(text, expected):
    assert normalize_postal_code(text) == expected


PHONES = [
    ("03-1234-5678", "03-1234-5678"),
    ("0312345678", "03-1234-5678"),
    ("０３（１２３４）５６７８", "03-1234-5678"),
    ("045-123-4567", "045-123-4567"),
    ("09012345678", "090-1234-5678"),
    ("TEL 0466123456", "0466-12-3456"),
    ("12345", None),
    ("なし", None),
]


@pytest.mark.parametrize(("text", "expected"), PHONES)
def test_phone(text, expected):
    assert normalize_phone(text) == expected


EMAILS = [
    ("taro.yamada@example.jp", "taro.yamada@example.jp"),
    ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "taro@example.jp"),
    ("mailto:taro@example.jp", "taro@example.jp"),
    ("taro", None),
]


@pytest.mark.parametrize(("text", "expected"), EMAILS)
def test_email(text, expected):
    assert normalize_email(text) == expected


def test_checked_items_split():
    checked, unchecked = checked_items("■経営戦略\u3000□営業・販路開拓\n☑IT・DX")
    assert checked == ["経営戦略", "IT・DX"]
    assert unchecked == ["営業・販路開拓"]


WRAPS = [
    (["海外事業部", "部長"], "海外事業部 部長"),
    (["海外事業部", "部長（嘱託）"], "海外事業部 部長（嘱託）"),
    (["量販店向け営業、新規取", "引先の開拓"], "量販店向け営業、新規取引先の開拓"),
    (["Quality", "Manager"], "Quality Manager"),
    (["経営企画部", "の支援"], "経営企画部の支援"),
]


@pytest.mark.parametrize(("lines", "expected"), WRAPS)
def test_join_wrapped_lines(lines, expected):
    assert join_wrapped_lines(lines) == expected
