"""Form 1 values as staff read them in notifications and ``mailflow queue show``."""

from __future__ import annotations

import pytest

from mailflow.review.form_view import (
    career_lines,
    form_lines,
    form_rows,
    format_value,
    japanese_date_with_era,
    unreadable_labels,
)


@pytest.mark.parametrize("iso, text", [
    ("1957-09-30", "1957年9月30日（昭和32年）"),
    ("1989-01-07", "1989年1月7日（昭和64年）"),
    ("1989-01-08", "1989年1月8日（平成元年）"),
    ("2019-04-30", "2019年4月30日（平成31年）"),
    ("2019-05-01", "2019年5月1日（令和元年）"),
    ("2026-12-01", "2026年12月1日（令和8年）"),
    ("昭和32年頃", "昭和32年頃"),
])
def test_date_with_era(iso, text):
    assert japanese_date_with_era(iso) == text


@pytest.mark.parametrize("key, value, text", [
    ("consent", True, "はい"),
    ("consent", False, "いいえ"),
    ("fields", ["経営戦略", "生産管理"], "経営戦略、生産管理"),
    ("age", 69, "69歳"),
    ("experience_years", 37, "37年"),
    ("birth_date", "1957-09-30", "1957年9月30日（昭和32年）"),
    ("name", "渡辺 修", "渡辺 修"),
])
def test_format_value(key, value, text):
    assert format_value(key, value) == text


def test_rows_follow_form_order():
    rows = form_rows({"consent": True, "name": "渡辺 修", "birth_date": "1957-09-30"})
    assert [row["label"] for row in rows] == ["氏名", "生年月日", "個人情報の取扱いへの同意"]


def test_rows_skip_blank_values():
    assert form_rows({"name": "渡辺 修", "phone": None, "fields": [], "pr": ""}) == [
        {"label": "氏名", "value": "渡辺 修"}]


def test_rows_keep_unknown_keys_last():
    rows = form_rows({"remarks": "特になし", "name": "渡辺 修", "defects": ["x"], "career": []})
    assert rows == [{"label": "氏名", "value": "渡辺 修"}, {"label": "remarks", "value": "特になし"}]


def test_career_lines_skip_blank_cells():
    career = [{"period": "1980年4月～1995年3月", "company": "テスト運輸株式会社", "position": None, "duties": ""},
              {"period": None, "company": None, "position": None, "duties": None}]
    assert career_lines({"career": career}) == ["1980年4月～1995年3月 / テスト運輸株式会社"]


def test_unreadable_labels_in_form_order():
    assert unreadable_labels({"unreadable": ["career", "phone", "name"]}) == ["氏名", "電話番号", "職歴"]


def test_form_lines_layout():
    values = {"name": "渡辺 修", "career": [{"period": "1980年4月", "company": "テスト運輸株式会社"}],
              "unreadable": ["phone"]}
    assert form_lines(values) == [
        "  氏名: 渡辺 修",
        "  職歴:",
        "    1980年4月 / テスト運輸株式会社",
        "  読み取れなかった項目: 電話番号",
    ]
