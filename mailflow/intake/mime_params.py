"""Parse Content-Type and Content-Disposition values and decode their parameters.

Parameters arrive in every form clients write. There are RFC 2231 ``filename*=`` values
and ``filename*0*=`` continuations, whose sections may cut a UTF-8 character, a JIS run or
even a ``%XX`` escape. Outlook and Gmail put RFC 2047 encoded-words inside quotes
(``name="=?iso-2022-jp?B?…?="``), and some clients put raw 8-bit Shift_JIS or UTF-8 there.
The stdlib decodes each RFC 2231 section on its own with Python's strict codecs, so this
module joins the sections and decodes them once through ``mailflow.intake.charset``.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field

from mailflow.intake.charset import decode_bytes
from mailflow.intake.headers import decode_header_value, decode_raw_text, unfold

_SECTIONED = re.compile(r"^(?P<name>[^*]+)(?:\*(?P<section>\d+))?(?P<extended>\*)?$")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class ParameterizedValue:
    """A header such as ``attachment; filename="a.pdf"`` split into its value and parameters.

    ``value`` is the leading token in lower case (``"attachment"``, ``"text/plain"``), and
    ``params`` maps lower-case parameter names to decoded values, for example
    ``{"filename": "申込書.xlsx"}``.
    """

    value: str
    params: dict[str, str] = field(default_factory=dict)
    defects: list[str] = field(default_factory=list)


@dataclass
class _Section:
    text: str
    extended: bool


@dataclass
class _RawParams:
    plain: dict[str, str] = field(default_factory=dict)
    sections: dict[str, dict[int, _Section]] = field(default_factory=dict)


def parse_parameterized(raw: str | None) -> ParameterizedValue:
    """Parse a raw (undecoded, possibly folded) Content-Type or Content-Disposition value."""
    if raw is None:
        return ParameterizedValue("")
    defects: list[str] = []
    text = decode_raw_text(unfold(raw), defects)
    head, _, rest = text.partition(";")
    collected = _collect(_split_params(rest, defects), defects)
    params = {}
    for name in {*collected.plain, *collected.sections}:
        if name in collected.sections:
            params[name] = _join_sections(name, collected.sections[name], defects)
        else:
            decoded = decode_header_value(collected.plain[name])
            defects.extend(f"parameter {name}: {defect}" for defect in decoded.defects)
            params[name] = decoded.text
    return ParameterizedValue(head.strip().lower(), params, defects)


def _split_params(text: str, defects: list[str]) -> list[tuple[str, str]]:
    """Split ``a=1; b="x;y"`` into (name, value) pairs, unquoting quoted strings."""
    pairs = []
    index = 0
    size = len(text)
    while index < size:
        end = _find_unquoted(text, ";", index)
        attribute, equals, _ = text[index:end].partition("=")
        start = index + len(attribute) + len(equals)
        index = end + 1
        name = attribute.strip().lower()
        if not name:
            continue
        if not equals:
            defects.append(f"parameter {name!r} has no value; ignored it")
            continue
        value, closed = _read_value(text[start:end])
        if not closed:
            defects.append(f"parameter {name}: closing quote is missing; read to the end")
        pairs.append((name, value))
    return pairs


def _find_unquoted(text: str, char: str, start: int) -> int:
    quoted = False
    index = start
    while index < len(text):
        current = text[index]
        if current == "\\" and quoted:
            index += 2
            continue
        if current == '"':
            quoted = not quoted
        elif current == char and not quoted:
            return index
        index += 1
    return len(text)


def _read_value(text: str) -> tuple[str, bool]:
    """Return the value of one parameter (unquoted) and whether its quotes were closed."""
    stripped = text.strip()
    if not stripped.startswith('"'):
        return stripped, True
    out = []
    index = 1
    while index < len(stripped):
        char = stripped[index]
        if char == "\\" and index + 1 < len(stripped):
            out.append(stripped[index + 1])
            index += 2
            continue
        if char == '"':
            return "".join(out), True
        out.append(char)
        index += 1
    return "".join(out), False


def _collect(pairs: list[tuple[str, str]], defects: list[str]) -> _RawParams:
    collected = _RawParams()
    for attribute, value in pairs:
        match = _SECTIONED.match(attribute)
        if match is None:
            continue
        name = match.group("name").strip()
        extended = match.group("extended") is not None
        section = match.group("section")
        if section is None and not extended:
            if name in collected.plain:
                defects.append(f"parameter {name} is repeated; kept the first")
                continue
            collected.plain[name] = value
            continue
        number = int(section) if section is not None else 0
        sections = collected.sections.setdefault(name, {})
        if number in sections:
            defects.append(f"parameter {name} section {number} is repeated; kept the first")
            continue
        sections[number] = _Section(value, extended)
    return collected


def _join_sections(name: str, sections: dict[int, _Section], defects: list[str]) -> str:
    """Join RFC 2231 sections: percent-decode them together to octets, then decode once.

    Percent-decoding the joined text rather than each section keeps a ``%XX`` escape that a
    sender cut between sections. Sections without ``*`` are literal text.
    """
    numbers = sorted(sections)
    if numbers != list(range(len(numbers))):
        defects.append(f"parameter {name}: sections are not numbered 0..n; joined those present")
    charset = None
    pieces: list[str | bytes] = []
    pending = ""
    for position, number in enumerate(numbers):
        section = sections[number]
        text = section.text
        if position == 0 and section.extended:
            charset, text = _split_charset(name, text, defects)
        if section.extended:
            pending += text
            continue
        if pending:
            pieces.append(urllib.parse.unquote_to_bytes(pending))
            pending = ""
        pieces.append(text)
    if pending:
        pieces.append(urllib.parse.unquote_to_bytes(pending))
    joined = "".join(_decode_piece(name, piece, charset, defects) for piece in pieces)
    # Encoded-word values get the same treatment in decode_header_value: a line break
    # inside a file name is never meant, and must not reach a header we write later.
    return _LINE_BREAK.sub(" ", joined)


def _split_charset(name: str, text: str, defects: list[str]) -> tuple[str | None, str]:
    if text.count("'") < 2:
        defects.append(f"parameter {name}: RFC 2231 value has no charset'language' prefix")
        return None, text
    charset, _language, rest = text.split("'", 2)
    return charset or None, rest


def _decode_piece(name: str, piece: str | bytes, charset: str | None, defects: list[str]) -> str:
    if isinstance(piece, str):
        return piece
    decoded = decode_bytes(piece, charset)
    if decoded.defect:
        defects.append(f"parameter {name}: {decoded.defect}")
    return decoded.text
