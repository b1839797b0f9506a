"""Decode ISO-2022-JP and EUC-JP through Shift_JIS and cp932, as Windows does.

Python's ``iso2022_jp`` and ``euc_jp`` codecs follow JIS X 0208 strictly. They reject the
NEC row 13 (①, ㈱, ㍻) and the NEC-selected IBM rows 89-92 (髙, 﨑) that Outlook and other
Windows clients write, and they map JIS 0x2141 to U+301C where Windows shows U+FF5E. Both
encodings carry JIS code points, which convert to Shift_JIS by fixed arithmetic, and cp932
then decodes them with the Windows extensions.
"""

from __future__ import annotations

from functools import lru_cache

_ASCII = "ascii"
_KANA = "kana"
_JIS0208 = "jis0208"
_JIS0212 = "jis0212"
_JIS0213_PLANE1 = "jis0213-1"
_JIS0213_PLANE2 = "jis0213-2"
_GB2312 = "gb2312"
_KSC5601 = "ksc5601"

# Escape sequences of ISO-2022-JP and its extensions (RFC 1468, RFC 1554, JIS X 0213
# Annex 2), mapped to the character set they select. ``ESC ( J`` (JIS X 0201 Roman) is read
# as ASCII, as Windows does. ``ESC & @`` only announces a JIS X 0208 revision.
_ESCAPES = {
    b"\x1b(B": _ASCII,
    b"\x1b(J": _ASCII,
    b"\x1b(H": _ASCII,
    b"\x1b(I": _KANA,
    b"\x1b$@": _JIS0208,
    b"\x1b$B": _JIS0208,
    b"\x1b$(@": _JIS0208,
    b"\x1b$(B": _JIS0208,
    b"\x1b&@": None,
    b"\x1b$(D": _JIS0212,
    b"\x1b$(O": _JIS0213_PLANE1,
    b"\x1b$(Q": _JIS0213_PLANE1,
    b"\x1b$(P": _JIS0213_PLANE2,
    b"\x1b$A": _GB2312,
    b"\x1b$(C": _KSC5601,
}
_SHIFT_OUT = 0x0E
_SHIFT_IN = 0x0F
_REPLACEMENT = "\ufffd"


def jis_to_sjis(first: int, second: int) -> bytes:
    """Return the Shift_JIS bytes of JIS code point (``first``, ``second``), each 0x21-0x7E.

    Rows 0x21-0x5E map to lead bytes 0x81-0x9F and rows 0x5F-0x7E to 0xE0-0xEF. An odd
    row uses trail bytes 0x40-0x9E (skipping 0x7F), and an even row uses 0x9F-0xFC.
    """
    lead = ((first + 1) >> 1) + (0x70 if first <= 0x5E else 0xB0)
    if first & 1:
        trail = second + (0x1F if second <= 0x5F else 0x20)
    else:
        trail = second + 0x7E
    return bytes((lead, trail))


def halfwidth_kana(byte: int) -> str:
    """Return the half-width katakana of JIS X 0201 byte 0xA1-0xDF (U+FF61-U+FF9F)."""
    return chr(0xFF61 + byte - 0xA1)


def decode_iso2022jp(data: bytes) -> tuple[str, int]:
    """Decode ISO-2022-JP the way Windows does, returning the text and the count of bad bytes.

    The decoder starts in ASCII and tolerates what real senders do: redundant escapes
    where self-contained encoded-words were joined, a double-byte run that continues after
    a line end, SO/SI or ``ESC ( I`` half-width katakana, and 8-bit katakana bytes
    0xA1-0xDF (JIS8). JIS X 0212, JIS X 0213 and the ISO-2022-JP-2 GB2312 and KS C 5601
    sets are read with the matching EUC codec. Each bad byte becomes U+FFFD.
    """
    out: list[str] = []
    bad = 0
    charset = _ASCII
    shifted = False
    index = 0
    size = len(data)
    while index < size:
        byte = data[index]
        if byte == 0x1B:
            sequence = _escape_at(data, index)
            if sequence is None:
                out.append(_REPLACEMENT)
                bad += 1
                index += 1
            else:
                charset = _ESCAPES[sequence] or charset
                index += len(sequence)
            continue
        if byte in (_SHIFT_OUT, _SHIFT_IN):
            shifted = byte == _SHIFT_OUT
            index += 1
            continue
        char, length = _char_at(data, index, _KANA if shifted else charset)
        bad += _append_char(out, char, length)
        index += length
    return "".join(out), bad


def _append_char(out: list[str], char: str | None, length: int) -> int:
    """Append ``char`` to ``out``, or U+FFFD when it is None; return the count of bad bytes."""
    if char is None:
        out.append(_REPLACEMENT)
        return length
    out.append(char)
    return 0


def _escape_at(data: bytes, index: int) -> bytes | None:
    for length in (3, 4):
        sequence = data[index : index + length]
        if sequence in _ESCAPES:
            return sequence
    return None


def _char_at(data: bytes, index: int, charset: str) -> tuple[str | None, int]:
    """Return the character at ``index`` in ``charset`` and how many bytes it used."""
    byte = data[index]
    if byte >= 0x80:
        return (halfwidth_kana(byte) if 0xA1 <= byte <= 0xDF else None), 1
    # Controls and space pass through in every mode, because some senders never leave
    # the double-byte set before a line end.
    if byte < 0x21 or byte == 0x7F or charset == _ASCII:
        return chr(byte), 1
    if charset == _KANA:
        return (halfwidth_kana(byte | 0x80) if byte <= 0x5F else None), 1
    second = data[index + 1] if index + 1 < len(data) else 0
    if not 0x21 <= second <= 0x7E:
        return None, 1
    return _double_byte_char(charset, byte, second), 2


@lru_cache(maxsize=4096)
def _double_byte_char(charset: str, first: int, second: int) -> str | None:
    high = bytes((first | 0x80, second | 0x80))
    if charset == _JIS0208:
        return _decode_or_none(jis_to_sjis(first, second), "cp932")
    if charset == _JIS0212:
        return _decode_or_none(b"\x8f" + high, "euc_jp")
    if charset == _JIS0213_PLANE1:
        return _decode_or_none(high, "euc_jis_2004")
    if charset == _JIS0213_PLANE2:
        return _decode_or_none(b"\x8f" + high, "euc_jis_2004")
    if charset == _GB2312:
        return _decode_or_none(high, "gb2312")
    return _decode_or_none(high, "euc_kr")


def decode_eucjp_ms(data: bytes) -> tuple[str, int]:
    """Decode EUC-JP as Microsoft's CP51932 and eucJP-ms do, returning the text and bad byte count.

    Two-byte codes go through Shift_JIS to cp932, so 0xA1C1 is U+FF5E (not U+301C) and NEC
    row 13 decodes. The user-defined rows 0xF5-0xFE map to U+E000 onwards. ``0x8E``
    introduces a half-width katakana and ``0x8F`` a three-byte JIS X 0212 code.
    """
    out: list[str] = []
    bad = 0
    index = 0
    size = len(data)
    while index < size:
        char, length = _eucjp_char(data, index)
        bad += _append_char(out, char, length)
        index += length
    return "".join(out), bad


def _eucjp_char(data: bytes, index: int) -> tuple[str | None, int]:
    byte = data[index]
    if byte < 0x80:
        return chr(byte), 1
    follow = data[index + 1] if index + 1 < len(data) else 0
    if byte == 0x8E:
        return (halfwidth_kana(follow), 2) if 0xA1 <= follow <= 0xDF else (None, 1)
    if byte == 0x8F:
        code = data[index : index + 3]
        if len(code) == 3 and code[1] >= 0xA1 and code[2] >= 0xA1:
            return _decode_or_none(code, "euc_jp"), 3
        return None, 1
    if not (0xA1 <= byte <= 0xFE and 0xA1 <= follow <= 0xFE):
        return None, 1
    if byte >= 0xF5:
        return chr(0xE000 + (byte - 0xF5) * 94 + (follow - 0xA1)), 2
    char = _decode_or_none(jis_to_sjis(byte - 0x80, follow - 0x80), "cp932")
    return (char if char is not None else _decode_or_none(data[index : index + 2], "euc_jp")), 2


def _decode_or_none(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None
