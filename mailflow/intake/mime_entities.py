"""Locate the MIME entities of a raw message as byte ranges, without re-serialising anything.

Redaction and masking rewrite single parts in place and leave every other byte as it
was, so they need each entity's exact span rather than a parsed and re-generated tree.
Part ids are IMAP section numbers (RFC 3501, 6.4.5), as the parser assigns them. The
parts of a multipart are 1, 2, …, and the parts of a nested multipart 2 are 2.1, 2.2, ….
The parts of a forwarded message/rfc822 part 3 are 3.1, 3.2, …, or 3.1 alone when its
body is not multipart. The body of a message that is not multipart is 1.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser

_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_ENCODED_MESSAGE_CTES = ("base64", "quoted-printable")
# Entities nested deeper are not split further. The parser stops at 100 multipart
# levels, so every part id it assigns is within reach, and recursion stays bounded.
MAX_NESTING = 200


@dataclass
class Entity:
    """A MIME entity located in the raw bytes: ``raw[start:end]`` with its body at ``body_start``.

    ``message_root`` marks the header block of a message (the top level, or a forwarded
    message/rfc822 body). ``opaque_message`` marks a message/rfc822 part whose body is
    base64 or quoted-printable, so that its parts cannot be located in these bytes.
    """

    part_id: str
    start: int
    body_start: int
    end: int
    content_type: str
    message_root: bool = False
    opaque_message: bool = False
    children: list[Entity] = field(default_factory=list)


def parse_entities(raw: bytes) -> Entity:
    """Return the root entity of ``raw`` with every nested entity located."""
    return _parse_entity(raw, 0, len(raw), "", message_root=True)


def _parse_entity(raw: bytes, start: int, end: int, part_id: str, message_root: bool,
                  default_type: str = "text/plain", level: int = 0) -> Entity:
    body_start = _body_start(raw, start, end)
    headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw[start:body_start])
    if headers.get_content_type() == "text/plain" and headers.get("Content-Type") is None:
        content_type = default_type
    else:
        content_type = headers.get_content_type()
    entity = Entity(part_id, start, body_start, end, content_type, message_root)
    boundary = headers.get_boundary()
    if level >= MAX_NESTING:
        return entity
    if content_type.startswith("multipart/") and boundary:
        child_default = "message/rfc822" if content_type == "multipart/digest" else "text/plain"
        for number, (child_start, child_end) in enumerate(_split_multipart(raw, body_start, end, boundary), 1):
            child_id = f"{part_id}.{number}" if part_id else str(number)
            entity.children.append(
                _parse_entity(raw, child_start, child_end, child_id, False, child_default, level + 1)
            )
    elif content_type == "message/rfc822" and not message_root:
        encoding = str(headers.get("Content-Transfer-Encoding", "")).strip().lower()
        if encoding in _ENCODED_MESSAGE_CTES:
            entity.opaque_message = True
        else:
            entity.children.append(_parse_entity(raw, body_start, end, part_id, True, level=level + 1))
    return entity


def _body_start(raw: bytes, start: int, end: int) -> int:
    """Return the offset just after the blank line that ends the headers (``end`` if none)."""
    if raw.startswith(b"\r\n", start):
        return start + 2
    if raw.startswith(b"\n", start):
        return start + 1
    found = _BLANK_LINE.search(raw, start, end)
    return found.end() if found else end


def _split_multipart(raw: bytes, body_start: int, end: int, boundary: str) -> list[tuple[int, int]]:
    """Return the (start, end) of each body part between the delimiter lines (RFC 2046, 5.1.1).

    The line break before a delimiter belongs to the delimiter, so a part ends before it.
    A missing close delimiter ends the last part at ``end``.
    """
    delimiter = re.compile(rb"^--" + re.escape(boundary.encode("ascii", "replace")) + rb"(--)?[ \t]*\r?$", re.MULTILINE)
    spans: list[tuple[int, int]] = []
    part_start: int | None = None
    for line in delimiter.finditer(raw, body_start, end):
        if part_start is not None:
            part_end = line.start()
            if raw[part_end - 1:part_end] == b"\n":
                part_end -= 2 if raw[part_end - 2:part_end] == b"\r\n" else 1
            spans.append((part_start, max(part_start, part_end)))
        if line.group(1):
            return spans
        part_start = min(line.end() + 1, end)
    if part_start is not None:
        spans.append((part_start, end))
    return spans


def index_entities(root: Entity) -> dict[str, Entity]:
    """Map part ids to entities; the body of a message that is not multipart gets id ``<id>.1`` or ``1``."""
    index: dict[str, Entity] = {}

    def visit(entity: Entity) -> None:
        if entity.part_id and not entity.message_root:
            index[entity.part_id] = entity
        if entity.message_root and not entity.content_type.startswith("multipart/"):
            body_id = f"{entity.part_id}.1" if entity.part_id else "1"
            index[body_id] = Entity(body_id, entity.start, entity.body_start, entity.end,
                                    entity.content_type, message_root=True)
        for child in entity.children:
            visit(child)

    visit(root)
    return index


def message_roots(root: Entity) -> list[Entity]:
    """Return the header blocks of the message and of every forwarded message written inline."""
    roots: list[Entity] = []

    def visit(entity: Entity) -> None:
        if entity.message_root:
            roots.append(entity)
        for child in entity.children:
            visit(child)

    visit(root)
    return roots


def outermost(entities: list[Entity]) -> list[Entity]:
    """Drop entities that lie inside another entity of the list."""
    def inside(inner: Entity, outer: Entity) -> bool:
        larger = outer.end - outer.start > inner.end - inner.start
        return larger and outer.start <= inner.start and inner.end <= outer.end

    return [entity for entity in entities if not any(inside(entity, other) for other in entities)]


def splice(raw: bytes, replacements: list[tuple[int, int, bytes]]) -> bytes:
    """Return ``raw`` with each ``(start, end, new_bytes)`` range replaced; ranges must not overlap."""
    result = raw
    for start, end, replacement in sorted(replacements, reverse=True):
        result = result[:start] + replacement + result[end:]
    return result


def line_separator(raw: bytes) -> bytes:
    """Return the line break the message uses, judged by its first line."""
    return b"\r\n" if b"\r\n" in raw[:raw.find(b"\n") + 1] else b"\n"


def non_content_fields(header_block: bytes) -> bytes:
    """Return the header fields other than Content-* as raw bytes, continuation lines included."""
    kept: list[bytes] = []
    keep = False
    for line in header_block.splitlines(keepends=True):
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t"):
            if keep:
                kept.append(line)
            continue
        keep = not line.lower().startswith(b"content-")
        if keep:
            kept.append(line)
    return b"".join(kept)


def entity_headers(raw: bytes, entity: Entity) -> email.message.Message:
    """Return the entity's header fields, parsed without decoding (compat32)."""
    return BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw[entity.start:entity.body_start])


def decoded_body(raw: bytes, entity: Entity) -> bytes:
    """Return the entity's body with its transfer encoding undone; containers' bodies as they are."""
    if entity.content_type.startswith(("multipart/", "message/")):
        # Parsing these could recurse once per nesting level of a hostile message.
        return raw[entity.body_start:entity.end]
    part = email.message_from_bytes(raw[entity.start:entity.end], policy=email.policy.compat32)
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else raw[entity.body_start:entity.end]
