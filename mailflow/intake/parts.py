"""Walk a parsed MIME tree into body text, attachments and report parts.

Part ids follow IMAP section numbers (RFC 3501 section 6.4.5). The children of a
multipart are "1", "2", … and nested ones "2.1", "2.2", …. The body of a single-part
message is "1", and the parts of a forwarded ``message/rfc822`` at "2" are "2.1", "2.2", ….
"""

from __future__ import annotations

import email.message
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from email.generator import BytesGenerator

from mailparser.utils import as_string_safe

from mailflow.intake.body_text import join_body_texts, normalise_newlines, unflow
from mailflow.intake.charset import decode_bytes, html_meta_charset
from mailflow.intake.headers import wire_bytes
from mailflow.intake.message import Attachment, Message
from mailflow.intake.mime_params import ParameterizedValue, parse_parameterized
from mailflow.intake.sniff import sniff
from mailflow.intake.transfer import decode_transfer

logger = logging.getLogger(__name__)

# Forwarded messages are parsed up to this many levels deep, and deeper ones stay unparsed
# attachments. The cap bounds the work a hostile message can cause.
MAX_FORWARD_DEPTH = 5
# Multipart nesting followed per message. The stdlib parser itself raises RecursionError
# beyond about 980 levels (Python 3.11, recursion limit 1000), and real clients nest fewer
# than ten.
MAX_MULTIPART_DEPTH = 100
FORWARD_TYPES = frozenset({"message/rfc822", "message/global"})
BODY_TYPES = frozenset({"text/plain", "text/html"})

ParseInner = Callable[[bytes, int, str], Message]


@dataclass
class _PartHeaders:
    content_type: str
    params: ParameterizedValue
    disposition: ParameterizedValue
    filename: str | None
    transfer_encoding: str | None


@dataclass
class PartWalker:
    """Fill ``message`` with the bodies, attachments and report parts of a MIME tree.

    ``depth`` is how many forwarded messages enclose this one (0 for the received mail).
    ``parse_inner`` parses a forwarded message's bytes at a given depth and part id prefix.
    """

    message: Message
    depth: int
    parse_inner: ParseInner
    linesep: str = "\n"
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)

    def walk(self, root: email.message.Message, prefix: str) -> None:
        """Walk ``root`` whose parts get ids under ``prefix`` ("" for the received mail)."""
        if root.get_content_maintype() == "multipart" and root.is_multipart():
            self._walk_multipart(root, prefix, 1, report=False)
        else:
            self._walk_part(root, f"{prefix}.1" if prefix else "1", 1, report=False)
        self.message.body_text = join_body_texts(self.texts)
        self.message.body_html = join_body_texts(self.htmls)

    def _walk_part(self, part, part_id: str, level: int, report: bool) -> None:
        """Walk one part. With ``report`` set, everything in it becomes a report part."""
        into = self.message.report_parts if report else self.message.attachments
        try:
            if part.get_content_type() in FORWARD_TYPES:
                into.append(self._forwarded(part, part_id))
            elif part.get_content_maintype() == "multipart" and part.is_multipart():
                self._walk_multipart(part, part_id, level + 1, report)
            else:
                self._leaf(part, part_id, into, report)
        except Exception as error:  # one broken part must not lose the others
            self._defect(part_id, f"could not be read ({type(error).__name__}); skipped")
            logger.warning("part %s skipped after %s", part_id, type(error).__name__, exc_info=True)

    def _walk_multipart(self, part, part_id: str, level: int, report: bool) -> None:
        if level > MAX_MULTIPART_DEPTH:
            limit = f"multipart nested over {MAX_MULTIPART_DEPTH} levels; inner parts skipped"
            self._defect(part_id or "message", limit)
            return
        self._record_parser_defects(part, part_id or "message")
        is_report = part.get_content_type() == "multipart/report"
        for index, child in enumerate(part.get_payload(), start=1):
            child_id = f"{part_id}.{index}" if part_id else str(index)
            # RFC 6522: the first part of a report is for people, the others for machines.
            self._walk_part(child, child_id, level, report or (is_report and index > 1))

    def _leaf(self, part, part_id: str, into: list[Attachment], report: bool) -> None:
        self._record_parser_defects(part, part_id)
        headers = self._part_headers(part, part_id)
        data = self._payload(part, headers, part_id)
        is_body = (
            headers.content_type in BODY_TYPES
            and headers.disposition.value != "attachment"
            and not headers.filename
        )
        if is_body and not report:
            self._add_body(data, headers, part_id)
            return
        if headers.content_type.startswith("multipart/") and not report:
            self._defect(part_id, "multipart without a usable boundary; kept its content as body text")
            self._add_body(data, headers, part_id)
            return
        attachment = self._attachment(headers, data, part_id)
        attachment.sniffed_type = sniff(data)
        into.append(attachment)

    def _forwarded(self, part, part_id: str) -> Attachment:
        headers = self._part_headers(part, part_id)
        data = self._payload(part, headers, part_id)
        attachment = self._attachment(headers, data, part_id)
        attachment.sniffed_type = "eml"
        if self.depth >= MAX_FORWARD_DEPTH:
            limit = f"forwarded message nested over {MAX_FORWARD_DEPTH} levels; not parsed"
            self._defect(part_id, limit, attachment)
            return attachment
        forwarded = self.parse_inner(data, self.depth + 1, part_id)
        attachment.forwarded = forwarded
        attachment.children = forwarded.attachments
        return attachment

    def _part_headers(self, part, part_id: str) -> _PartHeaders:
        params = parse_parameterized(_raw_header(part, "content-type"))
        disposition = parse_parameterized(_raw_header(part, "content-disposition"))
        for defect in params.defects + disposition.defects:
            self._defect(part_id, defect)
        filename = disposition.params.get("filename") or params.params.get("name") or None
        encoding = _raw_header(part, "content-transfer-encoding")
        if encoding is not None:
            encoding = wire_bytes(encoding).decode("ascii", "replace").split("(")[0].split(";")[0]
        return _PartHeaders(part.get_content_type(), params, disposition, filename, encoding)

    def _payload(self, part, headers: _PartHeaders, part_id: str) -> bytes:
        decoded = decode_transfer(self._undecoded_body(part), headers.transfer_encoding)
        for defect in decoded.defects:
            self._defect(part_id, defect)
        return decoded.data

    def _add_body(self, data: bytes, headers: _PartHeaders, part_id: str) -> None:
        label = headers.params.params.get("charset")
        is_html = headers.content_type == "text/html"
        if is_html and not label:
            label = html_meta_charset(data)
        decoded = decode_bytes(data, label)
        if decoded.defect:
            self._defect(part_id, decoded.defect)
        text = normalise_newlines(decoded.text)
        if is_html:
            self.htmls.append(text)
            return
        if headers.params.params.get("format", "").lower() == "flowed":
            text = unflow(text, delsp=headers.params.params.get("delsp", "").lower() == "yes")
        self.texts.append(text)

    def _attachment(self, headers: _PartHeaders, data: bytes, part_id: str) -> Attachment:
        defects = [defect for defect in self.message.defects if defect.startswith(f"part {part_id}: ")]
        return Attachment(
            filename=headers.filename,
            content_type=headers.content_type,
            disposition=headers.disposition.value or None,
            payload=data,
            part_id=part_id,
            defects=defects,
        )

    def _undecoded_body(self, part) -> bytes:
        """Return the body of a non-multipart part as on the wire, before transfer decoding.

        The parser turns the body of a message/* part into sub-messages. They are written
        back with the stdlib generator and joined the way its message/delivery-status
        handler joins them.
        """
        body = part._payload
        if not isinstance(body, list):
            # get_payload() would decode 8-bit text with the declared charset and
            # errors="replace", so the stored value is read. The parser keeps each 8-bit
            # byte of it as a surrogate escape.
            return wire_bytes(body or "")
        line_end = self.linesep.encode("ascii")
        blocks = [self._flatten(block) for block in body]
        if part.get_content_type() == "message/delivery-status":
            blocks = [block[: -len(line_end)] if block.endswith(line_end * 2) else block for block in blocks]
        return line_end.join(blocks)

    def _flatten(self, message: email.message.Message) -> bytes:
        """Return the bytes of ``message`` as the stdlib generator writes them back.

        NOTE: the generator drops blanks at the end of header lines, so a forwarded
        message's bytes can differ from the wire in that whitespace.
        """
        buffer = io.BytesIO()
        generator = BytesGenerator(buffer, mangle_from_=False, maxheaderlen=0)
        try:
            generator.flatten(message, linesep=self.linesep)
            return buffer.getvalue()
        except Exception as error:  # the generator re-encodes some charsets and can fail
            logger.debug("generator failed on a part: %s", type(error).__name__)
            return wire_bytes(as_string_safe(message))

    def _record_parser_defects(self, part, where: str) -> None:
        for defect in getattr(part, "defects", []):
            doc = (type(defect).__doc__ or "malformed MIME").strip().splitlines()[0].rstrip(".")
            self._defect(where, f"{doc} ({type(defect).__name__})")

    def _defect(self, part_id: str, text: str, attachment: Attachment | None = None) -> None:
        where = part_id if part_id == "message" else f"part {part_id}"
        self.message.defects.append(f"{where}: {text}")
        if attachment is not None:
            attachment.defects.append(f"{where}: {text}")


def _raw_header(part: email.message.Message, name: str) -> str | None:
    """Return the first undecoded value of header ``name`` (lower case) in ``part``.

    ``part.get()`` would return a ``Header`` object instead of text when the value
    contains 8-bit bytes.
    """
    for key, value in part.raw_items():
        if key.lower() == name:
            return value
    return None
