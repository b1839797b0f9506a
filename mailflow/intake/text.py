"""The visible text of an attached document, with what is known about its text layer.

Classification and the form readers start here: one call per attachment reads the file
with the reader for its sniffed type (never its name or declared type) and keeps the
grids for the form readers. The readers of PDF, xlsx, xls and docx files run in a
sandboxed child process (:mod:`mailflow.intake.sandbox`) under the extraction limits of
:class:`~mailflow.intake.limits.Limits`, so no file can hang the daemon or exhaust its
memory: a reader that passes a limit is killed and the document names the limit.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

from mailflow.intake.forms.docx import read_docx
from mailflow.intake.forms.grid import READER_CRASHED, Extraction, Grid
from mailflow.intake.forms.pdf import read_pdf
from mailflow.intake.forms.xls import read_xls
from mailflow.intake.forms.xlsx import read_xlsx
from mailflow.intake.limits import DEFAULT_LIMITS, LimitExceeded, Limits
from mailflow.intake.sandbox import run_sandboxed

logger = logging.getLogger(__name__)

IMAGE_TYPES = frozenset({"jpeg", "png", "gif", "tiff", "bmp", "webp", "heic", "avif"})
_TEXT_ENCODINGS = ("utf-8", "cp932", "euc_jp")
# The reader of each sniffed type, called with the payload and the limits.
READERS: dict[str, Callable[[bytes, Limits], Extraction]] = {
    "xlsx": read_xlsx,
    "xlsm": read_xlsx,
    "xls": read_xls,
    "docx": read_docx,
    "pdf": read_pdf,
}


@dataclass
class DocumentText:
    """The visible text of one document and facts about its text layer.

    ``has_text_layer`` is False for images and for PDFs without characters (scans).
    ``cid_ratio`` is the share of PDF glyphs that could only be read as ``(cid:N)``
    (0.0 when there are none). ``grids`` keeps the cells for the form readers.
    ``open_error`` is set when the reader could not open the file at all (see
    :class:`~mailflow.intake.forms.grid.Extraction`), ``exceeded`` when reading stopped
    at a limit; either way the text is empty.
    """

    text: str = ""
    has_text_layer: bool = False
    cid_ratio: float = 0.0
    page_count: int = 0
    image_count: int = 0
    defects: list[str] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list, repr=False)
    open_error: str | None = None
    exceeded: LimitExceeded | None = None

    @property
    def read(self) -> bool:
        """Whether the reader opened the file and read it to the end."""
        return self.open_error is None and self.exceeded is None

    @property
    def image_only(self) -> bool:
        """Whether this is a PDF that was read, has pages with images and has no text (a scan)."""
        return self.read and self.page_count > 0 and self.image_count > 0 and not self.has_text_layer


def document_text(payload: bytes, sniffed_type: str, limits: Limits = DEFAULT_LIMITS) -> DocumentText:
    """Read the visible text of ``payload`` by its sniffed type; never raises.

    Types without a reader (images, archives, unknown) give an empty text; images count
    as one image. A file the reader cannot open gives its reason in ``defects`` and
    ``open_error``; a reader stopped at a limit of ``limits`` (time, memory, decoded
    bytes, pages, package sizes) gives ``exceeded``.
    """
    if sniffed_type in READERS:
        extraction = _read_sandboxed(READERS[sniffed_type], payload, limits)
        logger.debug("document read: sniffed=%s grids=%d pages=%d defects=%d", sniffed_type,
                     len(extraction.grids), extraction.page_count, len(extraction.defects))
        return _from_extraction(extraction, sniffed_type)
    if sniffed_type == "text":
        return DocumentText(text=_decode_text(payload), has_text_layer=True)
    if sniffed_type == "html":
        return DocumentText(text=_html_text(_decode_text(payload)), has_text_layer=True)
    if sniffed_type in IMAGE_TYPES:
        return DocumentText(image_count=1, page_count=1)
    if sniffed_type == "office_encrypted":
        return DocumentText(defects=["the Office file is password-protected (encrypted) and cannot be read"])
    return DocumentText(defects=[f"no text reader for sniffed type {sniffed_type!r}"])


def _read_sandboxed(reader: Callable[[bytes, Limits], Extraction], payload: bytes, limits: Limits) -> Extraction:
    """Run ``reader`` in a child process under the extraction limits; a limit or crash becomes the result."""
    outcome = run_sandboxed(functools.partial(reader, payload, limits),
                            limits.max_extraction_seconds, limits.max_extraction_memory_bytes)
    if outcome.exceeded is not None:
        return Extraction(defects=[outcome.exceeded.describe()], exceeded=outcome.exceeded)
    if outcome.value is None:
        return Extraction(defects=[f"document could not be read: {outcome.crash}"], open_error=READER_CRASHED)
    return outcome.value


def _from_extraction(extraction: Extraction, sniffed_type: str) -> DocumentText:
    if sniffed_type == "pdf":
        has_text = extraction.glyph_count > 0
        ratio = extraction.cid_glyph_count / extraction.glyph_count if extraction.glyph_count else 0.0
    else:
        has_text = bool(extraction.text.strip()) or bool(extraction.grids)
        ratio = 0.0
    return DocumentText(
        text=extraction.text,
        has_text_layer=has_text,
        cid_ratio=ratio,
        page_count=extraction.page_count,
        image_count=extraction.image_count,
        defects=list(extraction.defects),
        grids=extraction.grids,
        open_error=extraction.open_error,
        exceeded=extraction.exceeded,
    )


def _decode_text(payload: bytes) -> str:
    if payload.startswith((b"\xff\xfe", b"\xfe\xff")):
        return payload.decode("utf-16", errors="replace").replace("\r\n", "\n")
    if payload.startswith(b"\xef\xbb\xbf"):
        payload = payload[3:]
    for encoding in _TEXT_ENCODINGS:
        try:
            return payload.decode(encoding).replace("\r\n", "\n")
        except UnicodeDecodeError:
            continue
    return payload.decode("utf-8", errors="replace").replace("\r\n", "\n")


class _TextCollector(HTMLParser):
    """Collect the character data of an HTML document outside script and style elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style"):
            self._skip_depth += 1
        elif tag in ("br", "p", "div", "tr", "li"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip_depth:
            self._skip_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def _html_text(markup: str) -> str:
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    lines = (line.strip() for line in "".join(collector.parts).split("\n"))
    return "\n".join(line for line in lines if line)
