"""Tests for the named limits: message size, PDF pages, image pixels and how a file is held."""

from __future__ import annotations

import dataclasses
import io
import struct
import zlib

import pytest
from fpdf import FPDF
from PIL import Image

from mailflow.intake.containers import expand
from mailflow.intake.limits import (
    DEFAULT_LIMITS,
    LIMIT_LABELS,
    LimitExceeded,
    Limits,
    check_image_pixels,
    check_message_size,
    check_pdf_pages,
    configure_pillow,
    hold,
)
from mailflow.intake.message import Attachment
from tests.privacy.builders import attachment_for


def pdf_bytes(pages: int, user_password: str | None = None) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    if user_password:
        pdf.set_encryption(owner_password="owner", user_password=user_password)
    for number in range(pages):
        pdf.add_page()
        pdf.cell(text=f"page {number + 1}")
    return bytes(pdf.output())


def png_bytes(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, "PNG")
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """Return a PNG whose header claims the size but that contains no pixels (a bomb's shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", b"") + png_chunk(b"IEND", b"")


def test_limits_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_LIMITS.max_members = 1  # type: ignore[misc]


def test_every_limit_has_label():
    names = {field.name for field in dataclasses.fields(Limits)} - {"ratio_grace_bytes"}

    assert names == set(LIMIT_LABELS)


def test_message_size_over():
    exceeded = check_message_size(b"x" * 101, Limits(max_message_bytes=100))

    assert exceeded == LimitExceeded("max_message_bytes", 101, 100)


def test_message_size_within():
    assert check_message_size(b"x" * 100, Limits(max_message_bytes=100)) is None


def test_exceeded_describe_names_value():
    exceeded = LimitExceeded("max_pdf_pages", 250, 100)

    assert exceeded.describe() == "over limit max_pdf_pages: 250 > 100; not read"


def test_exceeded_label_japanese():
    exceeded = LimitExceeded("max_pdf_pages", 250, 100)

    assert exceeded.label() == "PDF のページ数が上限を超えているため開いていません: 250（上限 100）"


def test_hold_sets_flag_once():
    attachment = Attachment("a.pdf", "application/pdf", "attachment", b"%PDF", "2")

    hold(attachment, LimitExceeded("max_pdf_pages", 250, 100))
    hold(attachment, LimitExceeded("max_image_pixels", 5, 1))

    assert attachment.over_limit == "max_pdf_pages"
    assert attachment.defects == ["over limit max_pdf_pages: 250 > 100; not read"]


def test_pdf_pages_over():
    assert check_pdf_pages(pdf_bytes(3), Limits(max_pdf_pages=2)) == LimitExceeded("max_pdf_pages", 3, 2)


def test_pdf_pages_within():
    assert check_pdf_pages(pdf_bytes(2), Limits(max_pdf_pages=2)) is None


def test_pdf_pages_broken_passes():
    assert check_pdf_pages(b"%PDF-1.4 broken", Limits(max_pdf_pages=2)) is None


def test_pdf_over_pages_held():
    attachment = attachment_for(pdf_bytes(4), "誓約書.pdf")

    expand(attachment, limits=Limits(max_pdf_pages=3))

    assert attachment.over_limit == "max_pdf_pages"
    assert attachment.defects == ["over limit max_pdf_pages: 4 > 3; not read"]


def test_pdf_password_marked_encrypted():
    attachment = attachment_for(pdf_bytes(1, user_password="secret"), "住民票.pdf")

    expand(attachment)

    assert attachment.encrypted
    assert attachment.over_limit is None


def test_pdf_plain_not_marked():
    attachment = attachment_for(pdf_bytes(1), "誓約書.pdf")

    expand(attachment)

    assert not attachment.encrypted
    assert attachment.defects == []


def test_image_pixels_over():
    exceeded = check_image_pixels(png_bytes(40, 30), Limits(max_image_pixels=1000))

    assert exceeded == LimitExceeded("max_image_pixels", 1200, 1000)


def test_image_pixels_within():
    assert check_image_pixels(png_bytes(40, 25), Limits(max_image_pixels=1000)) is None


def test_image_bomb_header_held():
    # Pillow refuses this header outright (over twice its limit) before giving a size.
    bomb = png_header_only(100_000, 100_000)
    attachment = attachment_for(bomb, "写真.png")

    expand(attachment)

    assert attachment.over_limit == "max_image_pixels"
    assert attachment.defects == [f"over limit max_image_pixels: 10000000000 > {DEFAULT_LIMITS.max_image_pixels}; not read"]


def test_image_between_limits_held():
    # Above Limits.max_image_pixels but below twice Pillow's limit: measured, not refused.
    attachment = attachment_for(png_header_only(2000, 1000), "写真.png")

    expand(attachment, limits=Limits(max_image_pixels=1_000_000))

    assert attachment.over_limit == "max_image_pixels"


def test_image_not_an_image_passes():
    assert check_image_pixels(b"\xff\xd8\xff\xe0 not really", DEFAULT_LIMITS) is None


def test_configure_pillow_sets_limit():
    before = Image.MAX_IMAGE_PIXELS
    try:
        configure_pillow(Limits(max_image_pixels=12345))

        assert Image.MAX_IMAGE_PIXELS == 12345
    finally:
        Image.MAX_IMAGE_PIXELS = before
