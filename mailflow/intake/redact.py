"""Rewrite a raw message for storage: remove whole MIME parts, or mask words in its text.

A message found to carry an individual number is replaced, in the store and in the
mailbox, by a copy without the document (:func:`remove_parts`), and a number or a
password written in the text is masked (:func:`mask_text_parts`). The copy keeps the
headers, the other parts, the boundaries, the preamble and the epilogue byte for byte,
so signatures over other parts and the staff's view of the mail stay the same.

Part ids are IMAP section numbers, as :mod:`mailflow.intake.mime_entities` describes. A
container member id such as ``2/書類.zip/申込書.xlsx`` names the MIME part before the
first ``/``, and that whole part is replaced, because a zip cannot be rewritten without
the member.
"""

from __future__ import annotations

import base64
import email.header
import email.utils
import hashlib
import logging
import re
from dataclasses import dataclass

from mailflow.errors import MailflowError
from mailflow.intake.charset import decode_bytes, html_meta_charset
from mailflow.intake.headers import decode_header_value
from mailflow.intake.masking import Masker, declare_utf8, mask_html
from mailflow.intake.mime_entities import (
    MAX_NESTING,
    Entity,
    decoded_body,
    entity_headers,
    index_entities,
    line_separator,
    non_content_fields,
    outermost,
    parse_entities,
    splice,
)
from mailflow.intake.privacy import mask_individual_numbers
from mailflow.intake.transfer import decode_transfer

logger = logging.getLogger(__name__)

_CONTENT_TYPE_TOKEN = re.compile(r"[^a-z0-9!#$&^_.+\-/]")
_CHARSET_PARAMETER = re.compile(rb"""(;\s*charset\s*=\s*)("[^"]*"|[^;\s]*)""", re.IGNORECASE)
REMOVED_PART_HEADER = "X-Mailflow-Removed-Part"
_NOTICE_DIGEST = re.compile(r"、SHA-256 [0-9a-f]{64}")
TEXT_TYPES = ("text/plain", "text/html")


class RedactError(MailflowError):
    """A part to remove was not found in the message, so nothing was removed."""


def remove_parts(raw: bytes, part_ids: list[str], note: str, record_digest: bool = True) -> bytes:
    """Return a copy of ``raw`` in which each named part is replaced by a text/plain notice.

    ``note`` gives the reason in Japanese, because staff read the copy. Any individual
    number in it is masked. Each notice names the part id, the removed part's
    content type and decoded size, and its SHA-256 unless ``record_digest`` is False
    (a purge keeps no hash of what it deleted). It never names the file. A part that
    is already such a notice stays as it is, except that ``record_digest`` False drops
    the SHA-256 from it, so removing a part twice changes nothing more.
    Raises RedactError, before changing anything, when a part id is not in the message.
    """
    entities = index_entities(parse_entities(raw))
    targets: dict[str, Entity] = {}
    for requested in part_ids:
        entity = _resolve(entities, requested)
        targets[entity.part_id] = entity
    newline = line_separator(raw)
    replacements = []
    for entity in outermost(list(targets.values())):
        if not is_removal_notice(raw, entity):
            replacements.append((entity.start, entity.end, _notice(raw, entity, note, newline, record_digest)))
        elif not record_digest:
            replacement = _masked_text_entity(raw, entity, _without_digest, newline)
            if replacement is not None:
                replacements.append((entity.start, entity.end, replacement))
    if replacements:
        logger.info("message parts removed: parts=%s", ",".join(sorted(targets)))
    return splice(raw, replacements)


def _without_digest(text: str) -> str:
    return _NOTICE_DIGEST.sub("", text)


def is_removal_notice(raw: bytes, entity: Entity) -> bool:
    """Return True when ``entity`` is a notice that :func:`remove_parts` put in place of a part."""
    return entity_headers(raw, entity).get(REMOVED_PART_HEADER) is not None


def _resolve(entities: dict[str, Entity], requested: str) -> Entity:
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


def _notice(raw: bytes, entity: Entity, note: str, newline: bytes, record_digest: bool) -> bytes:
    """Build the replacement bytes for ``entity``: new Content-* headers and the notice as body.

    The body of a message that is not multipart keeps its other header fields (From,
    Subject, …) byte for byte in front of the new ones.
    """
    content = decoded_body(raw, entity)
    content_type = _CONTENT_TYPE_TOKEN.sub("", entity.content_type.lower())[:100]
    digest = f"、SHA-256 {hashlib.sha256(content).hexdigest()}" if record_digest else ""
    text = (
        "この部分は削除されました。\n"
        f"理由: {mask_individual_numbers(note)}\n"
        f"削除した部分: {entity.part_id}（{content_type}、{len(content)} バイト{digest}）\n"
    )
    encoded = base64.encodebytes(text.encode("utf-8")).replace(b"\n", newline)
    headers = [
        b'Content-Type: text/plain; charset="utf-8"',
        b"Content-Transfer-Encoding: base64",
        b"Content-Disposition: inline",
        REMOVED_PART_HEADER.encode("ascii") + b": " + entity.part_id.encode("ascii", "replace"),
    ]
    other_fields = non_content_fields(raw[entity.start:entity.body_start]) if entity.message_root else b""
    return other_fields + newline.join(headers) + newline + newline + encoded.rstrip(newline)


@dataclass(frozen=True)
class MaskedCopy:
    """A copy of a message with its text masked, and where it changed.

    ``parts`` lists IMAP section names: part ids of text parts (``"1"``, ``"2.1"``) and
    ``"HEADER"`` or ``"<id>.HEADER"`` for a Subject field, e.g. ``("HEADER", "1")``.
    """

    raw: bytes
    parts: tuple[str, ...] = ()


def mask_text_parts(raw: bytes, masker: Masker) -> bytes:
    """Return a copy of ``raw`` whose text/plain and text/html parts went through ``masker``.

    Only parts whose text changes are rewritten, as UTF-8 in base64. Everything else
    stays byte for byte. See :func:`mask_message_text` for which parts are covered.
    """
    return mask_message_text(raw, masker).raw


def mask_message_text(raw: bytes, masker: Masker, prefix: str = "", level: int = 0) -> MaskedCopy:
    """Mask the text of ``raw`` and report which parts changed.

    Covered: every text/plain and text/html part in any charset and transfer encoding,
    the free-text header fields (Subject, Comments, Keywords, Content-Description,
    Thread-Topic) and address display names of the message, of every part and of every
    forwarded message, and forwarded
    messages sent in base64 or quoted-printable (decoded, masked and re-encoded in
    base64). HTML keeps its tags (see :func:`mailflow.intake.masking.mask_html`). Text
    in other parts (attachments such as PDFs) is not covered; those are documents, which
    intake removes whole. ``masker`` must be idempotent.
    """
    subject_copy = _mask_subjects(raw, masker, prefix)
    raw = subject_copy.raw
    newline = line_separator(raw)
    replacements: list[tuple[int, int, bytes]] = []
    changed: list[str] = list(subject_copy.parts)
    entities = {(entity.start, entity.end): entity for entity in index_entities(parse_entities(raw)).values()}
    for entity in entities.values():
        if entity.content_type in TEXT_TYPES and not is_removal_notice(raw, entity):
            replacement = _masked_text_entity(raw, entity, masker, newline)
        elif entity.opaque_message and level < MAX_NESTING:
            replacement, inner_parts = _masked_encoded_message(raw, entity, masker, newline, prefix, level)
            changed.extend(inner_parts)
        else:
            replacement = None
        if replacement is not None:
            replacements.append((entity.start, entity.end, replacement))
            changed.append(prefix + entity.part_id)
    if changed and level == 0:
        logger.info("message text masked: parts=%s", ",".join(sorted(changed)))
    return MaskedCopy(splice(raw, replacements), tuple(sorted(changed)))


def _mask_subjects(raw: bytes, masker: Masker, prefix: str) -> MaskedCopy:
    """Mask the free-text header fields of the message, of every MIME part and of each forwarded message."""
    newline = line_separator(raw)
    replacements = []
    changed = []
    for entity in _header_blocks(parse_entities(raw)):
        block = raw[entity.start:entity.body_start]
        new_block = _masked_header_block(block, masker, newline)
        if new_block is not None:
            replacements.append((entity.start, entity.body_start, new_block))
            changed.append(f"{prefix}{entity.part_id}.HEADER" if entity.part_id else f"{prefix}HEADER")
    return MaskedCopy(splice(raw, replacements), tuple(changed))


def _header_blocks(root: Entity) -> list[Entity]:
    """Return every entity with a header block of its own, the message first, in order."""
    found: list[Entity] = []

    def visit(entity: Entity) -> None:
        if entity.body_start > entity.start:
            found.append(entity)
        for child in entity.children:
            visit(child)

    visit(root)
    return found


ADDRESS_FIELDS = (b"from", b"to", b"cc", b"reply-to", b"sender")
# Unstructured fields (RFC 5322 section 3.6.5, RFC 2045 section 8): text a sender writes freely.
TEXT_FIELDS = (b"subject", b"comments", b"keywords", b"content-description", b"thread-topic")


def _masked_header_block(block: bytes, masker: Masker, newline: bytes) -> bytes | None:
    """Return the header block with masked free-text fields and address display names
    re-encoded, or None if nothing changed."""
    fields = _header_fields(block)
    changed = False
    for index, field in enumerate(fields):
        name, _, value = field.partition(b":")
        lowered = name.strip().lower()
        if lowered in TEXT_FIELDS:
            replacement = _masked_text_field(name.strip(), value, masker, newline)
        elif lowered in ADDRESS_FIELDS:
            replacement = _masked_addresses(name.strip(), value, masker, newline)
        else:
            continue
        if replacement is not None:
            fields[index] = replacement
            changed = True
    return b"".join(fields) if changed else None


def _masked_text_field(name: bytes, value: bytes, masker: Masker, newline: bytes) -> bytes | None:
    text = decode_header_value(value.decode("utf-8", "surrogateescape")).text
    masked = masker(text)
    if masked == text:
        return None
    label = name.decode("ascii", "replace")
    encoded = email.header.Header(masked, "utf-8", header_name=label).encode(linesep=newline.decode())
    return name + b": " + encoded.encode("ascii") + newline


def _masked_addresses(name: bytes, value: bytes, masker: Masker, newline: bytes) -> bytes | None:
    """Mask the display names of an address field; the addresses themselves stay as written."""
    text = decode_header_value(value.decode("utf-8", "surrogateescape")).text
    if masker(text) == text:
        return None
    rendered = []
    for display, address in email.utils.getaddresses([text]):
        display = masker(display)
        if display and not display.isascii():
            display = email.header.Header(display, "utf-8").encode()
        rendered.append(email.utils.formataddr((display, masker(address))) if display else masker(address))
    return name + b": " + ", ".join(rendered).encode("ascii", "replace") + newline


def _header_fields(block: bytes) -> list[bytes]:
    """Split a header block into fields, each with its continuation lines and line ends."""
    fields: list[bytes] = []
    for line in block.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def _masked_text_entity(raw: bytes, entity: Entity, masker: Masker, newline: bytes) -> bytes | None:
    """Return ``entity`` re-encoded with masked text, or None when masking changes nothing."""
    headers = entity_headers(raw, entity)
    data = decode_transfer(raw[entity.body_start:entity.end], headers.get("Content-Transfer-Encoding")).data
    label = headers.get_content_charset()
    if label is None and entity.content_type == "text/html":
        label = html_meta_charset(data)
    text = decode_bytes(data, label).text
    if entity.content_type == "text/html":
        masked = mask_html(text, masker)
        if masked != text:
            masked = declare_utf8(masked)
    else:
        masked = masker(text)
    if masked == text:
        return None
    header_block = _utf8_base64_headers(raw[entity.start:entity.body_start], newline)
    return header_block + _base64_lines(masked.encode("utf-8"), newline)


def _masked_encoded_message(raw: bytes, entity: Entity, masker: Masker, newline: bytes, prefix: str,
                            level: int) -> tuple[bytes | None, list[str]]:
    """Mask a forwarded message sent in base64 or quoted-printable; re-encode it in base64."""
    headers = entity_headers(raw, entity)
    inner = decode_transfer(raw[entity.body_start:entity.end], headers.get("Content-Transfer-Encoding")).data
    masked = mask_message_text(inner, masker, prefix + entity.part_id + ".", level + 1)
    if not masked.parts:
        return None, []
    header_block = _fields_without(raw[entity.start:entity.body_start], (b"content-transfer-encoding",))
    header_block += b"Content-Transfer-Encoding: base64" + newline + newline
    return header_block + _base64_lines(masked.raw, newline), list(masked.parts)


def _utf8_base64_headers(block: bytes, newline: bytes) -> bytes:
    """Return the header block with charset=utf-8 and base64 transfer encoding, other fields kept."""
    fields = _fields_without(block, (b"content-transfer-encoding",))
    result = b""
    found = False
    for field in _header_fields(fields):
        if field.split(b":", 1)[0].strip().lower() == b"content-type":
            found = True
            field = _with_utf8_charset(field, newline)
        result += field
    if not found:
        result += b'Content-Type: text/plain; charset="utf-8"' + newline
    return result + b"Content-Transfer-Encoding: base64" + newline + newline


def _with_utf8_charset(field: bytes, newline: bytes) -> bytes:
    replaced, count = _CHARSET_PARAMETER.subn(lambda match: match.group(1) + b'"utf-8"', field, count=1)
    if count:
        return replaced
    return field.rstrip(b"\r\n") + b'; charset="utf-8"' + newline


def _fields_without(block: bytes, names: tuple[bytes, ...]) -> bytes:
    """Return the header fields of ``block`` except those named (lower case), blank line dropped."""
    kept = []
    for field in _header_fields(block):
        if not field.strip():
            continue
        if field.split(b":", 1)[0].strip().lower() in names:
            continue
        kept.append(field)
    return b"".join(kept)


def _base64_lines(data: bytes, newline: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", newline).rstrip(newline)
