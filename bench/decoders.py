"""Three ways to decode a raw mail into the same fields, and a check of those fields against the fixtures.

Each decoder returns a :class:`Decoded`: subject, sender, Message-ID, date, body text and
the top-level files with their decoded bytes. The work each one does is what a caller
needs to read those fields, so the time compares like with like. Line ends are
normalised to ``\\n`` for every decoder, because the expected values use ``\\n`` and a
caller fixes that in one line.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import mailparser

from mailflow.intake.parse import parse_message

from harness import FIXTURES

SAMPLE_MAILBOX = FIXTURES / "sample" / "mailbox"
CASES = FIXTURES / "cases"


@dataclass
class Decoded:
    """The fields a decoder produced for one mail; ``files`` contains ``(filename, sha256)`` pairs."""

    subject: str | None = None
    from_name: str | None = None
    from_address: str | None = None
    message_id: str | None = None
    date: dt.datetime | None = None
    body_text: str = ""
    files: list[tuple[str | None, str]] = field(default_factory=list)
    forwarded_files: list[tuple[str | None, str]] = field(default_factory=list)


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_mailflow(raw: bytes) -> Decoded:
    message = parse_message(raw)
    sender = message.from_
    return Decoded(
        subject=message.subject,
        from_name=sender.name if sender else None,
        from_address=sender.address if sender else None,
        message_id=message.message_id,
        date=message.date,
        body_text=_lf(message.body_text),
        files=[(item.filename, item.sha256) for item in message.attachments],
        forwarded_files=[(child.filename, child.sha256) for item in message.attachments
                         if item.content_type == "message/rfc822" for child in item.children],
    )


def _stdlib_leaves(part: email.message.EmailMessage):
    """Yield the leaf parts, treating a message/rfc822 part as one leaf."""
    if part.is_multipart() and part.get_content_type() != "message/rfc822":
        for child in part.iter_parts():
            yield from _stdlib_leaves(child)
    else:
        yield part


def _stdlib_is_file(part: email.message.EmailMessage) -> bool:
    if part.get_content_type() == "message/rfc822":
        return part.get_content_disposition() == "attachment"
    if part.get_filename() is not None:
        return True
    return part.get_content_maintype() not in ("text", "message")


def _stdlib_payload(part: email.message.EmailMessage) -> bytes:
    if part.get_content_type() == "message/rfc822":
        return part.get_payload(0).as_bytes()
    return part.get_payload(decode=True) or b""


def decode_stdlib(raw: bytes) -> Decoded:
    """Decode with ``email`` and ``policy.default``, reading body text with ``get_content()``."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    decoded = Decoded(subject=str(message["subject"]) if message["subject"] is not None else None)
    sender = message["from"]
    if sender is not None and sender.addresses:
        decoded.from_name = sender.addresses[0].display_name
        decoded.from_address = sender.addresses[0].addr_spec
    decoded.message_id = str(message["message-id"]).strip() if message["message-id"] is not None else None
    date = message["date"]
    decoded.date = date.datetime if date is not None else None
    texts = []
    for part in _stdlib_leaves(message):
        if _stdlib_is_file(part):
            decoded.files.append((part.get_filename(), _sha256(_stdlib_payload(part))))
            if part.get_content_type() == "message/rfc822":
                inner = part.get_payload(0)
                decoded.forwarded_files.extend(
                    (leaf.get_filename(), _sha256(_stdlib_payload(leaf)))
                    for leaf in _stdlib_leaves(inner) if _stdlib_is_file(leaf))
        elif part.get_content_type() == "text/plain":
            texts.append(part.get_content())
    decoded.body_text = _lf("\n".join(texts))
    return decoded


def _mailparser_bytes(attachment: dict) -> bytes:
    payload = attachment["payload"]
    if attachment.get("binary"):
        return base64.b64decode(payload)
    return payload.encode("utf-8") if isinstance(payload, str) else payload


def decode_mailparser(raw: bytes) -> Decoded:
    """Decode with mail-parser's ``parse_from_bytes``, which decodes bodies and attachments eagerly."""
    message = mailparser.parse_from_bytes(raw)
    senders = message.from_ or []
    name, address = senders[0] if senders else (None, None)
    date = message.date
    if isinstance(date, dt.datetime) and date.tzinfo is None:
        date = date.replace(tzinfo=dt.timezone.utc)  # mail-parser converts dates to UTC
    files = [(item.get("filename"), _sha256(_mailparser_bytes(item))) for item in message.attachments]
    return Decoded(
        subject=message.subject,
        from_name=name,
        from_address=address,
        message_id=message.message_id,
        date=date if isinstance(date, dt.datetime) else None,
        body_text=_lf("\n".join(message.text_plain)),
        files=files,
        forwarded_files=files,  # mail-parser lists the files of a forwarded message with the others
    )


DECODERS: dict[str, Callable[[bytes], Decoded]] = {
    "mailflow parse_message": decode_mailflow,
    "stdlib email, policy.default": decode_stdlib,
    "mail-parser": decode_mailparser,
}
BASELINE = "mailflow parse_message"


# Expected values ----------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusMail:
    """One .eml of the fixtures and the decoding-level values its JSON expects."""

    name: str
    raw: bytes
    expected: dict


def sample_corpus() -> list[CorpusMail]:
    mails = []
    for path in sorted(SAMPLE_MAILBOX.glob("*.eml")):
        spec = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        expected = {
            "subject": spec["subject"],
            "from_display_name": spec["from"]["name"],
            "from_address": spec["from"]["email"],
            "message_id": spec["message_id"],
            "date": spec["date"],
            "attachments": spec["attachments"],
        }
        mails.append(CorpusMail(f"sample/{path.stem}", path.read_bytes(), expected))
    return mails


def case_corpus() -> list[CorpusMail]:
    mails = []
    for path in sorted(CASES.glob("case-*/*.eml")):
        spec = json.loads((path.parent / "expected.json").read_text(encoding="utf-8"))["expected"]
        expected = spec.get(path.name, spec)
        mails.append(CorpusMail(f"{path.parent.name}/{path.name}", path.read_bytes(), expected))
    return mails


def field_checks(decoded: Decoded, expected: dict) -> dict[str, bool]:
    """Compare ``decoded`` with every decoding-level value in ``expected``; returns field → correct.

    ``body readable`` is checked on every mail, because the sample JSON files give no
    body text: it fails when the text still contains ISO-2022-JP escape sequences or
    U+FFFD, the two traces of a body decoded with the wrong codec.
    """
    checks: dict[str, bool] = {"body readable": not any(trace in decoded.body_text for trace in ("\x1b", "\ufffd"))}
    if "subject" in expected:
        checks["subject"] = decoded.subject == expected["subject"]
    if "from_display_name" in expected:
        checks["from name"] = decoded.from_name == expected["from_display_name"]
    if "from_address" in expected:
        checks["from address"] = decoded.from_address == expected["from_address"]
    if "message_id" in expected:
        checks["message-id"] = decoded.message_id == expected["message_id"]
    if "date" in expected:
        checks["date"] = decoded.date is not None and decoded.date == dt.datetime.fromisoformat(expected["date"])
    if "body_exact" in expected:
        checks["body text"] = decoded.body_text == expected["body_exact"]
    if "body_contains" in expected:
        checks["body fragments"] = all(fragment in decoded.body_text for fragment in expected["body_contains"])
    if "attachments" in expected:
        checks["file names"] = [name for name, _ in decoded.files] == [a["filename"] for a in expected["attachments"]]
        checks["file bytes"] = [digest for _, digest in decoded.files] == [a["sha256"] for a in expected["attachments"]]
    if "attachments_nested" in expected:
        nested = [(a["filename"], a["sha256"]) for a in expected["attachments_nested"]]
        checks["forwarded files"] = all(item in decoded.forwarded_files for item in nested)
    return checks


def expected_fields(expected: dict) -> list[str]:
    """Return the names of the checks ``field_checks`` makes for ``expected``, all failed for a crash."""
    return list(field_checks(Decoded(), expected))
