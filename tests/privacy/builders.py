"""Build the container files the privacy tests need: zips with raw names, TNEF streams, mails."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from mailflow.intake.message import Attachment
from mailflow.intake.sniff import sniff

TNEF_SIGNATURE = 0x223E9F78
# MS-OXTNEF attribute ids: the low word names the attribute, the high word its type.
ATT_TNEF_VERSION = 0x00089006
ATT_OEM_CODEPAGE = 0x00069007
ATT_MESSAGE_CLASS = 0x00078008
ATT_ATTACH_REND_DATA = 0x00069002
ATT_ATTACH_TITLE = 0x00018010
ATT_ATTACH_DATA = 0x0006800F
ATT_ATTACHMENT = 0x00069005
PT_UNICODE = 0x001F
PID_TAG_ATTACH_LONG_FILENAME = 0x3707


def attachment_for(payload: bytes, filename: str | None = None, part_id: str = "2") -> Attachment:
    """Return an Attachment as the parser would hand it to ``expand``."""
    return Attachment(filename, "application/octet-stream", "attachment", payload, part_id, sniffed_type=sniff(payload))


def zip_bytes(members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """Return a zip written by Python's zipfile (UTF-8 flag set for non-ASCII names)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_with_raw_names(members: list[tuple[bytes, bytes]], extras: list[bytes] | None = None) -> bytes:
    """Return a zip whose entry names are the given raw bytes, with the UTF-8 flag clear.

    That is how Windows' built-in zip writes cp932 names. zipfile would encode non-ASCII
    names as UTF-8 and set the flag, so each entry is written under an ASCII placeholder
    of the same length, and the placeholder bytes are swapped for the raw name after.
    """
    placeholders = [f"@{index}@".ljust(len(raw), "Z").encode("ascii") for index, (raw, _) in enumerate(members)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, ((raw, data), placeholder) in enumerate(zip(members, placeholders)):
            assert len(placeholder) == len(raw), "raw names need at least 4 bytes"
            info = zipfile.ZipInfo(placeholder.decode("ascii"))
            info.compress_type = zipfile.ZIP_DEFLATED
            if extras:
                info.extra = extras[index]
            archive.writestr(info, data)
    content = buffer.getvalue()
    for (raw, _), placeholder in zip(members, placeholders):
        content = content.replace(placeholder, raw)
    return content


def unicode_path_extra(header_name: bytes, real_name: str) -> bytes:
    """Return an Info-ZIP Unicode Path extra field (0x7075) for ``header_name``."""
    body = bytes([1]) + struct.pack("<I", zlib.crc32(header_name)) + real_name.encode("utf-8")
    return struct.pack("<HH", 0x7075, len(body)) + body


def set_encrypted_flag(content: bytes) -> bytes:
    """Return the zip with general-purpose flag bit 0 (encrypted) set on every entry.

    The data stays readable deflate, so a reader that ignored the flag would read it;
    the test then shows that nothing was read.
    """
    data = bytearray(content)
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        position = data.find(signature)
        while position >= 0:
            flags = struct.unpack_from("<H", data, position + flag_offset)[0]
            struct.pack_into("<H", data, position + flag_offset, flags | 0x1)
            position = data.find(signature, position + 4)
    return bytes(data)


def tnef_attribute(level: int, attribute_id: int, data: bytes) -> bytes:
    """Return one TNEF attribute: level, id, length, data and the 16-bit sum of the data bytes."""
    return struct.pack("<BII", level, attribute_id, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def mapi_unicode_property(property_id: int, value: str) -> bytes:
    """Return a one-property MAPI block holding a PT_UNICODE value, padded to 4 bytes."""
    encoded = value.encode("utf-16-le") + b"\x00\x00"
    padding = b"\x00" * (-len(encoded) % 4)
    return struct.pack("<IHHII", 1, PT_UNICODE, property_id, 1, len(encoded)) + encoded + padding


def tnef_bytes(members: list[tuple[bytes | None, str | None, bytes]], codepage: int = 932) -> bytes:
    """Return a TNEF stream (winmail.dat) with one attachment per (title, long name, data).

    ``title`` is the raw attAttachTitle (an 8.3 name in the OEM code page); ``long name``
    goes into PidTagAttachLongFilename when given. Written byte by byte from the
    MS-OXTNEF layout, because no Python package writes TNEF.
    """
    stream = struct.pack("<IH", TNEF_SIGNATURE, 0x0001)
    stream += tnef_attribute(1, ATT_TNEF_VERSION, struct.pack("<I", 0x00010000))
    stream += tnef_attribute(1, ATT_OEM_CODEPAGE, struct.pack("<II", codepage, 0))
    stream += tnef_attribute(1, ATT_MESSAGE_CLASS, b"IPM.Microsoft Mail.Note\x00")
    for title, long_name, data in members:
        # attAttachRendData: file attachment, position unknown, no rendering size, no flags.
        stream += tnef_attribute(2, ATT_ATTACH_REND_DATA, struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0))
        if title is not None:
            stream += tnef_attribute(2, ATT_ATTACH_TITLE, title + b"\x00")
        stream += tnef_attribute(2, ATT_ATTACH_DATA, data)
        if long_name is not None:
            stream += tnef_attribute(2, ATT_ATTACHMENT, mapi_unicode_property(PID_TAG_ATTACH_LONG_FILENAME, long_name))
    return stream
