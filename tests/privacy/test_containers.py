"""Tests for opening zip and TNEF containers, encrypted files and limits on their members."""

from __future__ import annotations

import email
import email.policy
import io
import logging
import struct
import zipfile
from email.message import EmailMessage

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msoffcrypto.format.ooxml import OOXMLFile

from mailflow.intake.containers import expand, member_name, tnef_members
from mailflow.intake.limits import Limits
from mailflow.intake.message import Attachment
from mailflow.intake.sniff import sniff
from tests.privacy.builders import (
    ATT_ATTACH_DATA,
    TNEF_SIGNATURE,
    attachment_for,
    set_encrypted_flag,
    tnef_attribute,
    tnef_bytes,
    unicode_path_extra,
    zip_bytes,
    zip_with_raw_names,
)

PDF_BYTES = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def xlsx_bytes(value: str = "登録申請書") -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = value
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_zip_cp932_names_decoded():
    names = ["申込書.xlsx", "本人確認書類（表）.jpg", "表計算ソフト.txt"]
    content = zip_with_raw_names([(name.encode("cp932"), b"data") for name in names])
    attachment = attachment_for(content, "書類.zip", part_id="3")

    expand(attachment)

    assert [child.filename for child in attachment.children] == names
    assert [child.part_id for child in attachment.children] == ["3/1", "3/2", "3/3"]


def test_zip_cp932_names_without_utf8_flag():
    content = zip_with_raw_names([("申込書.xlsx".encode("cp932"), b"data")])
    info = zipfile.ZipFile(io.BytesIO(content)).infolist()[0]

    assert info.flag_bits & 0x800 == 0
    assert member_name(info) == "申込書.xlsx"


def test_zip_utf8_flag_names_kept():
    content = zip_bytes([("申込書.xlsx", b"data"), ("フォルダ/住民票.pdf", PDF_BYTES)])
    attachment = attachment_for(content)

    expand(attachment)

    assert [child.filename for child in attachment.children] == ["申込書.xlsx", "住民票.pdf"]
    assert attachment.children[1].part_id == "2/2"


def test_zip_nfd_names_normalised():
    decomposed = "マイナンハ\u3099ー.jpg"
    content = zip_bytes([(decomposed, b"data")])
    attachment = attachment_for(content)

    expand(attachment)

    assert attachment.children[0].filename == "マイナンバー.jpg"


def test_zip_unicode_path_extra_used():
    header_name = b"????.pdf"
    extra = unicode_path_extra(header_name, "住民票.pdf")
    content = zip_with_raw_names([(header_name, PDF_BYTES)], extras=[extra])
    attachment = attachment_for(content)

    expand(attachment)

    assert attachment.children[0].filename == "住民票.pdf"


LEGACY_NAMES = [
    # Windows' built-in zip: cp932 bytes, no UTF-8 flag.
    ("表計算ソフト.xlsx".encode("cp932"), "表計算ソフト.xlsx"),
    # macOS Archive Utility: UTF-8 bytes, no UTF-8 flag; they also decode as cp932.
    ("マイナンバーカード.jpg".encode("utf-8"), "マイナンバーカード.jpg"),
    # A Windows path with a backslash, whose 0x5C may also be a cp932 second byte.
    ("書類\\申込書.xlsx".encode("cp932"), "申込書.xlsx"),
    (b"plain.pdf", "plain.pdf"),
]


@pytest.mark.parametrize("raw, expected", LEGACY_NAMES)
def test_zip_legacy_name_decoded(raw, expected):
    attachment = attachment_for(zip_with_raw_names([(raw, b"data")]))

    expand(attachment)

    assert attachment.children[0].filename == expected


def test_zip_members_sniffed_and_read():
    form = xlsx_bytes()
    attachment = attachment_for(zip_bytes([("申込書.xlsx", form), ("誓約書.pdf", PDF_BYTES)]))

    expand(attachment)

    assert [child.sniffed_type for child in attachment.children] == ["xlsx", "pdf"]
    assert attachment.children[0].payload == form


def test_zip_skips_folders_and_macos_forks():
    content = zip_bytes([("書類/", b""), ("__MACOSX/._申込書.xlsx", b"fork"), ("申込書.xlsx", b"data")])
    attachment = attachment_for(content)

    expand(attachment)

    assert [child.filename for child in attachment.children] == ["申込書.xlsx"]


def test_zip_nested_expanded():
    inner = zip_bytes([("住民票.pdf", PDF_BYTES)])
    outer = zip_bytes([("inner.zip", inner), ("申込書.xlsx", xlsx_bytes())])
    attachment = attachment_for(outer, part_id="2")

    expand(attachment)

    nested = attachment.children[0]
    assert nested.sniffed_type == "zip"
    assert nested.children[0].part_id == "2/1/1"
    assert nested.children[0].payload == PDF_BYTES


def test_zip_encrypted_members_not_read():
    content = set_encrypted_flag(zip_bytes([("申込書.xlsx", b"secret form")]))
    attachment = attachment_for(content)

    expand(attachment)

    child = attachment.children[0]
    assert child.encrypted
    assert attachment.encrypted
    assert child.payload == b""
    assert child.filename == "申込書.xlsx"


def test_zip_forwarded_mail_expanded():
    inner_zip = zip_bytes([("申込書.xlsx", xlsx_bytes())])
    original = EmailMessage()
    original["From"] = "taro.yamada@example.jp"
    original["Subject"] = "申込書"
    original.set_content("申込書を送ります。")
    original.add_attachment(inner_zip, maintype="application", subtype="zip", filename="申込書.zip")
    outer = EmailMessage()
    outer["Subject"] = "FW: 申込書"
    outer.set_content("転送します。")
    outer.add_attachment(original)
    parsed = email.message_from_bytes(outer.as_bytes(), policy=email.policy.default)
    forwarded_part = list(parsed.iter_attachments())[0]
    zip_part = list(forwarded_part.get_content().iter_attachments())[0]
    # The parser hands over the forwarded mail with its attachments as children.
    zip_attachment = attachment_for(zip_part.get_content(), "申込書.zip", part_id="2.2")
    forwarded = Attachment(None, "message/rfc822", "attachment", forwarded_part.as_bytes(), "2",
                           sniffed_type="eml", children=[zip_attachment])

    expand(forwarded)

    member = forwarded.children[0].children[0]
    assert member.part_id == "2.2/1"
    assert member.sniffed_type == "xlsx"


def test_tnef_long_and_cp932_names():
    stream = tnef_bytes([
        ("申込書.xls".encode("cp932"), None, b"form data"),
        (b"UNNEN~1.JPG", "運転免許証（表）.jpg", b"\xff\xd8\xff\xe0photo"),
    ])
    attachment = attachment_for(stream, "winmail.dat", part_id="2")

    expand(attachment)

    assert attachment.sniffed_type == "tnef"
    assert [child.filename for child in attachment.children] == ["申込書.xls", "運転免許証（表）.jpg"]
    assert [child.part_id for child in attachment.children] == ["2/1", "2/2"]
    assert attachment.children[1].sniffed_type == "jpeg"


def test_tnef_member_payloads_kept():
    stream = tnef_bytes([(b"FORM.PDF", None, PDF_BYTES)])

    assert tnef_members(stream) == [("FORM.PDF", PDF_BYTES)]


def test_tnef_zip_member_expanded():
    stream = tnef_bytes([(b"DOCS.ZIP", "書類.zip", zip_bytes([("住民票.pdf", PDF_BYTES)]))])
    attachment = attachment_for(stream, "winmail.dat")

    expand(attachment)

    assert attachment.children[0].children[0].part_id == "2/1/1"
    assert attachment.children[0].children[0].filename == "住民票.pdf"


def test_tnef_truncated_recorded():
    stream = tnef_bytes([(b"FORM.PDF", None, PDF_BYTES)])
    attachment = attachment_for(stream[:-10], "winmail.dat")

    expand(attachment)

    assert "TNEF checksum mismatch; the stream is truncated or damaged" in attachment.defects


def test_tnef_garbage_recorded():
    # An attachment attribute before any attAttachRendData makes tnefparse raise.
    stream = struct.pack("<IH", TNEF_SIGNATURE, 1) + tnef_attribute(2, ATT_ATTACH_DATA, b"data")
    attachment = attachment_for(stream, "winmail.dat")

    expand(attachment)

    assert attachment.children == []
    assert any(defect.startswith("TNEF could not be read") for defect in attachment.defects)


def test_zip_bomb_ratio_held():
    bomb = zip_bytes([("bomb.txt", b"\0" * (8 * 1024 * 1024))])
    attachment = attachment_for(bomb)

    expand(attachment)

    child = attachment.children[0]
    assert child.over_limit == "max_compression_ratio"
    assert child.payload == b""
    assert any("max_compression_ratio" in defect for defect in child.defects)


def test_zip_member_size_held():
    content = zip_bytes([("big.bin", bytes(range(256)) * 64)], compression=zipfile.ZIP_STORED)
    attachment = attachment_for(content)

    expand(attachment, limits=Limits(max_member_bytes=1000))

    assert attachment.children[0].over_limit == "max_member_bytes"
    assert "16384 > 1000" in attachment.children[0].defects[0]


def test_zip_total_size_held():
    members = [(f"part{index}.bin", bytes(range(256)) * 4) for index in range(4)]
    attachment = attachment_for(zip_bytes(members, compression=zipfile.ZIP_STORED))

    expand(attachment, limits=Limits(max_total_bytes=2500))

    assert [child.over_limit for child in attachment.children] == [None, None, "max_total_bytes", "max_total_bytes"]


def test_zip_too_many_members_held():
    attachment = attachment_for(zip_bytes([(f"{index}.txt", b"x") for index in range(6)]))

    expand(attachment, limits=Limits(max_members=5))

    assert attachment.over_limit == "max_members"
    assert attachment.children == []
    assert "6 > 5" in attachment.defects[0]


def test_zip_too_deep_held():
    content = zip_bytes([("住民票.pdf", PDF_BYTES)])
    for level in range(6):
        content = zip_bytes([(f"level{level}.zip", content)])
    attachment = attachment_for(content)

    expand(attachment)

    deepest = attachment
    while deepest.children:
        deepest = deepest.children[0]
    assert deepest.over_limit == "max_depth"
    assert deepest.sniffed_type == "zip"


def test_zip_corrupt_recorded():
    content = zip_bytes([("申込書.xlsx", b"data" * 100)])
    attachment = attachment_for(content[:60] + content[-22:])

    expand(attachment)

    assert attachment.defects


def test_zip_crc_mismatch_recorded():
    content = bytearray(zip_bytes([("申込書.txt", b"abcdefgh" * 10)], compression=zipfile.ZIP_STORED))
    data_at = content.find(b"abcdefgh")
    content[data_at] ^= 0xFF
    attachment = attachment_for(bytes(content))

    expand(attachment)

    assert attachment.children[0].payload == b""
    assert "zip member could not be read: zipfile.BadZipFile" in attachment.children[0].defects


def test_expand_twice_adds_nothing():
    attachment = attachment_for(set_encrypted_flag(zip_bytes([("a.xlsx", b"x"), ("b.pdf", b"y")])))

    expand(attachment)
    expand(attachment)

    assert len(attachment.children) == 2
    assert len(attachment.defects) == 1


def test_office_encrypted_ooxml_marked():
    plain = io.BytesIO(xlsx_bytes())
    encrypted = io.BytesIO()
    OOXMLFile(plain).encrypt("test-password", encrypted)
    payload = encrypted.getvalue()
    # Office wraps a password-protected xlsx in OLE2 and keeps the .xlsx name.
    attachment = Attachment("申込書.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            "attachment", payload, "2", sniffed_type=sniff(payload))

    expand(attachment)

    assert attachment.encrypted
    assert attachment.children == []


def test_office_encrypted_in_zip_marked():
    encrypted = io.BytesIO()
    OOXMLFile(io.BytesIO(xlsx_bytes())).encrypt("test-password", encrypted)
    attachment = attachment_for(zip_bytes([("申込書.xlsx", encrypted.getvalue())]))

    expand(attachment)

    assert attachment.children[0].encrypted


def test_plain_ooxml_not_marked():
    attachment = attachment_for(xlsx_bytes(), "申込書.xlsx")

    expand(attachment)

    assert not attachment.encrypted
    assert attachment.over_limit is None


def test_ooxml_bomb_held():
    bomb = zip_bytes([("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<a/>"),
                      ("xl/worksheets/sheet1.xml", b" " * (4 * 1024 * 1024))])
    attachment = Attachment("申込書.xlsx", "application/octet-stream", "attachment", bomb, "2", sniffed_type="xlsx")

    expand(attachment)

    assert attachment.over_limit == "max_compression_ratio"


# Built once: hypothesis replays draws and needs the same seed bytes on every run.
FUZZ_SEEDS = [
    zip_bytes([("申込書.xlsx", xlsx_bytes()), ("inner.zip", zip_bytes([("a.pdf", PDF_BYTES)]))]),
    tnef_bytes([("申込書.xls".encode("cp932"), "申込書.xls", b"data" * 50)]),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_expand_mutated_never_raises(data):
    content = bytearray(data.draw(st.sampled_from(FUZZ_SEEDS)))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(content) - 1))
        content[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(content) // 2, len(content)))
    attachment = attachment_for(bytes(content[:cut]))

    expand(attachment)

    assert all(child.part_id.startswith("2/") for child in attachment.children)


@pytest.mark.parametrize("payload", [b"", b"PK\x03\x04", b"PK\x05\x06" + b"\0" * 18, b"\x78\x9f\x3e\x22\0\0"])
def test_expand_garbage_never_raises(payload):
    attachment = Attachment("x.zip", "application/zip", "attachment", payload, "2", sniffed_type="zip")

    expand(attachment)

    assert attachment.children == []


def test_held_members_logged_once(caplog):
    caplog.set_level(logging.INFO, logger="mailflow")
    members = [(f"part{index}.bin", bytes(range(256)) * 4) for index in range(20)]
    attachment = attachment_for(zip_bytes(members, compression=zipfile.ZIP_STORED))

    expand(attachment, limits=Limits(max_total_bytes=2500))

    lines = [record.getMessage() for record in caplog.records if record.levelno >= logging.INFO]
    assert len(lines) == 1
    assert "held=18" in lines[0]


def test_zip_corrupt_deflate_recorded():
    content = bytearray(zip_bytes([("a.txt", bytes(range(256)) * 40), ("b.pdf", PDF_BYTES)]))
    info = zipfile.ZipFile(io.BytesIO(bytes(content))).infolist()[0]
    data_at = info.header_offset + 30 + len(info.filename.encode())
    content[data_at:data_at + 8] = b"\xff" * 8
    attachment = attachment_for(bytes(content))

    expand(attachment)

    assert attachment.children[0].payload == b""
    assert attachment.children[0].defects == ["zip member could not be read: zlib.error"]
    assert attachment.children[1].payload == PDF_BYTES
