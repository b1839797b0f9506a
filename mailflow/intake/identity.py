"""Tell which identity document (本人確認書類) an attachment is, and what staff must check on it.

The bureau accepts a driver's licence, the front of a My Number card, a health insurance
card or its successor 資格確認書 (numbers masked), and a residence certificate (住民票,
individual number masked). The type comes from the document's own text first, then from
its file name, then, as a weak hint for photos, from the words of the message.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from mailflow.intake.limits import image_header
from mailflow.intake.message import Attachment

logger = logging.getLogger(__name__)

DRIVERS_LICENCE = "drivers_licence"
MY_NUMBER_CARD_FRONT = "my_number_card_front"
HEALTH_INSURANCE_CARD = "health_insurance_card"
RESIDENCE_CERTIFICATE = "residence_certificate"
DOCUMENT_TYPES = (DRIVERS_LICENCE, MY_NUMBER_CARD_FRONT, HEALTH_INSURANCE_CARD, RESIDENCE_CERTIFICATE)

# Words that name each document, as they appear in its title, its file name or a mail.
# Matching runs on NFKC-normalised, case-folded text with whitespace removed, because
# PDF text of forms often has spaces between the characters of a title.
_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("住民票", RESIDENCE_CERTIFICATE),
    ("運転免許証", DRIVERS_LICENCE),
    ("免許証", DRIVERS_LICENCE),
    ("個人番号カード", MY_NUMBER_CARD_FRONT),
    ("マイナンバーカード", MY_NUMBER_CARD_FRONT),
    ("マイナカード", MY_NUMBER_CARD_FRONT),
    # A My Number card registered for health insurance; it contains 保険証, so it
    # must win over that shorter word at the same position.
    ("マイナ保険証", MY_NUMBER_CARD_FRONT),
    ("健康保険証", HEALTH_INSURANCE_CARD),
    ("保険証", HEALTH_INSURANCE_CARD),
    ("健康保険", HEALTH_INSURANCE_CARD),
    ("被保険者証", HEALTH_INSURANCE_CARD),
    ("資格確認書", HEALTH_INSURANCE_CARD),
)
# Romanised names that people give scanned files.
_FILENAME_KEYWORDS: tuple[tuple[str, str], ...] = _KEYWORDS + (
    ("juminhyo", RESIDENCE_CERTIFICATE),
    ("jyuminhyo", RESIDENCE_CERTIFICATE),
    ("menkyo", DRIVERS_LICENCE),
    ("license", DRIVERS_LICENCE),
    ("licence", DRIVERS_LICENCE),
    ("mynumber", MY_NUMBER_CARD_FRONT),
    ("my_number", MY_NUMBER_CARD_FRONT),
    ("hokensho", HEALTH_INSURANCE_CARD),
)

_SOURCE_LABELS = {"text": "文書の本文", "filename": "ファイル名", "message": "メールの本文"}

_COMMON_CHECKS = (
    "氏名・住所・生年月日が読み取れること",
    "登録申請書（様式1）の氏名・住所・生年月日と一致すること",
)
CHECKLISTS: dict[str, tuple[str, ...]] = {
    DRIVERS_LICENCE: _COMMON_CHECKS + (
        "有効期限内であること",
        "裏面に住所などの変更の記載がある場合は、裏面の写しもあること",
    ),
    MY_NUMBER_CARD_FRONT: _COMMON_CHECKS + (
        "写っているのが表面だけであること（裏面には個人番号が記載されているため、裏面の写しは保管できません）",
        "有効期限内であること",
    ),
    HEALTH_INSURANCE_CARD: _COMMON_CHECKS + (
        "保険者番号・記号・番号が黒塗りなどで見えなくなっていること",
        "有効期限内であること（健康保険証の場合は、有効期限の記載も確認すること）",
    ),
    RESIDENCE_CERTIFICATE: _COMMON_CHECKS + (
        "個人番号が記載されていないか、黒塗りで見えなくなっていること",
        "発行日を確認すること",
    ),
}
UNKNOWN_TYPE_CHECKS = (
    "本人確認書類の種類を確認すること（運転免許証、マイナンバーカードの表面、健康保険証または資格確認書、住民票の写し）",
) + _COMMON_CHECKS


@dataclass(frozen=True)
class IdentityMatch:
    """The identity document type found, and where the word that decided it was found.

    ``source`` is ``text`` (the document's own text), ``filename`` or ``message`` (the
    mail's words, a weak hint used only when the document itself names no type).
    ``reason`` is a sentence for staff, e.g. 「ファイル名に『運転免許証』があります」.
    """

    document_type: str
    source: str
    keyword: str

    @property
    def reason(self) -> str:
        return f"{_SOURCE_LABELS[self.source]}に『{self.keyword}』があります"


@dataclass(frozen=True)
class PhotoInfo:
    """The format and pixel size of a photo as stored; EXIF and other metadata are never kept."""

    format: str
    width: int
    height: int


def detect_identity_document(attachment: Attachment, text: str, message_text: str = "") -> IdentityMatch | None:
    """Return the identity document type of ``attachment`` with its evidence, or None when unknown.

    ``text`` is the document's extracted text (empty for photos and scans without a text
    layer). ``message_text`` is the mail's own words with quotes removed; it is read only
    when neither the text nor the file name names a type.
    """
    found = _first_keyword(text, _KEYWORDS)
    if found:
        return IdentityMatch(found[1], "text", found[0])
    found = _first_keyword(attachment.filename or "", _FILENAME_KEYWORDS)
    if found:
        return IdentityMatch(found[1], "filename", found[0])
    found = _first_keyword(message_text, _KEYWORDS)
    if found:
        return IdentityMatch(found[1], "message", found[0])
    return None


def identity_document_type(attachment: Attachment, text: str, message_text: str = "") -> str | None:
    """Return drivers_licence, my_number_card_front, health_insurance_card, residence_certificate or None."""
    match = detect_identity_document(attachment, text, message_text)
    return match.document_type if match else None


def staff_checklist(document_type: str | None) -> list[str]:
    """Return the Japanese checklist lines staff confirm on an identity document of this type."""
    return list(CHECKLISTS.get(document_type or "", UNKNOWN_TYPE_CHECKS))


def photo_info(payload: bytes) -> PhotoInfo | None:
    """Return the format and size of a photo (JPEG, PNG, HEIC, …) from its header, or None.

    HEIC photos that an iPhone sent named ``.JPG`` open too. Only the header is read, so
    no EXIF data (camera, place, time) is returned or kept. Returns None for files that
    are not images and for images over Pillow's decompression-bomb limit.
    """
    from PIL import Image

    try:
        header = image_header(payload)
    except Image.DecompressionBombError:
        return None
    if header is None:
        return None
    return PhotoInfo(*header)


def photo_notes(attachment: Attachment) -> list[str]:
    """Return Japanese notes for staff about a photo whose file name hides its real format."""
    name = (attachment.filename or "").lower()
    if attachment.sniffed_type in ("heic", "avif") and name.endswith((".jpg", ".jpeg")):
        return ["ファイル名は JPEG ですが、中身は HEIC 形式の写真です。表示できない場合は HEIC に対応したビューアで開いてください"]
    return []


def _first_keyword(text: str, keywords: tuple[tuple[str, str], ...]) -> tuple[str, str] | None:
    """Return (keyword, type) of the earliest keyword in ``text``; the longer one wins a tie."""
    haystack = _normalise(text)
    best: tuple[int, int, str, str] | None = None
    for keyword, document_type in keywords:
        position = haystack.find(_normalise(keyword))
        if position < 0:
            continue
        candidate = (position, -len(keyword), keyword, document_type)
        if best is None or candidate < best:
            best = candidate
    return (best[2], best[3]) if best else None


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()
