"""Read delivery failure reports: RFC 3464 DSNs and the plain-text bounces of carrier MTAs.

A DSN is ``multipart/report; report-type=delivery-status`` whose ``message/delivery-status``
part holds one block of per-message fields (Reporting-MTA, …) and one block per recipient
(Final-Recipient, Action, Status, Diagnostic-Code, …). Japanese mobile carriers also send
ISO-2022-JP text bounces from MAILER-DAEMON or postmaster, with the original headers
quoted and no multipart/report. For those, the failed address and any status code are
read from the text.
"""

from __future__ import annotations

import email.message
import email.policy
import logging
import re
import textwrap
from dataclasses import dataclass
from email.parser import BytesHeaderParser, HeaderParser
from email.utils import collapse_rfc2231_value, getaddresses

from mailflow.intake.message import Attachment, Message
from mailflow.intake.quoting import normalize_text, read_patterns
from mailflow.rules import RuleFile

logger = logging.getLogger(__name__)

_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# RFC 3463 enhanced status code: class 2, 4 or 5, then subject and detail.
_STATUS_CODE = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
# An SMTP reply line: a 4xx/5xx code, an optional enhanced status code, then text.
_SMTP_REPLY = re.compile(r"(?<![\d.-])[45]\d\d(?:[ -][245]\.\d{1,3}\.\d{1,3})?\s+[A-Za-z<].*$")
# The address type or diagnostic type in front of a DSN field value ("rfc822;", "smtp;").
_TYPE_PREFIX = re.compile(r"^\s*[A-Za-z0-9-]+\s*;\s*")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")

_FAILURE_ACTIONS = ("failed", "delayed")


@dataclass
class BounceRules:
    """The ``bounce`` section of ``rules/messages.toml``."""

    report_types: list[str]
    status_part_types: list[str]
    returned_part_types: list[str]
    sender_local_parts: list[str]
    sender_names: list[str]
    subject_patterns: list[re.Pattern[str]]
    text_patterns: list[re.Pattern[str]]
    original_markers: list[re.Pattern[str]]
    delay_patterns: list[re.Pattern[str]]


@dataclass
class FailedRecipient:
    """One recipient that a report lists as not delivered, or not yet.

    ``status`` is the RFC 3463 code ("5.1.1"), ``action`` the DSN Action ("failed" or
    "delayed"), ``diagnostic`` the remote server's reply without the diagnostic type and
    without the recipient's own address (it is in ``address``), for example
    ``"550 5.1.1 Recipient address rejected: User unknown"``.
    """

    address: str
    status: str | None
    action: str | None
    diagnostic: str | None
    original_recipient: str | None = None
    remote_mta: str | None = None

    @property
    def permanent(self) -> bool:
        """Tell whether the address itself failed: a 5.x.x status, or Action failed without one.

        ``Action: failed`` with a 4.x.x status means the server gave up retrying a
        temporary fault, which is no evidence that the address is bad.
        """
        if self.status:
            return self.status.startswith("5")
        return self.action == "failed"


@dataclass
class BounceReport:
    """A delivery failure report, for example ``BounceReport(failed_recipients=[
    FailedRecipient("a@example.jp", "5.1.1", "failed", "550 5.1.1 User unknown")],
    reporting_mta="mail.example.jp", original_message_id="<id@example.jp>",
    original_subject="ご案内", returned_part="text/rfc822-headers")``.

    ``returned_part`` is the content type of the part that returns the original message
    (message/rfc822, text/rfc822-headers), or None when the original is only quoted in the
    text of a plain bounce. ``source`` is ``"dsn"`` or ``"text"``.
    """

    failed_recipients: list[FailedRecipient]
    reporting_mta: str | None
    original_message_id: str | None
    original_subject: str | None
    returned_part: str | None
    source: str = "dsn"

    @property
    def hard_failure(self) -> bool:
        """Tell whether any recipient failed permanently, so its address should be marked bad."""
        return any(recipient.permanent for recipient in self.failed_recipients)

    @property
    def delayed_only(self) -> bool:
        """Tell whether the report only announces delays (4.x.x, Action: delayed)."""
        return bool(self.failed_recipients) and not self.hard_failure


def read_bounce_rules(rule_file: RuleFile) -> BounceRules:
    """Read the ``bounce`` section; problems are recorded on ``rule_file``."""
    return BounceRules(
        report_types=_lowered(rule_file.string_list("bounce.report_types")),
        status_part_types=_lowered(rule_file.string_list("bounce.status_part_types")),
        returned_part_types=_lowered(rule_file.string_list("bounce.returned_part_types")),
        sender_local_parts=_lowered(rule_file.string_list("bounce.sender_local_parts")),
        sender_names=_lowered(rule_file.string_list("bounce.sender_names")),
        subject_patterns=read_patterns(rule_file, "bounce.subject_patterns"),
        text_patterns=read_patterns(rule_file, "bounce.text_patterns"),
        original_markers=read_patterns(rule_file, "bounce.original_markers"),
        delay_patterns=read_patterns(rule_file, "bounce.delay_patterns"),
    )


def report_type(message: Message) -> str | None:
    """Return the lower-cased ``report-type`` of a multipart/report message, else None."""
    value = message.header("Content-Type")
    if not value:
        return None
    holder = email.message.Message()
    holder["Content-Type"] = value
    if holder.get_content_type() != "multipart/report":
        return None
    parameter = holder.get_param("report-type")
    if not parameter:
        return None
    return str(collapse_rfc2231_value(parameter)).strip().lower()


def detect_bounce(message: Message, rules: BounceRules) -> BounceReport | None:
    """Read ``message`` as a delivery failure report; return None when it is not one.

    A ``multipart/report`` of a report type in the rules, or any message with a
    delivery-status part, is read as a DSN. Otherwise a message from a bounce sender
    (MAILER-DAEMON, postmaster, …) whose subject or text reads like a bounce is read as a
    plain-text bounce. Never raises on malformed input; unreadable fields stay None.
    """
    parts = report_parts(message)
    status_part = _first_part(parts, rules.status_part_types)
    if status_part is not None or report_type(message) in rules.report_types:
        return _read_dsn(parts, status_part, rules)
    if _looks_like_text_bounce(message, rules):
        return _read_text_bounce(message, rules)
    return None


def report_parts(message: Message) -> list[Attachment]:
    """Return the non-body parts of a multipart/report (delivery status, returned message).

    The parser puts them in ``message.report_parts``, apart from the attachments, so that
    a returned message is never read as an application.
    """
    parts = getattr(message, "report_parts", None)
    if parts:
        return list(parts)
    # NOTE: a Message without ``report_parts`` comes from a parser that kept the report's
    # parts among the attachments; read them there.
    return list(message.attachments)


def _read_dsn(parts: list[Attachment], status_part: Attachment | None, rules: BounceRules) -> BounceReport:
    per_message, per_recipient = _status_blocks(status_part.payload if status_part else b"")
    recipients = [
        recipient
        for block in per_recipient
        if (recipient := _failed_recipient(block)) is not None
    ]
    returned = _first_part(parts, rules.returned_part_types)
    message_id, subject = _original_identity(returned)
    return BounceReport(
        failed_recipients=recipients,
        reporting_mta=_typed_value(per_message.get("Reporting-MTA")),
        original_message_id=message_id,
        original_subject=subject,
        returned_part=returned.content_type.lower() if returned else None,
        source="dsn",
    )


def _status_blocks(payload: bytes) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Split a delivery-status body into its per-message fields and per-recipient blocks."""
    text = payload.decode("utf-8", errors="replace").replace("\r\n", "\n")
    per_message: dict[str, str] = {}
    per_recipient: list[dict[str, str]] = []
    for block in _BLANK_LINE.split(text):
        if not block.strip():
            continue
        parsed = HeaderParser(policy=email.policy.compat32).parsestr(block.strip("\n") + "\n")
        fields = {name: " ".join(str(value).split()) for name, value in parsed.items()}
        if "Final-Recipient" in fields or "Original-Recipient" in fields:
            per_recipient.append(fields)
        elif "Reporting-MTA" in fields and not per_message:
            per_message = fields
    return per_message, per_recipient


def _failed_recipient(fields: dict[str, str]) -> FailedRecipient | None:
    """Build a FailedRecipient from one recipient block; None for a delivered recipient."""
    action = (fields.get("Action") or "").strip().lower() or None
    status = _status_code(fields.get("Status"))
    failed = action in _FAILURE_ACTIONS or (action is None and status is not None and status[0] in "45")
    if not failed:
        return None
    original = _typed_value(fields.get("Original-Recipient"))
    address = _typed_value(fields.get("Final-Recipient")) or original
    if address is None:
        return None
    return FailedRecipient(
        address=address,
        status=status,
        action=action,
        diagnostic=_clean_diagnostic(fields.get("Diagnostic-Code"), address),
        original_recipient=original,
        remote_mta=_typed_value(fields.get("Remote-MTA")),
    )


def _original_identity(returned: Attachment | None) -> tuple[str | None, str | None]:
    """Return the Message-ID and subject of the returned original, when it came back."""
    if returned is None:
        return None, None
    if returned.forwarded is not None:
        return returned.forwarded.message_id, returned.forwarded.subject or None
    # Returned headers are those of our own outgoing mail, whose subjects are UTF-8
    # encoded-words, so the stdlib decodes them exactly.
    headers = BytesHeaderParser(policy=email.policy.default).parsebytes(returned.payload)
    return _header_value(headers, "Message-ID"), _header_value(headers, "Subject")


def _looks_like_text_bounce(message: Message, rules: BounceRules) -> bool:
    sender = message.from_
    if sender is None:
        return False
    local_part = sender.address.rsplit("@", 1)[0].strip().lower()
    if local_part not in rules.sender_local_parts and sender.name.strip().lower() not in rules.sender_names:
        return False
    subject = normalize_text(message.subject)
    text = normalize_text(message.body_text)
    return any(pattern.search(subject) for pattern in rules.subject_patterns) or any(
        pattern.search(text) for pattern in rules.text_patterns
    )


def _read_text_bounce(message: Message, rules: BounceRules) -> BounceReport:
    notice, original = _split_at_original(message.body_text, rules)
    normalized_notice = normalize_text(notice)
    headers = _quoted_headers(original)

    ignored = {address.address.lower() for address in message.to + message.cc}
    if message.from_:
        ignored.add(message.from_.address.lower())
    original_from = _header_value(headers, "From")
    if original_from:
        ignored.update(address.lower() for _, address in getaddresses([original_from]))
    addresses = _unique(a for a in _ADDRESS.findall(normalized_notice) if a.lower() not in ignored)
    original_to = _header_value(headers, "To")
    if not addresses and original_to:
        addresses = _unique(address for _, address in getaddresses([original_to]) if address)

    status_match = _STATUS_CODE.search(normalized_notice)
    status = status_match.group(1) if status_match else None
    delayed = (status or "").startswith("4") or any(p.search(normalized_notice) for p in rules.delay_patterns)
    reply = _smtp_reply(normalized_notice)
    recipients = [
        FailedRecipient(
            address=address,
            status=status,
            action="delayed" if delayed else "failed",
            diagnostic=_clean_diagnostic(reply, address),
        )
        for address in addresses
    ]
    return BounceReport(
        failed_recipients=recipients,
        reporting_mta=None,
        original_message_id=_header_value(headers, "Message-ID"),
        original_subject=_header_value(headers, "Subject"),
        returned_part=None,
        source="text",
    )


def _split_at_original(text: str, rules: BounceRules) -> tuple[str, str]:
    """Split a bounce text into the notice and the quoted original (after its marker line)."""
    lines = text.replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        normalized = normalize_text(line)
        if any(pattern.search(normalized) for pattern in rules.original_markers):
            return "\n".join(lines[:index]), "\n".join(lines[index + 1 :])
    return text, ""


def _quoted_headers(text: str) -> email.message.Message | None:
    """Parse the header lines quoted at the start of ``text``, with common indentation removed."""
    block = _BLANK_LINE.split(textwrap.dedent(text.strip("\n")), maxsplit=1)[0]
    if not block.strip():
        return None
    return HeaderParser(policy=email.policy.default).parsestr(block + "\n")


def _header_value(headers: email.message.Message | None, name: str) -> str | None:
    """Return one decoded header of parsed original headers, or None when absent or unreadable."""
    if headers is None:
        return None
    try:
        value = headers.get(name)
    except (ValueError, IndexError, TypeError) as exc:
        # The stdlib's header parser raises on a few malformed headers; the report stays a
        # bounce with this field unknown.
        logger.debug("original header %s unreadable: %s", name, exc)
        return None
    return _stripped(value)


def _smtp_reply(text: str) -> str | None:
    for line in text.split("\n"):
        match = _SMTP_REPLY.search(line.strip())
        if match:
            return match.group(0)
    return None


def _first_part(parts: list[Attachment], content_types: list[str]) -> Attachment | None:
    for part in parts:
        if part.content_type.lower() in content_types:
            return part
    return None


def _typed_value(value: str | None) -> str | None:
    """Return a DSN field value without its type ("rfc822; a@b" gives "a@b")."""
    if not value:
        return None
    cleaned = _TYPE_PREFIX.sub("", value, count=1).strip().strip("<>").strip()
    return cleaned or None


def _status_code(value: str | None) -> str | None:
    if not value:
        return None
    match = _STATUS_CODE.search(value)
    return match.group(1) if match else None


def _clean_diagnostic(value: str | None, address: str) -> str | None:
    if not value:
        return None
    text = _TYPE_PREFIX.sub("", value, count=1)
    text = re.sub(rf"<?{re.escape(address)}>?:?", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split()) or None


def _stripped(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _unique(values) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        seen.setdefault(value.lower(), value)
    return list(seen.values())


def _lowered(values: list[str]) -> list[str]:
    return [value.lower() for value in values]
