"""Tests for telling identity documents apart, their staff checklists and photo checks."""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import json

import pdfplumber
import pytest
from PIL import Image

from mailflow.intake.containers import expand
from mailflow.intake.identity import (
    CHECKLISTS,
    DOCUMENT_TYPES,
    UNKNOWN_TYPE_CHECKS,
    detect_identity_document,
    identity_document_type,
    photo_info,
    photo_notes,
    staff_checklist,
)
from mailflow.intake.limits import Limits, register_heif
from mailflow.intake.message import Attachment
from mailflow.intake.sniff import sniff
from tests.conftest import SAMPLE


def attachment(filename: str | None, payload: bytes = b"") -> Attachment:
    return Attachment(filename, "application/octet-stream", "attachment", payload, "2")


TEXT_CASES = [
    ("運転免許証\n氏名 山田 太郎\n住所 東京都千代田区", "drivers_licence"),
    ("免許証の写し", "drivers_licence"),
    ("個人番号カード\n氏名 木村 恵子", "my_number_card_front"),
    ("マイナンバーカード（表面）", "my_number_card_front"),
    ("マイナ保険証", "my_number_card_front"),
    ("健康保険被保険者証\n本人（被保険者）", "health_insurance_card"),
    ("健康保険証", "health_insurance_card"),
    ("資格確認書\n氏名 佐藤 花子", "health_insurance_card"),
    ("住民票の写し\n個人番号 ************\n国民健康保険 資格取得", "residence_certificate"),
    ("住 民 票 の 写 し", "residence_certificate"),
    ("暴力団排除に関する誓約書", None),
    ("", None),
]


@pytest.mark.parametrize("text, expected", TEXT_CASES)
def test_type_from_text(text, expected):
    assert identity_document_type(attachment("scan001.pdf"), text) == expected


FILENAME_CASES = [
    ("運転免許証.jpg", "drivers_licence"),
    ("免許証.jpg", "drivers_licence"),
    ("ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ表.jpg", "my_number_card_front"),
    ("個人番号カード_表面.png", "my_number_card_front"),
    ("保険証.jpeg", "health_insurance_card"),
    ("資格確認書.pdf", "health_insurance_card"),
    ("住民票_渡辺修.pdf", "residence_certificate"),
    ("juminhyo.pdf", "residence_certificate"),
    ("Menkyo_Omote.JPG", "drivers_licence"),
    ("MyNumber_front.jpg", "my_number_card_front"),
    ("IMG_0412.jpeg", None),
    ("登録申請書.xlsx", None),
    (None, None),
]


@pytest.mark.parametrize("filename, expected", FILENAME_CASES)
def test_type_from_filename(filename, expected):
    assert identity_document_type(attachment(filename), "") == expected


def test_text_wins_over_filename():
    match = detect_identity_document(attachment("運転免許証.pdf"), "住民票の写し")

    assert match.document_type == "residence_certificate"
    assert match.source == "text"


def test_message_text_last_resort():
    match = detect_identity_document(attachment("IMG_0412.jpeg"), "", "マイナンバーカードの表面の写真をお送りします。")

    assert match.document_type == "my_number_card_front"
    assert match.source == "message"
    assert match.reason == "メールの本文に『マイナンバーカード』があります"


def test_message_text_ignored_when_named():
    match = detect_identity_document(attachment("運転免許証.jpg"), "", "健康保険証は郵送します")

    assert match.document_type == "drivers_licence"
    assert match.reason == "ファイル名に『運転免許証』があります"


def sample_identity_rows() -> list[tuple[str, dict, dict]]:
    rows = []
    for path in sorted((SAMPLE / "mailbox").glob("*.json")):
        expected = json.loads(path.read_text(encoding="utf-8"))
        for entry in expected["attachments"]:
            if entry["role"] == "identity_document":
                rows.append((path.stem, expected, entry))
    return rows


def message_parts(stem: str) -> tuple[dict[str, bytes], str]:
    """Return the attachment payloads by SHA-256 and the joined text/plain body of a sample mail."""
    raw = (SAMPLE / "mailbox" / f"{stem}.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    payloads, body = {}, []
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_content_type() == "text/plain" and part.get_filename() is None:
            body.append(part.get_content())
        else:
            payload = part.get_payload(decode=True)
            payloads[hashlib.sha256(payload).hexdigest()] = payload
    return payloads, "\n".join(body)


def document_text(payload: bytes) -> str:
    if not payload.startswith(b"%PDF"):
        return ""
    with pdfplumber.open(io.BytesIO(payload)) as document:
        return "\n".join(page.extract_text() or "" for page in document.pages)


@pytest.mark.parametrize("stem, expected, entry", sample_identity_rows(), ids=lambda value: value if isinstance(value, str) else "")
def test_sample_identity_type(stem, expected, entry):
    payloads, body = message_parts(stem)
    payload = payloads[entry["sha256"]]
    # Quoted lines are cut so that words of an earlier mail do not count.
    own_words = "\n".join(line for line in body.splitlines() if not line.startswith(">"))

    found = identity_document_type(attachment(entry["filename"], payload), document_text(payload), own_words)

    assert found == expected["identity_document_type"]


@pytest.mark.parametrize("document_type", DOCUMENT_TYPES)
def test_checklist_per_type(document_type):
    lines = staff_checklist(document_type)

    assert lines == list(CHECKLISTS[document_type])
    assert "氏名・住所・生年月日が読み取れること" in lines


def test_checklist_front_only():
    lines = staff_checklist("my_number_card_front")

    assert any("表面だけ" in line for line in lines)


def test_checklist_insurance_masked():
    lines = staff_checklist("health_insurance_card")

    assert any("記号・番号" in line and "黒塗り" in line for line in lines)


def test_checklist_residence_masked():
    lines = staff_checklist("residence_certificate")

    assert any("個人番号" in line and "黒塗り" in line for line in lines)


def test_checklist_unknown_type():
    assert staff_checklist(None) == list(UNKNOWN_TYPE_CHECKS)


def heic_bytes(width: int, height: int) -> bytes:
    register_heif()
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "gray").save(buffer, format="HEIF")
    return buffer.getvalue()


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (64, 48), "white")
    exif = Image.Exif()
    exif[0x010F] = "Apple"  # Make
    exif[0x0110] = "iPhone 15"  # Model
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def test_heic_named_jpg_opened():
    payload = heic_bytes(64, 48)
    photo = Attachment("IMG_0001.JPG", "image/jpeg", "attachment", payload, "2", sniffed_type=sniff(payload))

    info = photo_info(payload)

    assert photo.sniffed_type == "heic"
    assert (info.format, info.width, info.height) == ("heif", 64, 48)


def test_heic_named_jpg_noted():
    payload = heic_bytes(16, 16)
    photo = Attachment("IMG_0001.JPG", "image/jpeg", "attachment", payload, "2", sniffed_type=sniff(payload))

    assert len(photo_notes(photo)) == 1


def test_heic_pixels_held():
    payload = heic_bytes(64, 48)
    photo = Attachment("IMG_0001.JPG", "image/jpeg", "attachment", payload, "2", sniffed_type=sniff(payload))

    expand(photo, limits=Limits(max_image_pixels=1000))

    assert photo.over_limit == "max_image_pixels"


def test_photo_info_keeps_no_exif():
    payload = jpeg_with_exif()

    info = photo_info(payload)

    assert vars(info) == {"format": "jpeg", "width": 64, "height": 48}
    assert "Apple" not in repr(info)


def test_photo_info_not_image():
    assert photo_info(b"%PDF-1.4") is None
