"""Read a mentor's change notice or withdrawal request from the words of a mail body.

Mentors write these notices as free text. The readers here accept the spellings people
use for one changed detail: 「住所（旧）… / 住所（新）…」, 「旧住所：… / 新住所：…」,
「住所 変更前：… 変更後：…」 and 「住所：… → …」. Every label is matched on the NFKC form of
the line, so full-width and half-width spellings match alike. Values are returned in
NFKC form, because the registry compares them with values read from forms.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from mailflow.intake.forms.eras import parse_date_text
from mailflow.intake.forms.normalize import normalize_email, normalize_phone, normalize_postal_code
from mailflow.intake.quoting import strip_quotes

# Registration numbers look like MM-2026-0001: "MM", the fiscal year, then a serial number
# of at least four digits (see mailflow.registry.mentors).
_REGISTRATION_NUMBER = re.compile(r"(?<![A-Za-z0-9])MM\s*-\s*(\d{4})\s*-\s*(\d{4,6})(?!\d)", re.IGNORECASE)

# Label spellings of each registry field a notice may change, most specific first, so that
# 携帯電話 is tried before 電話.
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "mobile": ("携帯電話番号", "携帯電話", "携帯番号", "携帯"),
    "postal_code": ("郵便番号",),
    "email": ("メールアドレス", "電子メール", "e-mail", "email", "メール"),
    "phone": ("電話番号", "固定電話", "電話", "tel"),
    "address": ("ご住所", "住所", "所在地"),
    "kana": ("ふりがな", "フリガナ"),
    "name": ("氏名", "お名前", "名前"),
    "last_employer": ("勤務先", "所属先"),
    "position": ("役職",),
}
_OLD_WORDS = "旧|変更前|現在の|現在|これまでの|これまで|以前の"
_NEW_WORDS = "新しい|新|変更後の|変更後|今後の|今後"
_EFFECTIVE_LABELS = "変更日|異動日|転居日|変更年月日|適用日|効力発生日"
_BRACKETS = "[(（\\[【]"
_CLOSING = "[)）\\]】]"
_SEPARATOR = r"\s*[:：]?\s*"
_ARROW = re.compile(r"\s*(?:→|⇒|->|=>|➡)\s*")
_SENTENCE_END = re.compile(r"[。！!\n]")
_WITHDRAWAL_CLAUSE = re.compile(
    r"(?P<reason>[^、。]+?)\s*(?:により|によって|のため|につき|の理由で|を理由に)[、,]?\s*"
    r"(?:.{0,20}?)(?:取り?消し|取消|抹消|削除|退会|辞退|登録をやめ)"
)
_WITHDRAWAL_LABEL = re.compile(r"^(?:取り?消しの)?理由\s*[:：]\s*(?P<reason>.+)$")


def find_registration_number(text: str) -> str | None:
    """Return the first registration number in ``text`` as ``MM-YYYY-NNNN``, or None.

    Full-width letters, digits and hyphens are read too: 「ＭＭ－２０２２－０１２３」 gives
    ``"MM-2022-0123"``.
    """
    match = _REGISTRATION_NUMBER.search(unicodedata.normalize("NFKC", text))
    if match is None:
        return None
    return f"MM-{match.group(1)}-{match.group(2)}"


def parse_change_notice(body: str) -> dict[str, Any]:
    """Return the changed details a change notice body states, and the day they apply from.

    The result maps each field (the registry's names: ``address``, ``postal_code``,
    ``phone``, ``mobile``, ``email``, ``name``, ``kana``, ``last_employer``, ``position``)
    to ``{"old": …, "new": …}``, plus ``"effective_date"`` (ISO date or None). ``old`` is
    None when the notice gives only the new value. A postal code written at the start of a
    new address (「〒330-0002 埼玉県…」) is reported as a ``postal_code`` change too.
    Example: ``{"phone": {"old": "03-3456-7890", "new": "048-987-6543"},
    "effective_date": "2026-12-01"}``. Quoted text is ignored.
    """
    lines = [unicodedata.normalize("NFKC", line).strip() for line in strip_quotes(body).split("\n")]
    changes: dict[str, dict[str, str | None]] = {}
    for index, line in enumerate(lines):
        for field_name, side, value in _read_line(line, lines[index + 1 : index + 3]):
            entry = changes.setdefault(field_name, {"old": None, "new": None})
            if entry[side] is None:
                entry[side] = _clean_value(field_name, value)
    changes = {name: entry for name, entry in changes.items() if entry["new"] is not None}
    _add_postal_code(changes)
    result: dict[str, Any] = dict(changes)
    result["effective_date"] = _effective_date(lines)
    return result


def parse_withdrawal(body: str) -> dict[str, str | None]:
    """Return the reason a withdrawal request gives, e.g. ``{"reason": "一身上の都合"}``.

    The reason is the phrase before により/のため/につき in the sentence that asks for the
    withdrawal, or the text after a 「理由:」 label; None when the body states none.
    """
    text = unicodedata.normalize("NFKC", strip_quotes(body))
    for line in text.split("\n"):
        labelled = _WITHDRAWAL_LABEL.match(line.strip())
        if labelled:
            return {"reason": labelled.group("reason").strip()}
    for sentence in _SENTENCE_END.split(text):
        match = _WITHDRAWAL_CLAUSE.search(sentence.strip())
        if match:
            return {"reason": match.group("reason").strip()}
    return {"reason": None}


def _read_line(line: str, following: list[str]) -> list[tuple[str, str, str]]:
    """Return (field, "old" | "new", value) for each change that ``line`` states."""
    found: list[tuple[str, str, str]] = []
    for field_name, labels in FIELD_LABELS.items():
        label = "|".join(re.escape(value) for value in labels)
        side_first = re.match(rf"^(?P<side>{_OLD_WORDS}|{_NEW_WORDS})\s*(?:{label}){_SEPARATOR}(?P<value>.+)$",
                              line, re.IGNORECASE)
        # After the label, a one-character side word (旧, 新) counts only in brackets or
        # before a colon, so that 「住所 新宿区…」 is not read as a new address 「宿区…」.
        label_first = re.match(
            rf"^(?:{label})\s*(?:{_BRACKETS}\s*(?P<side>{_OLD_WORDS}|{_NEW_WORDS})\s*{_CLOSING}"
            rf"|(?P<bare>{_OLD_WORDS}|{_NEW_WORDS})\s*[:：]|(?P<long>変更前|変更後)){_SEPARATOR}"
            rf"(?P<value>.+)$", line, re.IGNORECASE)
        match = side_first or label_first
        if match:
            side = next(word for word in (match.groupdict().get(key) for key in ("side", "bare", "long")) if word)
            found.append((field_name, _side(side), match.group("value")))
            return found
        if re.fullmatch(rf"(?:{label}){_SEPARATOR}", line, re.IGNORECASE):
            # The label stands alone and the two values follow on their own lines.
            return _values_below(field_name, following)
        arrow = re.match(rf"^(?:{label})(?:\s*[:：]\s*|\s+)(?P<value>.+)$", line, re.IGNORECASE)
        if arrow and _ARROW.search(arrow.group("value")):
            old, new = _ARROW.split(arrow.group("value"), maxsplit=1)
            return [(field_name, "old", old), (field_name, "new", new)]
    return found


def _values_below(field_name: str, following: list[str]) -> list[tuple[str, str, str]]:
    found = []
    for line in following:
        match = re.match(rf"^(?P<side>{_OLD_WORDS}|{_NEW_WORDS}){_SEPARATOR}(?P<value>.+)$", line)
        if match:
            found.append((field_name, _side(match.group("side")), match.group("value")))
    return found


def _side(word: str) -> str:
    return "new" if re.fullmatch(_NEW_WORDS, word) else "old"


def _clean_value(field_name: str, value: str) -> str | None:
    value = value.strip().strip("「」").strip()
    if not value or value in ("なし", "無し", "-"):
        return None
    if field_name in ("phone", "mobile"):
        return normalize_phone(value) or value
    if field_name == "email":
        return normalize_email(value) or value
    if field_name == "postal_code":
        return normalize_postal_code(value) or value
    return value


def _add_postal_code(changes: dict[str, dict[str, str | None]]) -> None:
    """Report a postal code written at the start of a new address as its own change."""
    address = changes.get("address")
    if address is None or "postal_code" in changes:
        return
    new_code = _leading_postal_code(address["new"])
    if new_code is None:
        return
    old_code = _leading_postal_code(address["old"])
    if old_code != new_code:
        changes["postal_code"] = {"old": old_code, "new": new_code}


def _leading_postal_code(address: str | None) -> str | None:
    if not address:
        return None
    match = re.match(r"^〒?\s*(\d{3}\s*-?\s*\d{4})(?!\d)", address)
    return normalize_postal_code(match.group(1)) if match else None


def _effective_date(lines: list[str]) -> str | None:
    for line in lines:
        match = re.match(rf"^(?:{_EFFECTIVE_LABELS}){_SEPARATOR}(?P<value>.+)$", line)
        if match is None:
            continue
        value = re.split(r"[(（]?(?:から|より|付)", match.group("value"))[0]
        parsed = parse_date_text(value)
        if parsed.ok:
            return parsed.value.isoformat()
    return None
