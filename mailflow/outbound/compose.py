"""Build outgoing messages: UTF-8, base64 bodies, encoded subjects and file names.

Every message we send carries ``Auto-Submitted`` (``auto-replied`` on answers to a
person's mail, ``auto-generated`` on mail the daemon starts itself, RFC 3834),
``X-Auto-Response-Suppress: All`` (asks Exchange not to send out-of-office replies) and
our own marker header, so that intake recognises it if it ever comes back.
"""

from __future__ import annotations

import base64
import email.policy
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from email import encoders
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr

from mailflow import clock
from mailflow.intake.autoreply import OWN_MARKER_HEADER

# compat32 with CRLF line ends: RFC 5322 lines stay under 998 octets, and Header folds at 76.
POLICY = email.policy.compat32.clone(linesep="\r\n")

AUTO_REPLIED = "auto-replied"
AUTO_GENERATED = "auto-generated"


@dataclass
class OutgoingAttachment:
    """A file to attach: ``filename`` as the recipient should see it."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass
class Draft:
    """Everything needed to build one message; ``key`` is the outbox key it belongs to."""

    key: str
    to: list[tuple[str, str]]
    subject: str
    body: str
    auto_submitted: str = AUTO_GENERATED
    reply_to: list[tuple[str, str]] = field(default_factory=list)
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    attachments: list[OutgoingAttachment] = field(default_factory=list)
    extra_headers: dict[str, str] = field(default_factory=dict)


def make_message_id(key: str, domain: str) -> str:
    """Return a Message-ID derived from the outbox key, readable in a bounce report.

    Example: ``make_message_id("receipt:12", "bureau.example.jp")`` →
    ``"<outbox.receipt.12.3f9a1c@bureau.example.jp>"``.
    """
    readable = re.sub(r"[^A-Za-z0-9.-]+", ".", key).strip(".")[:120]
    digest = hashlib.sha256(key.encode("utf-8") + secrets.token_bytes(8)).hexdigest()[:6]
    return f"<outbox.{readable}.{digest}@{domain}>"


def encoded_word(text: str) -> str:
    """Return ``text`` as one RFC 2047 base64 word (for ``name=`` in Content-Type)."""
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def _format_address(name: str, addr: str) -> str:
    if not name:
        return addr
    if name.isascii():
        return formataddr((name, addr))
    return f"{Header(name, 'utf-8', header_name='From').encode()} <{addr}>"


def build_message(draft: Draft, sender: tuple[str, str], origin: str, message_id: str) -> Message:
    """Build the message for ``draft`` sent by ``sender`` (name, address).

    ``origin`` goes into our marker header (an instance name, never personal data).
    The compat32 MIME classes are used because they write header parameters exactly as
    given; the default policy re-encodes an encoded-word ``name=`` as RFC 2231.
    """
    body = MIMEText(_normalise_newlines(draft.body), "plain", "utf-8")
    if draft.attachments:
        message: Message = MIMEMultipart("mixed")
        message.attach(body)
        for attachment in draft.attachments:
            message.attach(_attachment_part(attachment))
    else:
        message = body

    message["From"] = _format_address(*sender)
    message["To"] = ", ".join(_format_address(name, addr) for name, addr in draft.to)
    if draft.reply_to:
        message["Reply-To"] = ", ".join(_format_address(name, addr) for name, addr in draft.reply_to)
    message["Subject"] = draft.subject if draft.subject.isascii() else Header(draft.subject, "utf-8", header_name="Subject")
    message["Date"] = format_datetime(clock.now().astimezone(clock.TOKYO))
    message["Message-ID"] = message_id
    if draft.in_reply_to:
        message["In-Reply-To"] = draft.in_reply_to
    references = list(draft.references)
    if draft.in_reply_to and draft.in_reply_to not in references:
        references.append(draft.in_reply_to)
    if references:
        message["References"] = " ".join(references)
    message["Auto-Submitted"] = draft.auto_submitted
    message["X-Auto-Response-Suppress"] = "All"
    message[OWN_MARKER_HEADER] = origin
    for name, value in draft.extra_headers.items():
        message[name] = value
    return message


def _attachment_part(attachment: OutgoingAttachment) -> MIMEBase:
    maintype, _, subtype = attachment.content_type.partition("/")
    part = MIMEBase(maintype or "application", subtype or "octet-stream")
    part.set_payload(attachment.content)
    encoders.encode_base64(part)
    name = attachment.filename
    if name.isascii():
        part.set_param("name", name)
        part.add_header("Content-Disposition", "attachment", filename=name)
    else:
        # Older Outlook and Becky! read only name= in Content-Type, as an encoded-word;
        # RFC 2231 filename* in Content-Disposition serves every other reader.
        part.set_param("name", encoded_word(name))
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name))
    return part


def _normalise_newlines(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def to_bytes(message: Message) -> bytes:
    """Serialise with CRLF line ends, as SMTP sends it."""
    return message.as_bytes(policy=POLICY)
