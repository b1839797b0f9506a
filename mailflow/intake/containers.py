"""Open container attachments (zip, TNEF winmail.dat) so their members are classified too.

:func:`expand` is the one gate every attachment passes after parsing. It opens zip and
TNEF containers into child attachments, marks password-protected archives, Office files
and PDFs as encrypted, and holds any file over a limit of :mod:`mailflow.intake.limits`.
A later stage reads a file only when ``encrypted`` is False and ``over_limit`` is None.
No password is ever tried and no encrypted member is ever read.
"""

from __future__ import annotations

import functools
import io
import logging
import lzma
import mimetypes
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass

import msoffcrypto

from mailflow.intake.limits import (
    DEFAULT_LIMITS,
    IMAGE_TYPES,
    LimitExceeded,
    Limits,
    check_image_pixels,
    check_pdf_pages,
    check_zip_member,
    hold,
)
from mailflow.intake.message import Attachment
from mailflow.intake.sandbox import run_sandboxed
from mailflow.intake.sniff import sniff

logger = logging.getLogger(__name__)

OOXML_TYPES = frozenset({"xlsx", "xlsm", "docx", "pptx"})
OLE_TYPES = frozenset({"ole", "xls", "doc", "ppt"})
_FLAG_ENCRYPTED = 0x1
_FLAG_UTF8 = 0x800
_UNICODE_PATH_EXTRA = 0x7075
_READ_CHUNK = 64 * 1024


@dataclass
class _Budget:
    """Remaining share of the total-size limit for everything under one top-level attachment."""

    bytes_left: int
    bytes_used: int = 0

    def take(self, size: int) -> None:
        self.bytes_left -= size
        self.bytes_used += size


def expand(attachment: Attachment, depth: int = 0, *, limits: Limits = DEFAULT_LIMITS) -> None:
    """Fill ``attachment.children`` with the members of a container, in place, recursively.

    ``depth`` counts the containers around ``attachment`` (0 for a part of the mail).
    Sets ``encrypted`` on password-protected zip members, on the zip that contains them,
    and on password-protected Office files and PDFs. Sets ``over_limit`` and a defect on
    files over a limit, and records a defect for members that could not be read. Never
    raises on bad input, and running it twice on the same attachment adds nothing.
    """
    budget = _Budget(limits.max_total_bytes)
    try:
        _expand(attachment, depth, limits, budget)
    except Exception as exc:  # one hostile file must never stop the intake of a mail
        _add_defect(attachment, f"container could not be opened: {_error_name(exc)}")
        logger.warning("container not opened: sha256=%s error=%s", attachment.sha256[:12], _error_name(exc))
        logger.debug("container failure details", exc_info=True)
    _log_summary(attachment)


def _log_summary(attachment: Attachment) -> None:
    """Log one line per attachment that has held or encrypted files, not one per member."""
    files = list(attachment.walk())
    held = sum(1 for item in files if item.over_limit is not None)
    encrypted = sum(1 for item in files if item.encrypted)
    if held or encrypted:
        logger.info(
            "attachment checked: sha256=%s files=%d held=%d encrypted=%d",
            attachment.sha256[:12], len(files), held, encrypted,
        )


def _expand(attachment: Attachment, depth: int, limits: Limits, budget: _Budget) -> None:
    kind = attachment.sniffed_type
    if attachment.over_limit is not None:
        return
    if kind in ("zip", "tnef", "eml") and depth >= limits.max_depth:
        hold(attachment, LimitExceeded("max_depth", depth + 1, limits.max_depth))
        return
    if kind == "zip":
        _expand_zip(attachment, depth, limits, budget)
    elif kind == "tnef":
        _expand_tnef(attachment, depth, limits, budget)
    elif kind == "eml":
        # The parser already turned a forwarded mail's attachments into children; open
        # the containers among them with the shared budget and one more level of depth.
        for child in attachment.children:
            _expand(child, depth + 1, limits, budget)
    elif kind == "office_encrypted" or (kind in OLE_TYPES and _office_password_protected(attachment.payload)):
        _mark_encrypted(attachment, "password-protected Office file; not opened")
    elif kind in OOXML_TYPES:
        _check_archive_sizes(attachment, limits)
    elif kind == "pdf":
        _check_pdf(attachment, limits)
    elif kind in IMAGE_TYPES:
        exceeded = check_image_pixels(attachment.payload, limits)
        if exceeded:
            hold(attachment, exceeded)


def _expand_zip(container: Attachment, depth: int, limits: Limits, budget: _Budget) -> None:
    if container.children:
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(container.payload))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        _add_defect(container, f"zip archive could not be opened: {_error_name(exc)}")
        return
    with archive:
        members = [info for info in archive.infolist() if not _skipped_member(info)]
        if len(members) > limits.max_members:
            hold(container, LimitExceeded("max_members", len(members), limits.max_members))
            return
        for position, info in enumerate(members, start=1):
            child = _zip_child(container, info, position)
            container.children.append(child)
            if info.flag_bits & _FLAG_ENCRYPTED:
                _mark_encrypted(child, "encrypted zip member; not opened and no password tried")
                _mark_encrypted(container, "zip archive has encrypted members; they were not opened")
                continue
            exceeded = _declared_size_problem(info, limits, budget)
            if exceeded:
                hold(child, exceeded)
                continue
            _read_member(archive, info, child, limits, budget)
            if child.payload or not info.file_size:
                child.sniffed_type = sniff(child.payload)
                _expand(child, depth + 1, limits, budget)
    logger.debug(
        "zip expanded: sha256=%s members=%d encrypted=%s", container.sha256[:12], len(members), container.encrypted
    )


def _skipped_member(info: zipfile.ZipInfo) -> bool:
    # Folders carry no data, and __MACOSX/ contains the Finder's resource forks, not documents.
    return info.is_dir() or info.filename.startswith("__MACOSX/")


def _zip_child(container: Attachment, info: zipfile.ZipInfo, position: int) -> Attachment:
    # The part id numbers members by position: a member's name is the applicant's text and
    # may hold personal data, while part ids go into defects, logs and the database.
    name = member_name(info)
    basename = name.rsplit("/", 1)[-1]
    return Attachment(
        filename=basename,
        content_type=mimetypes.guess_type(basename)[0] or "application/octet-stream",
        disposition=None,
        payload=b"",
        part_id=f"{container.part_id}/{position}",
    )


def member_name(info: zipfile.ZipInfo) -> str:
    """Return a zip member's name as its creator wrote it, NFC-normalised, with ``/`` separators.

    Without the UTF-8 flag (bit 11) Python decodes names as cp437, which turns the cp932
    names of Windows' built-in zip into mojibake. Encoding back to cp437 recovers the
    bytes. The name then comes from the Info-ZIP Unicode Path extra field when present,
    else from the bytes as UTF-8 when they are valid UTF-8, else as cp932. UTF-8 goes
    first because macOS and some tools write UTF-8 without the flag, and those bytes
    would also decode as cp932, into half-width kana.
    """
    if info.flag_bits & _FLAG_UTF8:
        name = info.filename
    else:
        raw = info.filename.encode("cp437")
        name = _unicode_path_extra(info.extra, raw) or _decode_legacy_name(raw)
    # Windows tools write backslashes. They are replaced only after decoding, because
    # 0x5C is also the second byte of cp932 characters such as 表 and ソ.
    return unicodedata.normalize("NFC", name.replace("\\", "/"))


def _decode_legacy_name(raw: bytes) -> str:
    for encoding in ("utf-8", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("cp437")


def _unicode_path_extra(extra: bytes, raw_name: bytes) -> str | None:
    """Return the name from an Info-ZIP Unicode Path extra field (0x7075) that matches ``raw_name``."""
    position = 0
    while position + 4 <= len(extra):
        tag = int.from_bytes(extra[position:position + 2], "little")
        size = int.from_bytes(extra[position + 2:position + 4], "little")
        body = extra[position + 4:position + 4 + size]
        position += 4 + size
        # The field contains a version byte (1), the CRC-32 of the header name it replaces,
        # and the UTF-8 name. A CRC mismatch means the name was changed by another tool.
        if tag != _UNICODE_PATH_EXTRA or len(body) < 5 or body[0] != 1:
            continue
        if int.from_bytes(body[1:5], "little") != zlib.crc32(raw_name):
            continue
        try:
            return body[5:].decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _declared_size_problem(info: zipfile.ZipInfo, limits: Limits, budget: _Budget) -> LimitExceeded | None:
    """Return the limit a member is over by its declared sizes, before anything is decompressed.

    zipfile (CPython 3.11) never returns more bytes than the declared size, so checking
    it bounds what a read can produce. The read is bounded again in case a size lies.
    """
    exceeded = check_zip_member(info, limits)
    if exceeded:
        return exceeded
    if info.file_size > budget.bytes_left:
        return LimitExceeded("max_total_bytes", budget.bytes_used + info.file_size, limits.max_total_bytes)
    return None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, child: Attachment, limits: Limits,
                 budget: _Budget) -> None:
    """Read one member into ``child.payload`` in chunks, stopping at the member and total limits."""
    ceiling = min(limits.max_member_bytes, budget.bytes_left)
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_READ_CHUNK):
                size += len(chunk)
                if size > ceiling:
                    limit = "max_member_bytes" if ceiling == limits.max_member_bytes else "max_total_bytes"
                    hold(child, LimitExceeded(limit, size, getattr(limits, limit)))
                    return
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, NotImplementedError, RuntimeError, OSError, EOFError,
            ValueError) as exc:
        # A CRC mismatch, corrupt compressed data, a truncated entry or an unsupported
        # method (Deflate64, PPMd).
        _add_defect(child, f"zip member could not be read: {_error_name(exc)}")
        return
    child.payload = b"".join(chunks)
    budget.take(size)


def _expand_tnef(container: Attachment, depth: int, limits: Limits, budget: _Budget) -> None:
    if container.children:
        return
    try:
        members, damaged = _tnef_content(container.payload)
    except Exception as exc:  # tnefparse raises assorted types (struct.error, ValueError, …) on bad input
        _add_defect(container, f"TNEF could not be read: {_error_name(exc)}")
        return
    if damaged:
        _add_defect(container, "TNEF checksum mismatch; the stream is truncated or damaged")
    if len(members) > limits.max_members:
        hold(container, LimitExceeded("max_members", len(members), limits.max_members))
        return
    for position, (name, payload) in enumerate(members, start=1):
        child = Attachment(
            filename=name,
            content_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
            disposition=None,
            payload=b"",
            part_id=f"{container.part_id}/{position}",
        )
        container.children.append(child)
        if len(payload) > limits.max_member_bytes:
            hold(child, LimitExceeded("max_member_bytes", len(payload), limits.max_member_bytes))
            continue
        if len(payload) > budget.bytes_left:
            hold(child, LimitExceeded("max_total_bytes", budget.bytes_used + len(payload), limits.max_total_bytes))
            continue
        budget.take(len(payload))
        child.payload = payload
        child.sniffed_type = sniff(payload)
        _expand(child, depth + 1, limits, budget)
    logger.debug("TNEF expanded: sha256=%s members=%d", container.sha256[:12], len(members))


def tnef_members(payload: bytes) -> list[tuple[str, bytes]]:
    """Return (name, data) for each attachment in a TNEF stream (winmail.dat), in order."""
    return _tnef_content(payload)[0]


def _tnef_content(payload: bytes) -> tuple[list[tuple[str, bytes]], bool]:
    """Return the TNEF attachments as (name, data), and whether any attribute failed its checksum.

    The name is the long file name (PidTagAttachLongFilename) when present, else the
    8.3 title (attAttachTitle) decoded with the stream's OEM code page, cp932 for
    Japanese Outlook. tnefparse decodes that title as UTF-8 only, so it is read from the
    raw attribute here. Raises whatever tnefparse raises on a broken stream.
    """
    from tnefparse import TNEF
    from tnefparse.properties import MAPI_ATTACH_LONG_FILENAME

    parsed = TNEF(payload)
    titles = _tnef_titles(parsed)
    members = []
    for index, item in enumerate(parsed.attachments):
        long_names = [attr.data for attr in item.mapi_attrs if attr.name == MAPI_ATTACH_LONG_FILENAME]
        name = long_names[0] if long_names and isinstance(long_names[0], str) else None
        name = name or _decode_tnef_title(titles.get(index), parsed.codepage) or f"attachment-{index + 1}"
        members.append((unicodedata.normalize("NFC", name.strip("\x00")), bytes(item.data or b"")))
    damaged = any(not obj.good_checksum for obj in parsed.objects)
    return members, damaged


def _tnef_titles(parsed) -> dict[int, bytes]:
    """Return the raw attAttachTitle bytes by attachment index.

    tnefparse starts a new attachment at each attAttachRendData attribute, so counting
    those attributes gives the index its attachments list uses.
    """
    from tnefparse import TNEF

    titles: dict[int, bytes] = {}
    index = -1
    for obj in parsed.objects:
        if obj.name == TNEF.ATTATTACHRENDDATA:
            index += 1
        elif obj.level == TNEF.LVL_ATTACHMENT and obj.name == TNEF.ATTATTACHTITLE and index >= 0:
            titles[index] = bytes(obj.data)
    return titles


def _decode_tnef_title(raw: bytes | None, codepage: str | None) -> str | None:
    if not raw:
        return None
    raw = raw.rstrip(b"\x00")
    for encoding in (codepage, "cp932", "utf-8"):
        if not encoding:
            continue
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("cp1252", errors="replace")


def _check_archive_sizes(document: Attachment, limits: Limits) -> None:
    """Hold an OOXML document whose parts would decompress past a limit (a zip bomb in an .xlsx)."""
    try:
        with zipfile.ZipFile(io.BytesIO(document.payload)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return  # the document reader reports a broken file
    if len(infos) > limits.max_members:
        hold(document, LimitExceeded("max_members", len(infos), limits.max_members))
        return
    budget = _Budget(limits.max_total_bytes)
    for info in infos:
        exceeded = _declared_size_problem(info, limits, budget)
        if exceeded:
            hold(document, exceeded)
            return
        budget.take(info.file_size)


def _check_pdf(document: Attachment, limits: Limits) -> None:
    # Opening a PDF parses its cross-reference streams, which a hostile file can make
    # arbitrarily costly: do it in the sandbox, like every other read of a document.
    checked = run_sandboxed(functools.partial(_pdf_password_protected, document.payload),
                            limits.max_extraction_seconds, limits.max_extraction_memory_bytes)
    if checked.exceeded is not None:
        hold(document, checked.exceeded)
        return
    if checked.value:
        _mark_encrypted(document, "password-protected PDF; not opened")
        return
    exceeded = check_pdf_pages(document.payload, limits)
    if exceeded:
        hold(document, exceeded)


def _office_password_protected(payload: bytes) -> bool:
    """Return True for an OLE2 file that Office encrypted (OOXML EncryptedPackage, .xls, .doc, .ppt)."""
    try:
        return bool(msoffcrypto.OfficeFile(io.BytesIO(payload)).is_encrypted())
    except Exception as exc:  # msoffcrypto raises assorted types on files it cannot parse
        logger.debug("Office encryption check not possible: %s", type(exc).__name__)
        return False


def _pdf_password_protected(payload: bytes) -> bool:
    """Return True when the PDF needs a password to open (a user password, not only permissions)."""
    from pdfminer.pdfdocument import PDFDocument, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFParser

    try:
        PDFDocument(PDFParser(io.BytesIO(payload)))
    except PDFPasswordIncorrect:
        return True
    except Exception:  # broken PDFs are the document reader's to report
        return False
    return False


def _mark_encrypted(attachment: Attachment, defect: str) -> None:
    attachment.encrypted = True
    _add_defect(attachment, defect)


def _error_name(exc: BaseException) -> str:
    """Return the exception's class name, qualified by its module unless it is a builtin (zlib.error)."""
    module = type(exc).__module__
    return type(exc).__name__ if module == "builtins" else f"{module}.{type(exc).__name__}"


def _add_defect(attachment: Attachment, defect: str) -> None:
    if defect not in attachment.defects:
        attachment.defects.append(defect)
