"""Name the file type of an attachment from its bytes alone, never from its name or MIME type.

Senders mislabel files (a HEIC photo named ``.JPG``, an xlsx sent as
``application/octet-stream``), so later stages decide by this result. Office Open XML files
are distinguished by the member names inside the zip. OLE2 files (legacy Office, and
password-protected OOXML, which Office wraps in OLE2) are distinguished by their stream
names, read with olefile.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import zipfile

import olefile

logger = logging.getLogger(__name__)

SNIFFED_TYPES = frozenset(
    {
        "xlsx", "xlsm", "docx", "pptx", "office_encrypted", "xls", "doc", "ole", "pdf",
        "jpeg", "png", "gif", "tiff", "bmp", "webp", "heic", "avif", "zip", "tnef", "eml",
        "text", "html", "unknown",
    }
)

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_TNEF_MAGIC = struct.pack("<I", 0x223E9F78)
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# Acrobat accepts a PDF header anywhere in the first 1024 bytes, so senders' junk before it
# must not hide a PDF.
_PDF_SEARCH_LIMIT = 1024
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
_CONTENT_TYPES_LIMIT = 1 << 20
_TEXT_SAMPLE = 8192
_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<meta|<!--)", re.I)
_HTML_TAG = re.compile(rb"<html[\s>]", re.I)
_HEADER_LINE = re.compile(rb"^([!-9;-~]+):[ \t]?")
_MAIL_HEADERS = frozenset(
    {
        b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"received",
        b"return-path", b"mime-version", b"content-type", b"delivered-to", b"reply-to",
        b"in-reply-to", b"references", b"sender",
    }
)


def sniff(payload: bytes) -> str:
    """Return the type of ``payload`` from :data:`SNIFFED_TYPES`, judged by magic bytes.

    ``"office_encrypted"`` is an OLE2 file with an EncryptionInfo stream, which is how
    Office stores a password-protected xlsx or docx. ``"ole"`` is any other OLE2 file that
    is not Excel or Word, and ``"zip"`` a zip that is not an Office Open XML document.
    Empty or unrecognised payloads give ``"unknown"``. Never raises.
    """
    head = payload[:16]
    if head.startswith(_ZIP_MAGICS):
        return _sniff_zip(payload)
    if head.startswith(_OLE2_MAGIC):
        return _sniff_ole(payload)
    if head.startswith(_TNEF_MAGIC):
        return "tnef"
    image = _sniff_image(payload)
    if image is not None:
        return image
    if b"%PDF-" in payload[:_PDF_SEARCH_LIMIT]:
        return "pdf"
    return _sniff_text(payload)


def _sniff_image(payload: bytes) -> str | None:
    head = payload[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return _sniff_iso_bmff(payload)
    if head.startswith(b"BM") and len(head) >= 18:
        header_size = struct.unpack_from("<I", head, 14)[0]
        return "bmp" if header_size in _BMP_HEADER_SIZES else None
    return None


def _sniff_iso_bmff(payload: bytes) -> str | None:
    """Read the ftyp box: its major brand, then its compatible brands."""
    box_size = struct.unpack_from(">I", payload, 0)[0]
    box = payload[8 : min(max(box_size, 16), 4096)]
    brands = [box[0:4]] + [box[offset : offset + 4] for offset in range(8, len(box) - 3, 4)]
    if brands[0] in _AVIF_BRANDS:
        return "avif"
    if brands[0] in _HEIC_BRANDS:
        if any(brand in _AVIF_BRANDS for brand in brands[1:]) and not any(
            brand in _HEIC_BRANDS - {b"mif1", b"msf1"} for brand in brands[1:]
        ):
            return "avif"
        return "heic"
    if any(brand in _AVIF_BRANDS for brand in brands[1:]):
        return "avif"
    if any(brand in _HEIC_BRANDS for brand in brands[1:]):
        return "heic"
    return None


def _sniff_zip(payload: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            names = set(archive.namelist())
            content_types = _read_bounded(archive, "[Content_Types].xml")
    except Exception:  # zipfile raises many types on hostile input (BadZipFile, zlib.error, …)
        # A damaged central directory still leaves readable local headers.
        logger.debug("zipfile could not read a zip payload", exc_info=True)
        names = _local_member_names(payload)
        content_types = b""
    return _office_type(names, content_types)


def _office_type(names: set[str], content_types: bytes) -> str:
    if "[Content_Types].xml" not in names:
        return "zip"
    if "xl/workbook.xml" in names:
        macro = "xl/vbaProject.bin" in names or b"macroenabled" in content_types.lower()
        return "xlsm" if macro else "xlsx"
    if "word/document.xml" in names:
        return "docx"
    if "ppt/presentation.xml" in names:
        return "pptx"
    return "zip"


def _read_bounded(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        with archive.open(name) as member:
            return member.read(_CONTENT_TYPES_LIMIT)
    except Exception:  # an encrypted or damaged member: the names alone decide
        return b""


def _local_member_names(payload: bytes) -> set[str]:
    """Collect member names from local file headers, for zips without a central directory."""
    names = set()
    for match in re.finditer(rb"PK\x03\x04", payload):
        start = match.start()
        if start + 30 > len(payload):
            break
        name_length = struct.unpack_from("<H", payload, start + 26)[0]
        names.add(payload[start + 30 : start + 30 + name_length].decode("cp437"))
    return names


def _sniff_ole(payload: bytes) -> str:
    try:
        # A bytes argument shorter than 1536 bytes would be taken as a file name.
        with olefile.OleFileIO(io.BytesIO(payload)) as ole:
            streams = {"/".join(path) for path in ole.listdir(streams=True, storages=False)}
    except Exception:  # olefile raises many types on damaged input, but the magic marks OLE2.
        logger.debug("olefile could not read an OLE2 payload", exc_info=True)
        return "ole"
    if "EncryptionInfo" in streams and "EncryptedPackage" in streams:
        return "office_encrypted"
    if "Workbook" in streams or "Book" in streams:
        return "xls"
    if "WordDocument" in streams:
        return "doc"
    return "ole"


def _sniff_text(payload: bytes) -> str:
    if not payload:
        return "unknown"
    sample = payload[:_TEXT_SAMPLE]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text"
    if sample.startswith(b"\xef\xbb\xbf"):
        sample = sample[3:]
    if b"\x00" in sample or _control_ratio(sample) > 0.01:
        return "unknown"
    if _looks_like_mail(sample):
        return "eml"
    if _HTML_START.match(sample) or _HTML_TAG.search(sample[:1024]):
        return "html"
    return "text"


def _control_ratio(sample: bytes) -> float:
    # ESC is allowed because ISO-2022-JP text is full of it.
    controls = sum(1 for byte in sample if byte < 0x20 and byte not in b"\t\n\r\x0c\x1b")
    return controls / len(sample) if sample else 0.0


def _looks_like_mail(sample: bytes) -> bool:
    """Return whether ``sample`` opens with an RFC 5322 header block with two known mail headers."""
    lines = re.split(rb"\r?\n", sample)
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]
    known = 0
    for line in lines:
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t"):
            continue
        match = _HEADER_LINE.match(line)
        if match is None:
            return False
        known += match.group(1).lower() in _MAIL_HEADERS
    return known >= 2
