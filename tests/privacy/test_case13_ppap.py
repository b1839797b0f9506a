"""case-13-ppap-encrypted-zip: a ZipCrypto zip with a cp932 member name, and its password mail."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import io
import json
import logging
import zipfile

import pytest

from mailflow.intake.containers import expand
from mailflow.intake.identity import detect_identity_document
from mailflow.intake.message import Attachment
from mailflow.intake.privacy import mask_individual_numbers, scan_document
from mailflow.intake.redact import remove_parts
from mailflow.intake.sniff import sniff
from mailflow.storage import DocumentStore, encrypt_blob
from tests.conftest import CASES

CASE = CASES / "case-13-ppap-encrypted-zip"
EXPECTED = json.loads((CASE / "expected.json").read_text(encoding="utf-8"))["expected"]
MAIL_1 = EXPECTED["mail-1-zip.eml"]
PASSWORD = EXPECTED["mail-2-password.eml"]["body_contains"][0]


def zip_attachment() -> Attachment:
    """Return mail-1's zip part as the parser hands it over (the zip is MIME part 2)."""
    message = email.message_from_bytes((CASE / "mail-1-zip.eml").read_bytes(), policy=email.policy.compat32)
    part = message.get_payload()[1]
    payload = part.get_payload(decode=True)
    return Attachment("申込書.zip", part.get_content_type(), "attachment", payload, "2", sniffed_type=sniff(payload))


def password_mail_text() -> str:
    message = email.message_from_bytes((CASE / "mail-2-password.eml").read_bytes(), policy=email.policy.compat32)
    return message.get_payload(decode=True).decode("iso-2022-jp")


@pytest.fixture
def no_zip_decryption(monkeypatch):
    """Make any attempt to decrypt a zip member fail the test."""

    def fail_decryption(*args, **kwargs):
        raise AssertionError("a zip member was decrypted")

    monkeypatch.setattr(zipfile, "_ZipDecrypter", fail_decryption)


def test_case13_zip_sha256():
    attachment = zip_attachment()

    assert attachment.sha256 == MAIL_1["attachments"][0]["sha256"]
    assert attachment.payload == (CASE / "申込書.zip").read_bytes()


def test_case13_member_name_cp932(no_zip_decryption):
    attachment = zip_attachment()

    expand(attachment)

    names = [child.filename for child in attachment.children]
    assert names == [entry["name"] for entry in MAIL_1["zip_entries"]]


def test_case13_name_flag_clear():
    info = zipfile.ZipFile(io.BytesIO(zip_attachment().payload)).infolist()[0]

    assert info.flag_bits & 0x800 == 0
    assert info.flag_bits & 0x1 == 0x1


def test_case13_member_encrypted(no_zip_decryption):
    attachment = zip_attachment()

    expand(attachment)

    member = attachment.children[0]
    assert member.encrypted is MAIL_1["zip_entries"][0]["encrypted"]
    assert attachment.encrypted is True


def test_case13_container_held(no_zip_decryption):
    attachment = zip_attachment()

    expand(attachment)

    member = attachment.children[0]
    assert member.payload == b""
    assert member.sha256 != MAIL_1["zip_entries"][0]["sha256_after_decrypt"]
    assert member.part_id == "2/1"
    assert member.filename == "申込書.xlsx"
    assert "zip archive has encrypted members; they were not opened" in attachment.defects


def test_case13_password_not_logged(caplog, tmp_path, no_zip_decryption):
    caplog.set_level(logging.DEBUG)
    raw_1 = (CASE / "mail-1-zip.eml").read_bytes()
    raw_2 = (CASE / "mail-2-password.eml").read_bytes()
    attachment = zip_attachment()
    text = password_mail_text()
    assert PASSWORD in text

    expand(attachment)
    scan_document(None, text)
    mask_individual_numbers(text)
    detect_identity_document(attachment, text, text)
    remove_parts(raw_1, ["2/申込書.xlsx"], f"暗号化された圧縮ファイルのため削除しました {text}")
    store = DocumentStore(tmp_path / "documents", key=b"k" * 32)
    store.get(store.put(raw_2))
    encrypt_blob(raw_2, b"k" * 32)

    logged = [record.getMessage() for record in caplog.records]
    assert caplog.records
    assert not [line for line in logged if PASSWORD in line]
    assert PASSWORD not in caplog.text
    assert base64.b64encode(PASSWORD.encode()).decode() not in caplog.text


def test_case13_removal_drops_zip(no_zip_decryption):
    raw = (CASE / "mail-1-zip.eml").read_bytes()
    zip_payload = (CASE / "申込書.zip").read_bytes()

    copy = remove_parts(raw, ["2/申込書.xlsx"], "暗号化された圧縮ファイルのため、確認できませんでした")

    parsed = email.message_from_bytes(copy, policy=email.policy.compat32)
    payloads = [part.get_payload(decode=True) for part in parsed.walk() if not part.is_multipart()]
    assert zip_payload not in payloads
    assert hashlib.sha256(zip_payload).hexdigest() in payloads[1].decode("utf-8")
