"""Form 1 values as staff read them: the form's own labels, dates with their era, はい or いいえ.

Staff notifications and ``mailflow queue show`` both print a form through these functions,
so a value reads the same in the mail and on the command line.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mailflow.intake.forms.eras import ERAS

# Form 1 keys in the order and with the labels the form uses.
FORM_LABELS = {
    "application_date": "申請日", "application_type": "申請区分", "registration_number": "登録番号",
    "name": "氏名", "kana": "ふりがな", "sex": "性別", "birth_date": "生年月日", "age": "年齢",
    "postal_code": "郵便番号", "address": "住所", "phone": "電話番号", "mobile": "携帯電話",
    "email": "メールアドレス", "employment_status": "在職・退職の別", "retirement_date": "退職（予定）年月日",
    "last_employer": "最終勤務先", "position": "所属・役職", "fields": "専門分野",
    "experience_years": "当該分野の経験年数", "qualifications": "保有資格", "pr": "支援可能な内容・自己PR",
    "areas": "活動可能地域", "consent": "個人情報の取扱いへの同意",
}
CAREER_LABEL = "職歴"
CAREER_FIELDS = ("period", "company", "position", "duties")
DATE_KEYS = frozenset({"application_date", "birth_date", "retirement_date"})
# Counts the reader stores as bare numbers; the form writes them with their unit.
UNITS = {"age": "歳", "experience_years": "年"}
# Keys that are not single fields of the form: the career table is printed on its own lines,
# and the reader's notes become the 読み取れなかった項目 line.
NOT_ANSWERS = frozenset({"career", "unreadable", "defects"})


def format_value(key: str, value: Any) -> str:
    """Return one form value as staff read it, e.g. ``True`` → 「はい」, ``"1957-09-30"`` → 「1957年9月30日（昭和32年）」."""
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, list):
        return "、".join(format_value(key, entry) for entry in value)
    if key in DATE_KEYS and isinstance(value, str):
        return japanese_date_with_era(value)
    if key in UNITS and isinstance(value, int):
        return f"{value}{UNITS[key]}"
    return str(value)


def japanese_date_with_era(value: str) -> str:
    """Return an ISO date as 「1957年9月30日（昭和32年）」; text that is no ISO date comes back unchanged."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return value
    text = f"{day.year}年{day.month}月{day.day}日"
    for era in ERAS:
        if era.first_day <= day and (era.last_day is None or day <= era.last_day):
            year = day.year - era.first_day.year + 1
            return f"{text}（{era.name}{'元' if year == 1 else year}年）"
    return text


def form_rows(values: dict[str, Any]) -> list[dict[str, str]]:
    """Return the filled fields as label/value rows in the form's order.

    Keys the form does not have come last, under their own name, so nothing read is hidden.
    Example: ``[{"label": "氏名", "value": "渡辺 修"}, {"label": "個人情報の取扱いへの同意", "value": "はい"}]``.
    """
    known = [key for key in FORM_LABELS if key in values]
    others = [key for key in values if key not in FORM_LABELS and key not in NOT_ANSWERS]
    rows = []
    for key in [*known, *others]:
        value = values[key]
        if value in (None, "", []):
            continue
        rows.append({"label": FORM_LABELS.get(key, key), "value": format_value(key, value)})
    return rows


def career_lines(values: dict[str, Any]) -> list[str]:
    """Return one line per career row: 「1980年4月～1995年3月 / テスト運輸株式会社 / 営業所 所長 / …」."""
    lines = []
    for entry in values.get("career") or []:
        if not isinstance(entry, dict):
            continue
        parts = [str(entry[key]) for key in CAREER_FIELDS if entry.get(key)]
        if parts:
            lines.append(" / ".join(parts))
    return lines


def unreadable_labels(values: dict[str, Any]) -> list[str]:
    """Return the labels of the fields the reader could not read, in the form's order."""
    unreadable = set(values.get("unreadable") or [])
    labels = {**FORM_LABELS, "career": CAREER_LABEL}
    ordered = [key for key in labels if key in unreadable]
    ordered += sorted(key for key in unreadable if key not in labels)
    return [labels.get(key, key) for key in ordered]


def form_lines(values: dict[str, Any], indent: str = "  ") -> list[str]:
    """Return the form as text lines: the filled fields, the career table, then the fields not read."""
    lines = [f"{indent}{row['label']}: {row['value']}" for row in form_rows(values)]
    career = career_lines(values)
    if career:
        lines.append(f"{indent}{CAREER_LABEL}:")
        lines.extend(f"{indent}  {line}" for line in career)
    unreadable = unreadable_labels(values)
    if unreadable:
        lines.append(f"{indent}読み取れなかった項目: {'、'.join(unreadable)}")
    return lines
