"""Turn the bytes of a header word, body or file name into text the way Japanese clients meant it.

Python's codecs disagree with the clients that write Japanese mail. Its ``shift_jis`` lacks
the Windows extensions (①, ㈱, ㍻, 髙) and maps 0x8160 to U+301C where Windows shows
U+FF5E. Its ``iso2022_jp`` rejects the NEC and IBM rows that Outlook sends inside
ISO-2022-JP. This module maps every Shift_JIS label to cp932 and decodes ISO-2022-JP and
EUC-JP the Windows way (see ``mailflow.intake.jis``). It honours byte order marks, and
when a label is missing or wrong it tries UTF-8, then cp932, then EUC-JP. Nothing here
raises on bad input: undecodable bytes become U+FFFD and the result carries a defect.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from mailflow.intake.jis import decode_eucjp_ms, decode_iso2022jp

ISO2022JP = "iso-2022-jp"
CP932 = "cp932"
EUCJP = "euc-jp"
UTF8 = "utf-8"
ASCII = "us-ascii"

_FAMILY_LABELS = {
    ISO2022JP: (
        "iso-2022-jp csiso2022jp iso2022jp iso-2022-jp-1 iso-2022-jp-2 iso-2022-jp-3 "
        "iso-2022-jp-2004 iso-2022-jp-ext iso-2022-jp-ms cp50220 cp50221 cp50222 "
        "x-cp50220 x-cp50221 x-cp50222 jis jis7 x-jis"
    ),
    CP932: (
        "shift_jis shift-jis sjis x-sjis s-jis s_jis ms_kanji csshiftjis windows-31j "
        "cswindows31j cp932 ms932 x-ms-cp932 ibm-943 ibm943 shift_jisx0213 shift_jis-2004 "
        "shift_jis_2004 x-mac-japanese"
    ),
    EUCJP: (
        "euc-jp eucjp x-euc-jp euc_jp cseucpkdfmtjapanese eucjp-ms eucjp-open cp51932 "
        "x-eucjp euc-jis-2004 euc-jisx0213"
    ),
    UTF8: "utf-8 utf8 unicode-1-1-utf-8 x-utf-8",
    ASCII: "us-ascii ascii us ansi_x3.4-1968 iso646-us csascii 646",
}
_FAMILIES = {
    label: family for family, labels in _FAMILY_LABELS.items() for label in labels.split()
}
# Labels that name no charset at all, so text under them is guessed without a defect.
_NO_LABEL = frozenset({"", "unknown-8bit", "x-unknown", "unknown", "default", "8bit"})
# Labels whose bytes are, in practice, written by the superset Windows codec.
_SUPERSETS = {
    "iso-8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    # UTF-16 without a byte order mark is big-endian (RFC 2781 section 4.3).
    "utf-16": "utf-16-be",
}
# Python codecs that a mail label must never select: they interpret escapes or only raise.
_REJECTED_CODECS = frozenset(
    {"unicode_escape", "raw_unicode_escape", "undefined", "idna", "punycode", "mbcs", "oem"}
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


@dataclass(frozen=True)
class DecodedText:
    """Text decoded from bytes, the codec that produced it and, if decoding was not clean, why.

    ``charset`` names what was used, e.g. ``"cp932"`` or ``"iso-2022-jp"``; ``defect`` is a
    sentence such as ``"labelled us-ascii but contains 8-bit bytes; decoded as utf-8"``.
    """

    text: str
    charset: str
    defect: str | None = None


def charset_family(label: str | None) -> str | None:
    """Return the family a charset label belongs to, or the normalised label itself.

    ``charset_family("Shift_JIS") == "cp932"``; ``charset_family("unknown-8bit") is None``.
    """
    if label is None:
        return None
    key = label.strip().strip("\"'").lower()
    if key in _NO_LABEL:
        return None
    return _FAMILIES.get(key, _FAMILIES.get(key.replace("_", "-"), key))


def decode_bytes(data: bytes, label: str | None) -> DecodedText:
    """Decode ``data`` labelled with charset ``label`` (None when there was no label).

    A byte order mark overrides the label. When the label cannot describe the bytes (8-bit
    bytes under us-ascii or ISO-2022-JP, invalid UTF-8) or is unknown, the bytes are
    guessed and the result carries a defect.
    """
    family = charset_family(label)
    with_bom = _decode_with_bom(data, family)
    if with_bom is not None:
        return with_bom
    if family is None:
        return guess_decode(data)
    if family == ASCII:
        return _decode_ascii_label(data)
    if family == ISO2022JP:
        return _decode_iso2022jp_label(data)
    if family == CP932:
        return _decode_strict_or_guess(
            data, CP932, _cp932_decoder(label), lambda: data.decode(CP932, "replace")
        )
    if family == EUCJP:
        return _decode_strict_or_guess(data, EUCJP, _strict_eucjp, lambda: decode_eucjp_ms(data)[0])
    if family == UTF8:
        return _decode_strict_or_guess(data, UTF8, _strict_codec(UTF8), lambda: data.decode(UTF8, "replace"))
    return _decode_other_label(data, family)


def guess_decode(data: bytes) -> DecodedText:
    """Decode bytes that carry no usable label: ASCII, ISO-2022-JP, UTF-8, cp932, then EUC-JP.

    cp932 and EUC-JP both accept many byte strings, and each reads the other's text as
    half-width katakana and private-use characters. So when both succeed, the one that
    yields fewer of those wins, and cp932 wins a tie.
    """
    if data.isascii():
        if b"\x1b" in data:
            text, bad = decode_iso2022jp(data)
            return DecodedText(text, ISO2022JP, _bad_bytes_defect(bad, ISO2022JP))
        return DecodedText(data.decode("ascii"), ASCII)
    text = _strict_codec(UTF8)(data)
    if text is not None:
        return DecodedText(text, UTF8)
    if b"\x1b$" in data or b"\x1b(" in data:
        text, bad = decode_iso2022jp(data)
        if not bad:
            return DecodedText(text, ISO2022JP)
    candidates = []
    for charset, decoder in ((CP932, _strict_codec(CP932)), (EUCJP, _strict_eucjp)):
        text = decoder(data)
        if text is not None:
            candidates.append((_oddity_count(text), charset, text))
    if candidates:
        _, charset, text = min(candidates, key=lambda candidate: candidate[0])
        return DecodedText(text, charset)
    defect = "bytes are not valid utf-8, cp932 or euc-jp; decoded as cp932 with replacements"
    return DecodedText(data.decode(CP932, "replace"), CP932, defect)


def html_meta_charset(data: bytes) -> str | None:
    """Return the charset an HTML document declares in a ``<meta>`` tag near its start, or None."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def _decode_with_bom(data: bytes, family: str | None) -> DecodedText | None:
    for bom, codec in _BOMS:
        if not data.startswith(bom):
            continue
        body = data[len(bom) :]
        text = _strict_codec(codec)(body)
        defect = None
        if text is None:
            text = body.decode(codec, "replace")
            defect = f"bytes after the byte order mark are not valid {codec}; replaced"
        elif family is not None and not family.startswith(("utf-", "utf8")):
            defect = f"labelled {family} but starts with a {codec} byte order mark; decoded as {codec}"
        return DecodedText(text, codec, defect)
    return None


def _decode_ascii_label(data: bytes) -> DecodedText:
    if data.isascii() and b"\x1b" not in data:
        return DecodedText(data.decode("ascii"), ASCII)
    guessed = guess_decode(data)
    kind = "ISO-2022-JP escapes" if data.isascii() else "8-bit bytes"
    defect = f"labelled us-ascii but contains {kind}; decoded as {guessed.charset}"
    return DecodedText(guessed.text, guessed.charset, defect)


def _decode_iso2022jp_label(data: bytes) -> DecodedText:
    if data.isascii():
        text, bad = decode_iso2022jp(data)
        return DecodedText(text, ISO2022JP, _bad_bytes_defect(bad, ISO2022JP))
    # 8-bit bytes cannot occur in ISO-2022-JP. Either the sender labelled UTF-8 or
    # Shift_JIS text wrongly, or it wrote 8-bit katakana (JIS8) between the escapes.
    utf8 = _strict_codec(UTF8)(data)
    if utf8 is not None:
        return DecodedText(utf8, UTF8, "labelled iso-2022-jp but contains utf-8 bytes; decoded as utf-8")
    if b"\x1b" in data:
        text, bad = decode_iso2022jp(data)
        if not bad:
            return DecodedText(text, ISO2022JP, "iso-2022-jp text contains 8-bit katakana; decoded as JIS8")
    guessed = guess_decode(data)
    defect = f"labelled iso-2022-jp but contains 8-bit bytes; decoded as {guessed.charset}"
    return DecodedText(guessed.text, guessed.charset, defect)


def _cp932_decoder(label: str | None):
    """Return a strict decoder for a Shift_JIS-family label.

    Labels of the JIS X 0213 variant fall back to Python's codec of that name for the
    characters cp932 lacks.
    """
    key = (label or "").strip().lower().replace("-", "_")
    if key not in ("shift_jisx0213", "shift_jis_2004"):
        return _strict_codec(CP932)
    cp932, x0213 = _strict_codec(CP932), _strict_codec(key)

    def decode(data: bytes) -> str | None:
        text = cp932(data)
        return text if text is not None else x0213(data)

    return decode


def _decode_other_label(data: bytes, family: str) -> DecodedText:
    name = _text_codec_name(_SUPERSETS.get(family, family))
    if name is None or name in _REJECTED_CODECS:
        guessed = guess_decode(data)
        defect = f"charset label {family!r} is unknown; decoded as {guessed.charset}"
        return DecodedText(guessed.text, guessed.charset, defect)
    return _decode_strict_or_guess(
        data, family, _strict_codec(name), lambda: _replace_decode(data, name)
    )


def _decode_strict_or_guess(data: bytes, family: str, decoder, replaced) -> DecodedText:
    """Decode strictly as the label says, else guess, else decode with replacements.

    ``replaced`` returns the label's decoding with U+FFFD for bad bytes. It is used when
    no guess is clean either, because then the label is the best information left.
    """
    text = decoder(data)
    if text is not None:
        return DecodedText(text, family)
    guessed = guess_decode(data)
    if guessed.defect is None:
        defect = f"labelled {family} but the bytes are not valid {family}; decoded as {guessed.charset}"
        return DecodedText(guessed.text, guessed.charset, defect)
    return DecodedText(replaced(), family, f"bytes are not valid {family}; decoded with replacement characters")


def _text_codec_name(label: str) -> str | None:
    """Return Python's name of the text codec for ``label``, or None if it has none.

    Bytes-to-bytes codecs such as ``base64`` count as none.
    """
    try:
        name = codecs.lookup(label).name
        # Decoding an empty string skips the text-codec check, so probe with one byte.
        b"a".decode(name)
    except (LookupError, ValueError):
        # ValueError: the label contains a NUL byte.
        return None
    except UnicodeError:
        pass
    return name


def _strict_codec(name: str):
    """Return a function that decodes bytes with codec ``name``, or returns None on failure."""

    def decode(data: bytes) -> str | None:
        try:
            return data.decode(name)
        except (UnicodeError, LookupError):
            return None

    return decode


def _strict_eucjp(data: bytes) -> str | None:
    text, bad = decode_eucjp_ms(data)
    return None if bad else text


def _replace_decode(data: bytes, name: str) -> str:
    try:
        return data.decode(name, "replace")
    except (UnicodeError, LookupError):
        return data.decode(CP932, "replace")


def _oddity_count(text: str) -> int:
    """Count characters that a wrong Japanese codec typically produces."""
    return sum(
        1
        for char in text
        if "\uff61" <= char <= "\uff9f" or "\ue000" <= char <= "\uf8ff" or char == "\ufffd"
    )


def _bad_bytes_defect(bad: int, charset: str) -> str | None:
    if not bad:
        return None
    return f"{bad} byte(s) are not valid {charset}; replaced with U+FFFD"
