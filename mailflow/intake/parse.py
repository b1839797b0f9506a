"""Parse one raw mail into a :class:`~mailflow.intake.message.Message`, decoded as its sender meant.

Which library does what:

- The stdlib ``email`` package (``BytesParser`` with ``policy=compat32``) splits the MIME
  tree and keeps every header value undecoded, 8-bit bytes included (as surrogate
  escapes), so our charset layer gets the original bytes. Its ``policy=default`` is not
  used, because it decodes words with Python's codecs (U+FFFD for ①, ㈱, 髙) and puts a
  stray space between adjacent encoded-words in display names.
- mail-parser supplies what it does right: the structure of address lists
  (``get_addresses``), Date validation (``parse_mail_date``), lenient base64
  (``decode_base64_payload``) and a safe fallback for flattening a part. Its own body and
  header decoding is not used, because mail-parser 4.8.0 returns 7-bit ISO-2022-JP bodies
  undecoded and decodes header words with errors ignored.
- Our layer decodes everything else: ``charset`` and ``jis`` turn bytes into text
  (cp932 for the Shift_JIS family, ISO-2022-JP and EUC-JP through Shift_JIS),
  ``headers`` decodes RFC 2047 words, ``mime_params`` RFC 2231 parameters, ``transfer``
  the transfer encodings, ``parts`` walks the tree and ``sniff`` types attachments.

:func:`parse_message` never raises: what cannot be decoded becomes a defect naming the
header or part, e.g. ``"part 2: base64 padding was missing; decoded leniently"``.
"""

from __future__ import annotations

import hashlib
import logging
from email import policy
from email.parser import BytesParser

from mailflow.intake import containers
from mailflow.intake.headers import (
    decode_header_value,
    parse_addresses,
    parse_date,
    parse_message_ids,
    wire_bytes,
)
from mailflow.intake.message import Attachment, Message
from mailflow.intake.parts import PartWalker

logger = logging.getLogger(__name__)

_ADDRESS_FIELDS = {"to": "to", "cc": "cc", "reply-to": "reply_to"}


def parse_message(raw: bytes) -> Message:
    """Parse raw RFC 5322 bytes into a Message with every header, body and file name decoded.

    Attachments are typed by ``sniff`` and passed to ``containers.expand``, which also
    opens the attachments of forwarded messages. Never raises: problems are listed in
    ``Message.defects`` and, for the part concerned, in ``Attachment.defects``.
    """
    data = b""
    try:
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else bytes(raw)
        message = _parse(data, depth=0, prefix="")
    except Exception as error:  # the last guard, because intake must go on with the next mail
        logger.warning(
            "message sha256=%s could not be parsed: %s",
            hashlib.sha256(data).hexdigest()[:12],
            type(error).__name__,
            exc_info=True,
        )
        defect = f"message could not be parsed ({type(error).__name__}); only the raw bytes are usable"
        return Message(defects=[defect])
    for attachment in message.attachments:
        _expand(attachment, message)
    logger.debug(
        "parsed message sha256=%s: %d attachments, %d report parts, %d defects",
        hashlib.sha256(data).hexdigest()[:12],
        len(message.attachments),
        len(message.report_parts),
        len(message.defects),
    )
    return message


def _expand(attachment: Attachment, message: Message) -> None:
    """Open a container attachment, recording a defect if the container code fails."""
    try:
        containers.expand(attachment)
    except Exception as error:  # expand promises not to raise, and parse_message must not
        defect = f"part {attachment.part_id}: container could not be opened ({type(error).__name__})"
        attachment.defects.append(defect)
        message.defects.append(defect)
        logger.warning(
            "expand failed on part %s: %s", attachment.part_id, type(error).__name__, exc_info=True
        )


def _parse(raw: bytes, depth: int, prefix: str) -> Message:
    """Parse ``raw`` as a message nested ``depth`` forwards deep, its part ids under ``prefix``."""
    message = Message()
    if not raw.strip():
        message.defects.append("message is empty")
    try:
        tree = BytesParser(policy=policy.compat32).parsebytes(raw)
        walk_body = True
    except RecursionError:
        # The stdlib parser recurses once per nesting level, and a hostile message can nest
        # thousands of multiparts. The headers can still be read.
        tree = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
        walk_body = False
        message.defects.append("MIME structure is nested too deeply to parse; read the headers only")
    _read_headers(tree, message)
    message.content_type = tree.get_content_type()
    if walk_body:
        walker = PartWalker(message, depth, _parse, linesep=_line_separator(raw))
        walker.walk(tree, prefix)
    return message


def _read_headers(tree, message: Message) -> None:
    """Fill the header fields of ``message`` from the undecoded values in ``tree``."""
    for name, value in tree.raw_items():
        message.raw_headers.append((name, wire_bytes(value).decode("latin-1")))
        decoded = decode_header_value(value)
        message.headers.append((name, decoded.text))
        message.defects.extend(f"header {name}: {defect}" for defect in decoded.defects)
    values = {}
    for name, value in tree.raw_items():
        values.setdefault(name.lower(), []).append(value)
    message.subject = message.header("subject") or ""
    _read_addresses(values, message)
    _read_date(values, message)
    _read_ids(values, message)


def _read_addresses(values: dict[str, list[str]], message: Message) -> None:
    senders = _addresses_of(values, "from", message)
    message.from_ = senders[0] if senders else None
    for header, attribute in _ADDRESS_FIELDS.items():
        setattr(message, attribute, _addresses_of(values, header, message))


def _addresses_of(values: dict[str, list[str]], header: str, message: Message):
    found = []
    for value in values.get(header, []):
        addresses, defects = parse_addresses(value)
        found.extend(addresses)
        message.defects.extend(f"header {header}: {defect}" for defect in defects)
    return found


def _read_date(values: dict[str, list[str]], message: Message) -> None:
    dates = values.get("date")
    if not dates:
        message.defects.append("header date: missing")
        return
    message.date, defects = parse_date(dates[0])
    message.defects.extend(f"header date: {defect}" for defect in defects)


def _read_ids(values: dict[str, list[str]], message: Message) -> None:
    for header in ("message-id", "in-reply-to", "references"):
        ids = []
        for value in values.get(header, []):
            found, defects = parse_message_ids(value)
            ids.extend(found)
            message.defects.extend(f"header {header}: {defect}" for defect in defects)
        if header == "message-id":
            message.message_id = ids[0] if ids else None
        elif header == "in-reply-to":
            message.in_reply_to = ids[0] if ids else None
        else:
            message.references = ids


def _line_separator(raw: bytes) -> str:
    """Return the line end the message uses, so flattened parts keep it."""
    return "\r\n" if raw.count(b"\r\n") * 2 > raw.count(b"\n") else "\n"
