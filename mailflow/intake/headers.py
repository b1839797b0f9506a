"""Decode header values: RFC 2047 encoded-words, raw 8-bit text, addresses, dates and ids.

Input values are what the stdlib parser stores with ``policy=compat32``: undecoded and
folded, with each 8-bit byte kept as a surrogate escape that gives back the original byte.
Address structure comes from mail-parser's ``get_addresses`` and date validation from its
``parse_mail_date``; every decode of words and raw bytes goes through
``mailflow.intake.charset``.
"""

from __future__ import annotations

import binascii
import datetime as dt
import email.utils
import re
from dataclasses import dataclass, field

from mailparser.dates import parse_mail_date
from mailparser.utils import get_addresses

from mailflow.intake.charset import ASCII, UTF8, charset_family, decode_bytes, guess_decode
from mailflow.intake.message import Address
from mailflow.intake.transfer import decode_base64

# Encoded-word (RFC 2047 section 2) with an optional RFC 2231 language suffix. Words glued
# to neighbouring text are decoded too, as clients do, but words with blanks inside are not.
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SURROGATE = re.compile(r"[\udc80-\udcff]")
_MESSAGE_ID = re.compile(r"<([^<>]*)>")
_BLANKS = re.compile(r"\s+")
# Japanese mail often ends a Date with a bare "JST", which RFC 5322 would read as -0000.
_JST_ZONE = re.compile(r"(\d)\s+JST\s*$", re.I)
_JST_OFFSET = r"\1 +0900"


@dataclass
class DecodedHeader:
    """A header value as readable text, and what could not be decoded cleanly."""

    text: str
    defects: list[str] = field(default_factory=list)


@dataclass
class _Word:
    charset: str | None
    label: str
    data: bytes


def unfold(value: str) -> str:
    """Remove the line breaks of folding (RFC 5322 section 2.2.3), keeping the blank after them."""
    return _FOLD.sub("", value)


def wire_bytes(value: str) -> bytes:
    """Return the original bytes of a value whose 8-bit bytes are surrogate escapes."""
    return value.encode("utf-8", "surrogateescape")


def decode_header_value(value: str) -> DecodedHeader:
    """Decode a header value into text as the sender's client meant it.

    Adjacent encoded-words in the same charset are joined as bytes before decoding, so a
    multibyte character or ISO-2022-JP run split across words survives. Blanks between
    adjacent encoded-words are dropped (RFC 2047 section 6.2). Raw 8-bit or JIS text
    outside words is guessed (UTF-8, then cp932, then EUC-JP). Line breaks left in the
    result become spaces.
    """
    text = unfold(value)
    defects: list[str] = []
    pieces: list[_Word | str] = []
    position = 0
    for match in _ENCODED_WORD.finditer(text):
        between = text[position : match.start()]
        if between and not (between.isspace() and pieces and isinstance(pieces[-1], _Word)):
            pieces.append(between)
        _append_word(pieces, _word_from_match(match, defects))
        position = match.end()
    if position < len(text):
        pieces.append(text[position:])
    parts = [_render_piece(piece, defects) for piece in pieces]
    return DecodedHeader(_LINE_BREAK.sub(" ", "".join(parts)).strip(), defects)


def decode_raw_text(text: str, defects: list[str]) -> str:
    """Decode text that contains raw 8-bit bytes (as surrogate escapes) or raw JIS escapes.

    UTF-8 is allowed in headers by RFC 6532, so only other charsets record a defect.
    """
    if not _SURROGATE.search(text) and "\x1b" not in text:
        return text
    decoded = guess_decode(wire_bytes(text))
    if decoded.defect:
        defects.append(f"raw header text: {decoded.defect}")
    elif decoded.charset not in (UTF8, ASCII):
        defects.append(f"raw header text without encoded-words; decoded as {decoded.charset}")
    return decoded.text


def parse_addresses(value: str) -> tuple[list[Address], list[str]]:
    """Parse an address list header into Addresses with decoded display names.

    The address is kept as written. Entries that cannot be read as a mailbox are left out,
    each with a defect naming mail-parser's reason (never the value, which is personal data).
    """
    defects: list[str] = []
    text = decode_raw_text(unfold(value), defects)
    diagnostics: list[dict] = []
    addresses = []
    for name, address in get_addresses(text, defects=diagnostics):
        if not address:
            continue
        decoded = decode_header_value(name)
        defects.extend(decoded.defects)
        addresses.append(Address(decoded.text, address))
    for diagnostic in diagnostics:
        outcome = "recovered" if diagnostic.get("recovered") else "skipped"
        defects.append(f"address list entry needed repair ({diagnostic.get('reason')}); {outcome}")
    return addresses, defects


def parse_date(value: str) -> tuple[dt.datetime | None, list[str]]:
    """Parse a Date header into an aware datetime in the sender's own offset.

    mail-parser validates the date and gives the instant. The offset comes from
    ``email.utils.parsedate_tz``, because mail-parser rounds it to a tenth of an hour.
    ``-0000`` and unknown zones give UTC. An unreadable date returns None and a defect.
    """
    text = unfold(value).strip()
    defects = []
    if _JST_ZONE.search(text):
        text = _JST_ZONE.sub(_JST_OFFSET, text)
        defects.append("Date uses the zone name JST; read it as +0900")
    result = parse_mail_date(text)
    if result.value is None:
        reasons = ", ".join(result.reasons) or "empty"
        return None, defects + [f"Date header is invalid ({reasons}); date left empty"]
    defects.extend(f"Date header: {reason}" for reason in result.reasons)
    return result.value.astimezone(_sender_zone(text, result.timezone)), defects


def parse_message_ids(value: str) -> tuple[list[str], list[str]]:
    """Return the ``<id>`` tokens of a Message-ID, In-Reply-To or References value, in order.

    Blanks inside an id (left by folding) are removed. A value with no angle brackets but
    an ``@`` in a word is read as bare ids, with a defect.
    """
    text = unfold(value)
    ids = [f"<{_BLANKS.sub('', inner)}>" for inner in _MESSAGE_ID.findall(text) if inner.strip()]
    defects = []
    if not ids:
        ids = [f"<{word.strip('<>')}>" for word in text.split() if "@" in word]
        if ids:
            defects.append("message id without angle brackets; added them")
    escaped = [_ascii_id(found) for found in ids]
    if escaped != ids:
        defects.append("message id with 8-bit or control characters; escaped them as %XX")
    return escaped, defects


def _ascii_id(found: str) -> str:
    """Return ``found`` with every byte outside printable ASCII written as ``%XX``.

    Ids are stored, compared and written into the headers of our replies, which are
    ASCII; escaping keeps an RFC 6532 id distinct and stable without letting raw bytes
    through.
    """
    data = found.encode("utf-8", "surrogateescape")
    if all(0x21 <= byte <= 0x7E for byte in data):
        return found
    return "".join(chr(byte) if 0x21 <= byte <= 0x7E else f"%{byte:02X}" for byte in data)


def _sender_zone(text: str, rounded_hours: str | int) -> dt.timezone:
    parsed = email.utils.parsedate_tz(text)
    offset = parsed[9] if parsed else None
    approximate = float(rounded_hours) * 3600
    if offset is None or abs(offset - approximate) > 180:
        offset = round(approximate / 60) * 60
    return dt.timezone(dt.timedelta(seconds=offset))


def _word_from_match(match: re.Match, defects: list[str]) -> _Word:
    label, encoding, encoded = match.group(1), match.group(2).upper(), match.group(3)
    raw = encoded.encode("ascii", "replace")
    if encoding == "B":
        decoded = decode_base64(raw)
        defects.extend(f"encoded-word: {defect}" for defect in decoded.defects)
        data = decoded.data
    else:
        data = binascii.a2b_qp(raw, header=True)
    return _Word(charset_family(label), label, data)


def _append_word(pieces: list[_Word | str], word: _Word) -> None:
    previous = pieces[-1] if pieces else None
    if isinstance(previous, _Word) and previous.charset == word.charset:
        previous.data += word.data
    else:
        pieces.append(word)


def _render_piece(piece: _Word | str, defects: list[str]) -> str:
    if isinstance(piece, str):
        return decode_raw_text(piece, defects)
    decoded = decode_bytes(piece.data, piece.label)
    if decoded.defect:
        defects.append(f"encoded-word: {decoded.defect}")
    return decoded.text
