"""Normalise text read from forms: widths, spaces, dashes, postal codes, phones and e-mail."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

# Full-width ASCII digits and letters (U+FF10–FF19, U+FF21–FF3A, U+FF41–FF5A) become ASCII.
_WIDTH_TABLE = {code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)}
_WIDTH_TABLE.update({code: code - 0xFEE0 for code in range(0xFF21, 0xFF3B)})
_WIDTH_TABLE.update({code: code - 0xFEE0 for code in range(0xFF41, 0xFF5B)})
# U+3000 IDEOGRAPHIC SPACE and the no-break space read as an ASCII space.
_WIDTH_TABLE.update({0x3000: 0x20, 0x00A0: 0x20})
# Hyphen-like characters that never mean anything but a hyphen in a form value.
_WIDTH_TABLE.update({code: ord("-") for code in (0x2010, 0x2011, 0x2012, 0x2013, 0x2212, 0xFF0D)})
# WAVE DASH (U+301C) is what Unicode-native software types; cp932 software sends
# FULLWIDTH TILDE (U+FF5E) for the same key. The forms keep the cp932 character.
_WIDTH_TABLE[0x301C] = 0xFF5E

# Dashes that are also Japanese punctuation or the long-vowel mark: only a hyphen between digits.
_DIGIT_DASH = re.compile(r"(?<=\d)[\u2014\u2015\u30fc\uff70](?=\d)")
_SPACES = re.compile(r"[ \t]+")

# Marks people use for a ticked box; ○ and ● are left out because forms also use them as
# placeholders (「○○株式会社」) and bullets.
CHECKED_MARKS = "■☑☒✓✔◼"
UNCHECKED_MARKS = "□☐◻"


def fold_width(text: str) -> str:
    """Return ``text`` with full-width ASCII letters and digits, U+3000, hyphens and wave dashes folded.

    Katakana, kanji and Japanese punctuation are left as written, because values such as
    「1983年4月～1995年3月」 and 「（オンライン可）」 are kept the way the applicant typed them.
    """
    folded = text.translate(_WIDTH_TABLE)
    return _DIGIT_DASH.sub("-", folded)


def clean_text(text: str | None) -> str | None:
    """Return a form value folded, with runs of spaces collapsed and line ends unified.

    Returns None for None and for text that is blank after cleaning.
    """
    if text is None:
        return None
    folded = fold_width(text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in folded.split("\n")]
    cleaned = "\n".join(line for line in lines if line)
    return cleaned or None


def label_key(text: str) -> str:
    """Return the comparison form of a label: NFKC, no spaces, no trailing colon.

    「氏　名：」, 「氏名:」 and 「氏 名」 all become 「氏名」.
    """
    key = unicodedata.normalize("NFKC", text)
    key = re.sub(r"\s+", "", key)
    return key.rstrip(":：")


def normalize_postal_code(text: str | None) -> str | None:
    """Return a postal code as ``NNN-NNNN``, or None when ``text`` contains no 7-digit code.

    Accepts 〒, full-width digits and any dash: 「〒１００－０００１」 -> "100-0001".
    """
    if text is None:
        return None
    digits = re.sub(r"[\s〒\-]", "", unicodedata.normalize("NFKC", fold_width(text)))
    if not re.fullmatch(r"\d{7}", digits):
        return None
    return f"{digits[:3]}-{digits[3:]}"


def normalize_phone(text: str | None) -> str | None:
    """Return a Japanese phone number with hyphens in the national format, or None.

    Digits without separators and brackets get the hyphens of the number plan
    (phonenumbers): "0312345678" -> "03-1234-5678". A number the plan does not know is
    kept as written when it already has the ``NN-NNNN-NNNN`` shape, else None.
    """
    if text is None:
        return None
    folded = unicodedata.normalize("NFKC", fold_width(text)).strip()
    folded = re.sub(r"^(TEL|Tel|tel|電話)[:：.]?\s*", "", folded)
    if not re.search(r"\d", folded) or re.search(r"[^\d\s\-()+]", folded):
        return None
    try:
        number = phonenumbers.parse(folded, "JP")
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    if re.fullmatch(r"0\d{1,4}-\d{1,4}-\d{3,4}", folded):
        return folded
    return None


def normalize_email(text: str | None) -> str | None:
    """Return an e-mail address with full-width characters folded, or None if it is not one."""
    if text is None:
        return None
    folded = unicodedata.normalize("NFKC", text).strip()
    folded = re.sub(r"^(mailto:|E-?mail[:：]?)", "", folded, flags=re.IGNORECASE).strip()
    folded = re.sub(r"\s+", "", folded)
    if not re.fullmatch(r"[A-Za-z0-9._%+\-']+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+", folded):
        return None
    return folded


def checked_items(text: str) -> tuple[list[str], list[str]]:
    """Split checkbox text such as 「■経営戦略　□生産管理」 into (checked, unchecked) item names."""
    checked: list[str] = []
    unchecked: list[str] = []
    marks = re.escape(CHECKED_MARKS + UNCHECKED_MARKS)
    for match in re.finditer(rf"([{marks}])\s*([^{marks}]+)", text):
        item = clean_text(match.group(2).replace("\n", " "))
        if not item:
            continue
        target = checked if match.group(1) in CHECKED_MARKS else unchecked
        target.append(item)
    return checked, unchecked


def has_check_marks(text: str) -> bool:
    """Return whether ``text`` contains a checked or unchecked box mark."""
    return any(mark in text for mark in CHECKED_MARKS + UNCHECKED_MARKS)


# Line breaks that a PDF text layer keeps are the printer's wraps, and the space that was
# written at a wrap is lost. Between an organisation unit and a job title (「海外事業部」 /
# 「部長」) the applicant almost always wrote a space, so one is restored there.
_UNIT_END = re.compile(r"(部|課|室|係|所|店|局|センター|グループ|チーム|工場|支社|本社|取締役|執行役員)$")
_TITLE_START = re.compile(
    r"^(部長|課長|係長|次長|室長|所長|店長|工場長|本部長|支店長|主任|主査|主幹|参事|参与|顧問|"
    r"取締役|執行役員|担当|マネージャー|リーダー|研究員|SE)"
)


def join_wrapped_lines(lines: list[str]) -> str:
    """Join the visual lines of one PDF table cell into the text that was typed.

    Japanese wraps anywhere, so lines join without a space. A space is put back between
    ASCII words, and between an organisation unit and a job title.
    """
    joined = ""
    for line in (line.strip() for line in lines):
        if not line:
            continue
        if joined and _needs_space(joined, line):
            joined += " "
        joined += line
    return joined


def _needs_space(before: str, after: str) -> bool:
    if before[-1].isascii() and before[-1].isalnum() and after[0].isascii() and after[0].isalnum():
        return True
    return bool(_UNIT_END.search(before) and _TITLE_START.search(after))
