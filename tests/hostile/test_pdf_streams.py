"""The PDF stream cap: pdfminer's decoders count every decoded byte and stop at the budget."""

from __future__ import annotations

import time
import zlib

import pytest
from pdfminer.psparser import LIT
from pdfminer.pdftypes import PDFStream

from mailflow.intake.containers import expand
from mailflow.intake.forms.pdf import read_pdf
from mailflow.intake.forms.pdf_streams import StreamBudgetExceeded, stream_budget
from mailflow.intake.limits import DEFAULT_LIMITS, LimitExceeded, check_pdf_pages
from mailflow.intake.message import Attachment

from tests.hostile.builders import GIB, MIB, pdf_document, zlib_bomb
from tests.hostile.memory import peak_growth

LINE = b"BT /F1 12 Tf 72 720 Td (Registration form) Tj ET\n"
CONTENT = LINE * 100
# The LZW example of the PDF reference (1.7, 7.4.4.2): codes 256 45 258 258 65 259 66 257.
LZW_EXAMPLE = bytes.fromhex("800B6050220C0C8501")
LZW_DECODED = b"-----A---B"
RETURN_SECONDS = 10.0


def decoded(raw: bytes, filters: str) -> bytes:
    """Decode ``raw`` the way pdfminer decodes a stream with the ``/Filter`` named ``filters``."""
    return PDFStream({"Filter": LIT(filters)}, raw).get_data()


def run_length_bomb(decoded_bytes: int) -> bytes:
    # Length byte 129 repeats the next byte 128 times: 2 bytes for 128.
    return bytes([129, 0x41]) * (decoded_bytes // 128) + bytes([128])


def xref_stream_bomb(inflated_bytes: int) -> bytes:
    """Return a PDF 1.5 whose cross-reference stream, read as soon as the file opens, is a flate bomb."""
    data = zlib_bomb(b"\0", inflated_bytes)
    head = b"%PDF-1.5\n"
    catalog = b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    pages = b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    xref_offset = len(head + catalog + pages)
    xref = (b"3 0 obj\n<< /Type /XRef /Size 4 /W [1 4 2] /Root 1 0 R /Filter /FlateDecode /Length %d >>\nstream\n"
            % len(data) + data + b"\nendstream\nendobj\n")
    return head + catalog + pages + xref + b"startxref\n%d\n%%%%EOF\n" % xref_offset


def test_flate_within_budget_decoded():
    with stream_budget(MIB):
        assert decoded(zlib.compress(CONTENT), "FlateDecode") == CONTENT


def test_flate_over_budget_raises():
    with stream_budget(MIB), pytest.raises(StreamBudgetExceeded):
        decoded(zlib_bomb(b"0 0 m ", 4 * MIB), "FlateDecode")


def test_flate_over_budget_marked():
    with stream_budget(MIB) as budget:
        with pytest.raises(StreamBudgetExceeded):
            decoded(zlib_bomb(b"0 0 m ", 4 * MIB), "FlateDecode")

    assert budget.exceeded


def test_budget_shared_by_streams():
    with stream_budget(len(CONTENT) + len(CONTENT) // 2) as budget:
        decoded(zlib.compress(CONTENT), "FlateDecode")
        with pytest.raises(StreamBudgetExceeded):
            decoded(zlib.compress(CONTENT), "FlateDecode")

    assert budget.exceeded


def test_flate_outside_budget_uses_default():
    with pytest.raises(StreamBudgetExceeded):
        decoded(zlib_bomb(b"0 0 m ", DEFAULT_LIMITS.max_pdf_decoded_bytes + MIB), "FlateDecode")


def test_flate_bad_checksum_salvaged():
    damaged = zlib.compress(CONTENT)[:-4] + b"\0\0\0\0"

    with stream_budget(MIB):
        assert decoded(damaged, "FlateDecode") == CONTENT


def test_flate_damaged_middle_empty():
    compressed = zlib.compress(CONTENT)
    damaged = compressed[:2] + b"\xff" * 8 + compressed[10:]

    with stream_budget(MIB):
        assert decoded(damaged, "FlateDecode") == b""


def test_run_length_within_budget_decoded():
    with stream_budget(MIB):
        assert decoded(run_length_bomb(128 * 10), "RunLengthDecode") == b"A" * 1280


def test_run_length_over_budget_raises():
    with stream_budget(MIB), pytest.raises(StreamBudgetExceeded):
        decoded(run_length_bomb(64 * MIB), "RunLengthDecode")


def test_lzw_within_budget_decoded():
    with stream_budget(MIB):
        assert decoded(LZW_EXAMPLE, "LZWDecode") == LZW_DECODED


def test_lzw_over_budget_raises():
    with stream_budget(len(LZW_DECODED) - 1), pytest.raises(StreamBudgetExceeded):
        decoded(LZW_EXAMPLE, "LZWDecode")


def test_read_pdf_run_length_bomb_held():
    bomb = pdf_document(run_length_bomb(DEFAULT_LIMITS.max_pdf_decoded_bytes * 2), content_filter="RunLengthDecode")

    extraction = read_pdf(bomb)

    assert extraction.exceeded == LimitExceeded("max_pdf_decoded_bytes", None, DEFAULT_LIMITS.max_pdf_decoded_bytes)
    assert extraction.grids == []


def test_read_pdf_normal_content_read():
    extraction = read_pdf(pdf_document(zlib.compress(LINE), content_filter="FlateDecode"))

    assert extraction.text == "Registration form"
    assert extraction.exceeded is None


def test_page_check_xref_bomb_held():
    bomb = xref_stream_bomb(GIB)

    with peak_growth() as growth:
        started = time.monotonic()
        exceeded = check_pdf_pages(bomb)
        elapsed = time.monotonic() - started

    assert exceeded == LimitExceeded("max_pdf_decoded_bytes", None, DEFAULT_LIMITS.max_pdf_decoded_bytes)
    assert elapsed < RETURN_SECONDS
    assert growth.bytes < 2 * DEFAULT_LIMITS.max_pdf_decoded_bytes


def test_expand_xref_bomb_held():
    # expand() also checks in this process, with pdfminer, whether the PDF needs a password.
    attachment = Attachment("誓約書.pdf", "application/pdf", "attachment", xref_stream_bomb(GIB), "2", sniffed_type="pdf")

    with peak_growth() as growth:
        expand(attachment)

    assert attachment.over_limit == "max_pdf_decoded_bytes"
    assert growth.bytes < 2 * DEFAULT_LIMITS.max_pdf_decoded_bytes

