"""Encoders that build Japanese test inputs independently of the decoders under test."""

from __future__ import annotations

ESC_ASCII = b"\x1b(B"
ESC_JIS0208 = b"\x1b$B"
ESC_KANA = b"\x1b(I"


def sjis_to_jis(lead: int, trail: int) -> bytes:
    """Convert one Shift_JIS double-byte code to its JIS X 0208 code point."""
    first = (lead - (0x71 if lead <= 0x9F else 0xB1)) * 2 + 1
    if trail > 0x7F:
        trail -= 1
    if trail >= 0x9E:
        return bytes((first + 1, trail - 0x7D))
    return bytes((first, trail - 0x1F))


def encode_iso2022jp(text: str) -> bytes:
    """Encode text as Windows writes ISO-2022-JP, using ``ESC ( I`` for half-width katakana."""
    out = bytearray()
    mode = ESC_ASCII
    for char in text:
        if char.isascii():
            target, code = ESC_ASCII, char.encode("ascii")
        elif "\uff61" <= char <= "\uff9f":
            target, code = ESC_KANA, bytes((ord(char) - 0xFF61 + 0x21,))
        else:
            sjis = char.encode("cp932")
            target, code = ESC_JIS0208, sjis_to_jis(sjis[0], sjis[1])
        if target != mode:
            out += target
            mode = target
        out += code
    if mode != ESC_ASCII:
        out += ESC_ASCII
    return bytes(out)
