"""Replace MIME parts of a raw message by a short notice, leaving every other byte as it was.

A message found to carry an individual number is replaced, in the store and in the
mailbox, by a copy without the document. The copy keeps the headers, the other parts,
the boundaries, the preamble and the epilogue byte for byte, so signatures over other
parts and the staff's view of the mail stay the same.

Part ids are IMAP section numbers (RFC 3501, 6.4.5), as the parser assigns them. The
parts of a multipart are 1, 2, …, and the parts of a nested multipart 2 are 2.1, 2.2, ….
The parts of a forwarded message/rfc822 part 3 are 3.1, 3.2, …, or 3.1 alone when its
body is not multipart. The body of a message that is not multipart is 1. A container member id such as
``2/書類.zip/申込書.xlsx`` names the MIME part before the first ``/``, and that whole part
is replaced, because a zip cannot be rewritten without the member.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import logging
import re
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser

from mailflow.errors import MailflowError
from mailflow.intake.privacy import mask_individual_numbers

logger = logging.getLogger(__name__)

_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_CONTENT_TYPE_TOKEN = re.compile(r"[^a-z0-9!#$&^_.+\-/]")
_ENCODED_MESSAGE_CTES = ("base64", "quoted-printable")
# Entities nested deeper are not split further. The parser stops at 100 multipart
# levels, so every part id it assigns is within reach, and recursion stays bounded.
MAX_NESTING = 200


class RedactError(MailflowError):
    """A part to remove was not found in the message, so nothing was removed."""


@dataclass
class _Entity:
    """A MIME entity located in the raw bytes: ``raw[start:end]`` with its body at ``body_start``."""

    part_id: str
    start: int
    body_start: int
    end: int
    content_type: str
    message_root: bool = False
    opaque_message: bool = False
    children: list[_Entity] = field(default_factory=list)


def remove_parts(raw: bytes, part_ids: list[str], note: str) -> bytes:
    """Return a copy of ``raw`` in which each named part is replaced by a text/plain notice.

    ``note`` gives the reason in Japanese, because staff read the copy. Any individual
    number in it is masked. Each notice names the part id, the removed part's
    content type, its decoded size and SHA-256, never its file name. Raises RedactError,
    before changing anything, when a part id is not in the message.
    """
    entities = _index(_parse_entity(raw, 0, len(raw), "", message_root=True))
    targets: dict[str, _Entity] = {}
    for requested in part_ids:
        entity = _resolve(entities, requested)
        targets[entity.part_id] = entity
    newline = b"\r\n" if b"\r\n" in raw[:raw.find(b"\n") + 1] else b"\n"
    replacements = []
    for entity in _outermost(list(targets.values())):
        replacements.append((entity.start, entity.end, _notice(raw, entity, note, newline)))
    result = raw
    for start, end, replacement in sorted(replacements, reverse=True):
        result = result[:start] + replacement + result[end:]
    logger.info("message parts removed: parts=%s", ",".join(sorted(targets)))
    return result


def _parse_entity(raw: bytes, start: int, end: int, part_id: str, message_root: bool,
                  default_type: str = "text/plain", level: int = 0) -> _Entity:
    body_start = _body_start(raw, start, end)
    headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw[start:body_start])
    if headers.get_content_type() == "text/plain" and headers.get("Content-Type") is None:
        content_type = default_type
    else:
        content_type = headers.get_content_type()
    entity = _Entity(part_id, start, body_start, end, content_type, message_root)
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
    delimiter = re.compile(rb"^--" + re.escape(boundary.encode("ascii", "replace")) + rb"(--)?[ \t]*\r?$", re.M)
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


def _index(root: _Entity) -> dict[str, _Entity]:
    """Map part ids to entities; the body of a message that is not multipart gets id ``<id>.1`` or ``1``."""
    index: dict[str, _Entity] = {}

    def visit(entity: _Entity) -> None:
        if entity.part_id and not entity.message_root:
            index[entity.part_id] = entity
        if entity.message_root and not entity.content_type.startswith("multipart/"):
            body_id = f"{entity.part_id}.1" if entity.part_id else "1"
            index[body_id] = _Entity(body_id, entity.start, entity.body_start, entity.end,
                                     entity.content_type, message_root=True)
        for child in entity.children:
            visit(child)

    visit(root)
    return index


def _resolve(entities: dict[str, _Entity], requested: str) -> _Entity:
    part_id = requested.split("/", 1)[0].strip()
    if part_id in entities:
        return entities[part_id]
    # A part inside a base64-encoded forwarded message cannot be cut out alone: the
    # whole forwarded message goes, which removes more than asked and never less.
    pieces = part_id.split(".")
    for length in range(len(pieces) - 1, 0, -1):
        enclosing = entities.get(".".join(pieces[:length]))
        if enclosing is not None and enclosing.opaque_message:
            return enclosing
    raise RedactError(
        f"part {part_id!r} was not found in the message, so nothing was removed. "
        "Use the part_id of an attachment parsed from these same bytes",
        part_id=part_id, known=sorted(entities),
    )


def _outermost(entities: list[_Entity]) -> list[_Entity]:
    """Drop entities that lie inside another entity being replaced."""
    def inside(inner: _Entity, outer: _Entity) -> bool:
        larger = outer.end - outer.start > inner.end - inner.start
        return larger and outer.start <= inner.start and inner.end <= outer.end

    return [entity for entity in entities if not any(inside(entity, other) for other in entities)]


def _notice(raw: bytes, entity: _Entity, note: str, newline: bytes) -> bytes:
    """Build the replacement bytes for ``entity``: new Content-* headers and the notice as body.

    The body of a message that is not multipart keeps its other header fields (From,
    Subject, …) byte for byte in front of the new ones.
    """
    content = _decoded_body(raw, entity)
    content_type = _CONTENT_TYPE_TOKEN.sub("", entity.content_type.lower())[:100]
    text = (
        "この部分は削除されました。\n"
        f"理由: {mask_individual_numbers(note)}\n"
        f"削除した部分: {entity.part_id}（{content_type}、{len(content)} バイト、SHA-256 {hashlib.sha256(content).hexdigest()}）\n"
    )
    encoded = base64.encodebytes(text.encode("utf-8")).replace(b"\n", newline)
    headers = [
        b'Content-Type: text/plain; charset="utf-8"',
        b"Content-Transfer-Encoding: base64",
        b"Content-Disposition: inline",
        b"X-Mailflow-Removed-Part: " + entity.part_id.encode("ascii", "replace"),
    ]
    other_fields = _non_content_fields(raw[entity.start:entity.body_start]) if entity.message_root else b""
    return other_fields + newline.join(headers) + newline + newline + encoded.rstrip(newline)


def _non_content_fields(header_block: bytes) -> bytes:
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


def _decoded_body(raw: bytes, entity: _Entity) -> bytes:
    """Return the entity's body with its transfer encoding undone; containers' bodies as they are."""
    if entity.content_type.startswith(("multipart/", "message/")):
        # Parsing these could recurse once per nesting level of a hostile message.
        return raw[entity.body_start:entity.end]
    part = email.message_from_bytes(raw[entity.start:entity.end], policy=email.policy.compat32)
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else raw[entity.body_start:entity.end]
