"""Tests of sniff: file types from magic bytes, zip member names and OLE2 stream names."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mailflow.intake.sniff import SNIFFED_TYPES, sniff

FIXTURES = Path(__file__).parent.parent / "fixtures"
SECTOR = 512
FREE_SECTOR = 0xFFFFFFFF
END_OF_CHAIN = 0xFFFFFFFE
FAT_SECTOR = 0xFFFFFFFD
NO_STREAM = 0xFFFFFFFF


def build_ole2(streams: dict[str, bytes]) -> bytes:
    """Build a minimal OLE2 compound file (version 3) with the given root streams.

    Each stream is padded to 4096 bytes, so it lives in regular sectors and needs no mini
    stream. One FAT sector and one directory sector hold the root and three streams.
    """
    names = list(streams)
    assert len(names) <= 3
    data_sectors = []
    starts = []
    for name in names:
        padded = streams[name].ljust(4096, b"\x00")
        starts.append(2 + len(data_sectors))
        data_sectors += [padded[offset : offset + SECTOR] for offset in range(0, 4096, SECTOR)]
    fat = [FAT_SECTOR, END_OF_CHAIN]
    for start in starts:
        fat += [start + index + 1 for index in range(7)] + [END_OF_CHAIN]
    fat += [FREE_SECTOR] * (SECTOR // 4 - len(fat))
    directory = _directory_entry("Root Entry", 5, NO_STREAM, 1 if names else NO_STREAM, END_OF_CHAIN, 0)
    for index, (name, start) in enumerate(zip(names, starts), start=1):
        sibling = index + 1 if index < len(names) else NO_STREAM
        directory += _directory_entry(name, 2, sibling, NO_STREAM, start, 4096)
    directory = directory.ljust(SECTOR, b"\x00")
    return _ole2_header() + struct.pack(f"<{SECTOR // 4}I", *fat) + directory + b"".join(data_sectors)


def _ole2_header() -> bytes:
    header = bytearray(SECTOR)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 40, 0, 1, 1, 0, 4096, END_OF_CHAIN, 0, END_OF_CHAIN, 0)
    struct.pack_into("<109I", header, 76, 0, *([FREE_SECTOR] * 108))
    return bytes(header)


def _directory_entry(name: str, kind: int, right: int, child: int, start: int, size: int) -> bytes:
    entry = bytearray(128)
    encoded = (name + "\x00").encode("utf-16-le")
    entry[0 : len(encoded)] = encoded
    struct.pack_into("<HBB", entry, 64, len(encoded), kind, 1)
    struct.pack_into("<III", entry, 68, NO_STREAM, right, child)
    struct.pack_into("<II", entry, 116, start, size)
    return bytes(entry)


def build_zip(names: list[str], contents: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, (contents or {}).get(name, b"<x/>"))
    return buffer.getvalue()


def build_xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "申込書"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def build_image(image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buffer, format=image_format)
    return buffer.getvalue()


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00" * 16


def test_xlsx_from_openpyxl():
    assert sniff(build_xlsx()) == "xlsx"


def test_xlsx_fixture_form():
    payload = (FIXTURES / "sample" / "forms" / "yoshiki1_template.xlsx").read_bytes()
    assert sniff(payload) == "xlsx"


def test_docx_fixture_form():
    payload = (FIXTURES / "sample" / "forms" / "yoshiki1_template.docx").read_bytes()
    assert sniff(payload) == "docx"


def test_xls_fixture_form():
    payload = (FIXTURES / "cases" / "case-16-xls-biff-form" / "申込書.xls").read_bytes()
    assert sniff(payload) == "xls"


def test_pdf_fixture_form():
    payload = (FIXTURES / "sample" / "forms" / "yoshiki2_template.pdf").read_bytes()
    assert sniff(payload) == "pdf"


def test_xlsm_by_vba_member():
    payload = build_zip(["[Content_Types].xml", "xl/workbook.xml", "xl/vbaProject.bin"])
    assert sniff(payload) == "xlsm"


def test_xlsm_by_content_type():
    content_types = b'<Override ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"/>'
    payload = build_zip(["[Content_Types].xml", "xl/workbook.xml"], {"[Content_Types].xml": content_types})
    assert sniff(payload) == "xlsm"


def test_pptx_by_members():
    assert sniff(build_zip(["[Content_Types].xml", "ppt/presentation.xml"])) == "pptx"


def test_docx_by_members():
    assert sniff(build_zip(["[Content_Types].xml", "word/document.xml"])) == "docx"


def test_plain_zip():
    assert sniff(build_zip(["申込書.xlsx"])) == "zip"


def test_zip_with_broken_directory():
    payload = build_xlsx()
    damaged = payload[: payload.rindex(b"PK\x01\x02")]
    assert sniff(damaged) == "xlsx"


def test_empty_zip():
    assert sniff(build_zip([])) == "zip"


def test_encrypted_ooxml():
    payload = build_ole2({"EncryptionInfo": b"\x04\x00\x04\x00", "EncryptedPackage": b"\x00" * 64})
    assert sniff(payload) == "office_encrypted"


def test_ole2_word_document():
    assert sniff(build_ole2({"WordDocument": b"\xec\xa5"})) == "doc"


def test_ole2_workbook():
    assert sniff(build_ole2({"Workbook": b"\x09\x08"})) == "xls"


def test_ole2_other():
    assert sniff(build_ole2({"PowerPoint Document": b"\x00"})) == "ole"


def test_damaged_ole2_is_ole():
    assert sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100) == "ole"


@pytest.mark.parametrize(
    "image_format, sniffed",
    [("JPEG", "jpeg"), ("PNG", "png"), ("GIF", "gif"), ("TIFF", "tiff"), ("BMP", "bmp"), ("WEBP", "webp")],
)
def test_images_from_pillow(image_format, sniffed):
    assert sniff(build_image(image_format)) == sniffed


@pytest.mark.parametrize("brand", [b"heic", b"heix", b"hevc", b"mif1", b"msf1"])
def test_heic_brands(brand):
    assert sniff(ftyp(brand, b"mif1", b"heic")) == "heic"


def test_avif_brand():
    assert sniff(ftyp(b"avif", b"mif1", b"miaf")) == "avif"


def test_mif1_with_avif_compatible():
    assert sniff(ftyp(b"mif1", b"avif", b"miaf")) == "avif"


def test_mp4_is_unknown():
    assert sniff(ftyp(b"isom", b"mp41")) == "unknown"


def test_tnef_magic():
    assert sniff(struct.pack("<I", 0x223E9F78) + b"\x00\x00\x01\x90") == "tnef"


def test_pdf_after_junk():
    assert sniff(b"\r\n junk \n%PDF-1.7\n") == "pdf"


def test_eml_headers():
    payload = b"From: a@example.jp\r\nTo: b@example.jp\r\nSubject: x\r\n\r\nbody\r\n"
    assert sniff(payload) == "eml"


def test_mbox_line_eml():
    payload = b"From a@example.jp Mon Apr  1 09:15:00 2024\nReceived: by x\nMessage-ID: <a@b>\n\nbody\n"
    assert sniff(payload) == "eml"


def test_html_document():
    assert sniff(b"<!DOCTYPE html>\n<html><body>x</body></html>") == "html"


def test_text_cp932():
    assert sniff("受付時間～①".encode("cp932")) == "text"


def test_text_iso2022jp():
    assert sniff(b"\x1b$B$3$s\x1b(B\r\n") == "text"


def test_text_utf16_bom():
    assert sniff("申込".encode("utf-16")) == "text"


def test_one_header_line_is_text():
    assert sniff(b"Note: call back\nthanks\n") == "text"


def test_binary_is_unknown():
    assert sniff(bytes(range(256)) * 4) == "unknown"


def test_empty_is_unknown():
    assert sniff(b"") == "unknown"


def test_results_in_vocabulary():
    payloads = [b"", b"x", b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"BM", b"\x00\x00\x00\x08ftyp"]
    for payload in payloads:
        assert sniff(payload) in SNIFFED_TYPES


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=4096))
def test_fuzz_random_bytes(payload):
    assert sniff(payload) in SNIFFED_TYPES


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, 20_000), flip=st.integers(0, 20_000), value=st.integers(0, 255))
def test_fuzz_damaged_xlsx(cut, flip, value):
    payload = bytearray((FIXTURES / "sample" / "forms" / "yoshiki1_template.xlsx").read_bytes())
    payload[flip % len(payload)] = value
    assert sniff(bytes(payload[: max(cut, 4)])) in SNIFFED_TYPES
