"""Undo Content-Transfer-Encoding leniently, as mail clients do, and record what was wrong.

Clients repair what strict decoders reject (a missing ``=`` pad, blanks at a line end, a
stray character), so a file reaches the recipient intact where ``base64.b64decode`` would
raise ``binascii.Error``. Each function here returns the bytes a client would show and a
list of defects in words. None of them raises on bad input.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field

from mailparser.utils import decode_base64_payload

_BASE64_ALPHABET = re.compile(rb"[^A-Za-z0-9+/=]")
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_BLANKS = b" \t"
_QP_BAD_ESCAPE = re.compile(rb"=(?![0-9A-Fa-f]{2})")
_QP_LOWERCASE_ESCAPE = re.compile(rb"=(?:[a-f][0-9A-Fa-f]|[0-9A-F][a-f])")
_IDENTITY_ENCODINGS = frozenset({"", "7bit", "8bit", "binary"})
_UUENCODE_NAMES = frozenset({"x-uuencode", "uuencode", "x-uue", "uue"})


@dataclass
class TransferDecoded:
    """Decoded bytes of a part body, and the defects found while decoding it."""

    data: bytes
    defects: list[str] = field(default_factory=list)


def decode_transfer(body: bytes, encoding: str | None) -> TransferDecoded:
    """Decode ``body`` from Content-Transfer-Encoding ``encoding`` (None when not declared).

    An unknown encoding leaves the bytes as they are and adds a defect.
    """
    name = (encoding or "").strip().lower()
    if name in _IDENTITY_ENCODINGS:
        return TransferDecoded(body)
    if name == "base64":
        return decode_base64(body)
    if name == "quoted-printable":
        return decode_quoted_printable(body)
    if name in _UUENCODE_NAMES:
        return decode_uuencode(body)
    return TransferDecoded(body, [f"Content-Transfer-Encoding {name!r} is unknown; kept the bytes as sent"])


def decode_base64(body: bytes) -> TransferDecoded:
    """Decode base64 text leniently: skip blanks and stray characters, repair missing padding.

    Decoding stops at the first ``=`` pad, as clients do, and a lone final character that
    cannot form a byte is dropped. mail-parser's ``decode_base64_payload`` does the decoding.
    """
    defects = []
    lines = _LINE_BREAK.split(body)
    if any(line != line.strip(_BLANKS) for line in lines):
        defects.append("base64 lines had stray blanks; ignored them")
    compact = b"".join(line.strip(_BLANKS) for line in lines)
    if _BASE64_ALPHABET.search(compact):
        defects.append("base64 contained characters outside its alphabet; skipped them")
    digits = _BASE64_ALPHABET.sub(b"", compact)
    content = digits.split(b"=", 1)[0]
    if b"=" in digits and digits[len(content) :].strip(b"="):
        defects.append("base64 continued after its padding; ignored the rest")
    if len(content) % 4 == 1:
        defects.append("base64 ended with a lone character; dropped it")
    elif len(content) % 4 and not digits[len(content) :].startswith(b"=" * (-len(content) % 4)):
        defects.append("base64 padding was missing; decoded leniently")
    return TransferDecoded(decode_base64_payload(digits.decode("ascii")), defects)


def decode_quoted_printable(body: bytes) -> TransferDecoded:
    """Decode quoted-printable leniently: an ``=`` that starts no valid escape stays as text.

    Blanks at line ends are dropped before decoding, as RFC 2045 section 6.7 rule 3
    requires, because relays may add them.
    """
    defects = []
    lines = _LINE_BREAK.split(body)
    stripped = [line.rstrip(_BLANKS) for line in lines]
    # An "=" directly before a line break is a soft break, not a bad escape.
    unbroken = b"\n".join(line[:-1] if line.endswith(b"=") else line for line in stripped)
    if _QP_BAD_ESCAPE.search(unbroken):
        defects.append("quoted-printable had '=' not followed by two hex digits; kept it as text")
    if _QP_LOWERCASE_ESCAPE.search(unbroken):
        defects.append("quoted-printable used lowercase hex digits; decoded them")
    if any(len(line) > 998 for line in lines):
        defects.append("quoted-printable had lines over 998 characters")
    line_end = b"\r\n" if b"\r\n" in body else b"\n"
    return TransferDecoded(binascii.a2b_qp(line_end.join(stripped)), defects)


def decode_uuencode(body: bytes) -> TransferDecoded:
    """Decode a uuencoded body between its ``begin`` and ``end`` lines."""
    out = bytearray()
    defects = []
    inside = False
    for line in _LINE_BREAK.split(body):
        if not inside:
            inside = line.startswith(b"begin ")
            continue
        if line.strip() == b"end":
            break
        if not line.strip():
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            defects.append("uuencoded line was invalid; skipped it")
    if not inside:
        return TransferDecoded(body, ["uuencoded body has no 'begin' line; kept the bytes as sent"])
    return TransferDecoded(bytes(out), defects)
