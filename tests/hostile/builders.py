"""Hostile documents built in the tests: small files that expand to gigabytes or hang a parser.

Each builder returns the bytes of one file. They are made here rather than stored, so
the repository keeps no bombs and each file's size is stated where it is made.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from email.message import EmailMessage

from tests.conftest import SAMPLE

GIB = 1 << 30
MIB = 1 << 20
FORMS = SAMPLE / "forms"
_BLOCK = 1 << 20

# A billion laughs: ten levels of ten references, 10**9 copies of "lol" once expanded.
BILLION_LAUGHS_DTD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<!DOCTYPE w:document [<!ENTITY lol0 "lol">'
    + "".join(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">' for level in range(1, 10))
    + "]>\n"
)


def zlib_bomb(unit: bytes, inflated_bytes: int) -> bytes:
    """Return a zlib stream that inflates to ``unit`` repeated to at least ``inflated_bytes``.

    One 1 MiB block is compressed once and its bytes repeated: a full flush ends each
    block on a byte boundary with no back-references across it, so the copies decode
    one after another. Building a 1 GiB bomb takes about a second.
    """
    block = unit * (_BLOCK // len(unit))
    compressor = zlib.compressobj(9)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = -(-inflated_bytes // len(block))
    checksum = 1
    for _ in range(count):
        checksum = zlib.adler32(block, checksum)
    # b"\x03\x00" is an empty final block with fixed Huffman codes; the Adler-32 follows.
    return first + repeated * (count - 1) + b"\x03\x00" + checksum.to_bytes(4, "big")


def pdf_document(content: bytes, pages: int = 1, content_filter: str | None = None) -> bytes:
    """Return a PDF of ``pages`` pages that all draw the one ``content`` stream."""
    page_ids = range(5, 5 + pages)
    stream_head = b"<< /Length %d" % len(content) + (f" /Filter /{content_filter}".encode() if content_filter else b"")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % number for number in page_ids) + b"] /Count %d >>" % pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        stream_head + b" >>\nstream\n" + content + b"\nendstream",
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    objects.extend(page for _ in page_ids)
    return pdf_file(objects)


def pdf_file(objects: list[bytes]) -> bytes:
    output = io.BytesIO()
    output.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(output.tell())
        output.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = output.tell()
    output.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        output.write(b"%010d 00000 n \n" % offset)
    output.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return output.getvalue()


def flate_bomb_pdf(inflated_bytes: int = GIB) -> bytes:
    """Return a one-page PDF whose content stream inflates to ``inflated_bytes`` of path operators."""
    return pdf_document(zlib_bomb(b"0 0 m ", inflated_bytes), content_filter="FlateDecode")


def many_pages_pdf(pages: int = 10_000) -> bytes:
    """Return a PDF with ``pages`` pages that share one small text content stream."""
    return pdf_document(b"BT /F1 12 Tf 72 720 Td (Registration form) Tj ET", pages=pages)


def xlsx_zip_bomb(inflated_bytes: int = GIB) -> bytes:
    """Return the sample Form 1 workbook with its sheet replaced by ``inflated_bytes`` of blanks."""
    base = zipfile.ZipFile(io.BytesIO((FORMS / "yoshiki1_template.xlsx").read_bytes()))
    output = io.BytesIO()
    with base, zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as package:
        for info in base.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                package.writestr(info, base.read(info))
                continue
            with package.open(info.filename, "w", force_zip64=True) as member:
                blanks = b" " * _BLOCK
                for _ in range(-(-inflated_bytes // _BLOCK)):
                    member.write(blanks)
    return output.getvalue()


def docx_billion_laughs() -> bytes:
    """Return the sample Word form whose body starts with a billion-laughs entity."""
    base = zipfile.ZipFile(io.BytesIO((FORMS / "yoshiki1_template.docx").read_bytes()))
    output = io.BytesIO()
    with base, zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as package:
        for info in base.infolist():
            data = base.read(info)
            if info.filename == "word/document.xml":
                body = data.decode("utf-8").split("?>", 1)[1]
                body = body.replace("<w:body>", "<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>", 1)
                data = (BILLION_LAUGHS_DTD + body).encode("utf-8")
            package.writestr(info, data)
    return output.getvalue()


def huge_xls(sheets: int = 4) -> bytes:
    """Return a 4 KiB .xls whose sheets each hold one number in their last cell (row 65536, column IV).

    xlrd pads every row of a sheet to its widest row, so each sheet becomes 65,536 rows
    of 256 cells (three Python lists of 16.7 million entries) in memory.
    """
    sheet_streams = [_biff_sheet() for _ in range(sheets)]
    globals_length = len(_biff_globals([0] * sheets))
    offsets, position = [], globals_length
    for stream in sheet_streams:
        offsets.append(position)
        position += len(stream)
    workbook = _biff_globals(offsets) + b"".join(sheet_streams)
    return _compound_file("Workbook", workbook.ljust(4096, b"\0"))


def _biff_record(kind: int, data: bytes) -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _biff_bof(substream: int) -> bytes:
    # BIFF8 (0x0600), build and year of Excel 97, no history flags.
    return _biff_record(0x0809, struct.pack("<HHHHII", 0x0600, substream, 0x0DBB, 0x07CC, 0, 0x0006))


def _biff_globals(sheet_offsets: list[int]) -> bytes:
    records = [_biff_bof(0x0005), _biff_record(0x0042, struct.pack("<H", 1200))]  # CODEPAGE: UTF-16
    for index, offset in enumerate(sheet_offsets):
        name = f"S{index}".encode("ascii")
        records.append(_biff_record(0x0085, struct.pack("<IBBBB", offset, 0, 0, len(name), 0) + name))
    records.append(_biff_record(0x000A, b""))
    return b"".join(records)


def _biff_sheet() -> bytes:
    dimensions = struct.pack("<IIHHH", 0, 65536, 0, 256, 0)
    last_cell = struct.pack("<HHHd", 65535, 255, 0, 1.0)
    return (_biff_bof(0x0010) + _biff_record(0x0200, dimensions) + _biff_record(0x0203, last_cell)
            + _biff_record(0x000A, b""))


def _compound_file(stream_name: str, stream: bytes) -> bytes:
    """Return an OLE2 compound file (version 3, 512-byte sectors) that contains one stream.

    Sector 0 is the FAT, sector 1 the directory, and the stream follows. The stream must
    be at least 4096 bytes, so that it lives in normal sectors, not in the mini stream.
    """
    free, end_of_chain, fat_sector, no_stream = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    stream_sectors = -(-len(stream) // 512)
    if stream_sectors > 126:
        raise ValueError("one FAT sector maps at most 126 stream sectors")
    fat = [fat_sector, end_of_chain] + [2 + index + 1 for index in range(stream_sectors - 1)] + [end_of_chain]
    fat += [free] * (128 - len(fat))
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
              + struct.pack("<HHHHH6sIIIIIIIII", 0x003E, 0x0003, 0xFFFE, 9, 6, bytes(6), 0, 1, 1, 0, 4096,
                            end_of_chain, 0, end_of_chain, 0)
              + struct.pack("<I", 0) + struct.pack("<108I", *([free] * 108)))
    directory = (_directory_entry("Root Entry", 5, child=1, start=end_of_chain, size=0)
                 + _directory_entry(stream_name, 2, child=no_stream, start=2, size=len(stream))
                 + bytes(128 * 2))
    return header + struct.pack("<128I", *fat) + directory + stream.ljust(stream_sectors * 512, b"\0")


def _directory_entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
    encoded = name.encode("utf-16-le") + b"\0\0"
    no_stream = 0xFFFFFFFF
    return (encoded.ljust(64, b"\0") + struct.pack("<HBBIII", len(encoded), kind, 1, no_stream, no_stream, child)
            + bytes(16) + struct.pack("<I", 0) + bytes(16) + struct.pack("<IQ", start, size))


def bomb_mail(payload: bytes, filename: str) -> bytes:
    """Return an application mail from sender@example.net that attaches ``payload`` as ``filename``."""
    message = EmailMessage()
    message["From"] = "sender@example.net"
    message["To"] = "intake@bureau.example.jp"
    message["Subject"] = "登録申請書類"
    message["Message-ID"] = "<bomb@example.net>"
    message["Date"] = "Fri, 04 Dec 2026 10:00:00 +0900"
    message.set_content("登録申請書類を送付します。")
    message.add_attachment(payload, maintype="application", subtype="octet-stream", filename=filename)
    return bytes(message)
