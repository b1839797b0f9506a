"""Tests of containers and part removal on mail as the parser delivers it."""

from __future__ import annotations

import json
from email.message import EmailMessage

from mailflow.intake.parse import parse_message
from mailflow.intake.redact import remove_parts
from tests.conftest import CASES, SAMPLE
from tests.privacy.builders import tnef_bytes, zip_bytes, zip_with_raw_names

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
NOTE = "個人番号が記載された本人確認書類のため、保存せずに削除しました"


def forwarded_mail_with_zip() -> bytes:
    original = EmailMessage()
    original["From"] = "taro.yamada@example.jp"
    original["Subject"] = "申込書"
    original.set_content("申込書を送ります。")
    zipped = zip_with_raw_names([("申込書.xlsx".encode("cp932"), b"form"), ("住民票.pdf".encode("cp932"), PDF_BYTES)])
    original.add_attachment(zipped, maintype="application", subtype="zip", filename="書類.zip")
    outer = EmailMessage()
    outer["From"] = "ichiro.yamada@example.jp"
    outer["Subject"] = "FW: 申込書"
    outer.set_content("転送します。")
    outer.add_attachment(original)
    return outer.as_bytes()


def test_parsed_forward_zip_expanded():
    message = parse_message(forwarded_mail_with_zip())

    forwarded = message.attachments[0]
    zipped = forwarded.children[0]
    assert forwarded.sniffed_type == "eml"
    assert [child.part_id for child in zipped.children] == [f"{zipped.part_id}/1", f"{zipped.part_id}/2"]
    assert [child.filename for child in zipped.children] == ["申込書.xlsx", "住民票.pdf"]


def test_parsed_forward_member_removed():
    raw = forwarded_mail_with_zip()
    message = parse_message(raw)
    member = message.attachments[0].children[0].children[1]

    copy = remove_parts(raw, [member.part_id], NOTE)

    # The notice is an inline text part, so the parser reads it as body text.
    forwarded = parse_message(copy).attachments[0]
    assert forwarded.children == []
    assert NOTE in forwarded.forwarded.body_text
    assert PDF_BYTES not in copy


def test_parsed_case13_member_encrypted():
    # case-13-ppap-encrypted-zip through the parser: the same result as a direct expand.
    expected = json.loads((CASES / "case-13-ppap-encrypted-zip" / "expected.json").read_text(encoding="utf-8"))
    entry = expected["expected"]["mail-1-zip.eml"]["zip_entries"][0]

    message = parse_message((CASES / "case-13-ppap-encrypted-zip" / "mail-1-zip.eml").read_bytes())

    member = message.attachments[0].children[0]
    assert member.filename == entry["name"]
    assert member.encrypted is entry["encrypted"]
    assert member.payload == b""


def test_parsed_tnef_expanded():
    outer = EmailMessage()
    outer["Subject"] = "申込書"
    outer.set_content("添付します。")
    stream = tnef_bytes([(b"MOUSHI~1.PDF", "申込書.pdf", PDF_BYTES)])
    outer.add_attachment(stream, maintype="application", subtype="ms-tnef", filename="winmail.dat")

    message = parse_message(outer.as_bytes())

    member = message.attachments[0].children[0]
    assert member.filename == "申込書.pdf"
    assert member.payload == PDF_BYTES


def test_parsed_07_part_removed():
    path = SAMPLE / "mailbox" / "07-registration-unmasked-mynumber.eml"
    expected = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    unkept = next(entry for entry in expected["attachments"] if entry["kept"] is False)
    number = next(item["value"] for item in expected["must_not_store"] if item["kind"] == "text")
    raw = path.read_bytes()
    target = next(item for item in parse_message(raw).attachments if item.sha256 == unkept["sha256"])

    copy = remove_parts(raw, [target.part_id], NOTE)

    reparsed = parse_message(copy)
    remaining = [item.sha256 for item in reparsed.attachments]
    assert remaining == [entry["sha256"] for entry in expected["attachments"] if entry["kept"]]
    assert NOTE in reparsed.body_text
    assert number.encode() not in copy


def test_parsed_nested_zip_part_ids():
    inner = zip_bytes([("住民票.pdf", PDF_BYTES)])
    outer = EmailMessage()
    outer["Subject"] = "書類"
    outer.set_content("添付します。")
    outer.add_attachment(zip_bytes([("inner.zip", inner)]), maintype="application", subtype="zip", filename="書類.zip")

    message = parse_message(outer.as_bytes())

    assert message.attachments[0].children[0].children[0].part_id == "2/1/1"
