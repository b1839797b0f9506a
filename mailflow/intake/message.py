"""Typed results of parsing one mail: the message, its parts and what went wrong reading them.

These dataclasses are the contract between the decoding layer (``parse.py``) and every later
stage. Text fields hold the text as the sender's client meant it (already decoded);
``payload`` holds the decoded bytes of a part.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field


@dataclass
class Address:
    """One mailbox from an address header, for example ``Address("山田 太郎", "taro@example.jp")``."""

    name: str
    address: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "address": self.address}


@dataclass
class Attachment:
    """A file carried by a message, or by a container inside one.

    ``part_id`` names the MIME part ("2", "2.1", …) or the container member
    ("3/申込書.xlsx") so that defects and removals can point at it.
    ``sniffed_type`` comes from the bytes, never from the declared type or name; see
    ``mailflow.intake.sniff`` for its vocabulary (``xlsx``, ``pdf``, ``jpeg``, ``zip``, …).
    ``children`` holds the members of a container (zip, TNEF ``winmail.dat``) and the
    attachments of a forwarded ``message/rfc822`` part; ``forwarded`` holds that forwarded
    message itself. ``over_limit`` names the limit (a field of
    ``mailflow.intake.limits.Limits``) that the file is over; such a file is not read.
    """

    filename: str | None
    content_type: str
    disposition: str | None
    payload: bytes
    part_id: str
    sniffed_type: str = "unknown"
    encrypted: bool = False
    kind: str | None = None
    kind_reasons: list[str] = field(default_factory=list)
    children: list[Attachment] = field(default_factory=list)
    forwarded: Message | None = None
    defects: list[str] = field(default_factory=list)
    over_limit: str | None = None

    @property
    def size(self) -> int:
        return len(self.payload)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()

    def walk(self):
        """Yield this attachment and every attachment nested in it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Message:
    """One parsed mail.

    ``headers`` keeps every header as decoded text in order, with repeated names repeated;
    ``raw_headers`` keeps the undecoded values (needed for Authentication-Results and
    Received, whose order and bytes matter). ``body_text`` joins every text/plain body
    part in order (iPhone Mail splits the text around an inline photo); ``body_html`` joins
    the text/html parts. ``defects`` lists, in words, what could not be decoded and where.
    ``report_parts`` holds the machine-readable parts of a multipart/report (RFC 3464
    delivery status, RFC 8098 disposition notification, returned headers or message):
    they are kept apart from ``attachments`` so that a bounce is never read as an
    application.
    """

    subject: str = ""
    from_: Address | None = None
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    date: dt.datetime | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    raw_headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "text/plain"
    body_text: str = ""
    body_html: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    report_parts: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """Return the first decoded value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        """Return every decoded value of header ``name``, top to bottom."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def raw_header_all(self, name: str) -> list[str]:
        """Return every undecoded value of header ``name``, top to bottom."""
        wanted = name.lower()
        return [value for key, value in self.raw_headers if key.lower() == wanted]

    def all_attachments(self):
        """Yield every attachment, nested ones included, depth first."""
        for attachment in self.attachments:
            yield from attachment.walk()
