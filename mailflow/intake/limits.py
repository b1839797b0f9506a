"""Named size limits for incoming mail and files, and the checks that hold a file over one.

A file over a limit is never read further. It keeps its place in the message, with
``over_limit`` set to the limit's name and a defect that names the limit and the value,
so staff see it in the review queue. The checks here read headers and declared sizes
only, so they are cheap and safe to run on hostile input.
"""

from __future__ import annotations

import functools
import io
import itertools
import logging
import re
import warnings
import zipfile
from dataclasses import dataclass

from mailflow.intake.forms.pdf_streams import install as install_pdf_stream_cap
from mailflow.intake.forms.pdf_streams import stream_budget
from mailflow.intake.message import Attachment

logger = logging.getLogger(__name__)

KIB = 1024
MIB = 1024 * KIB

# Pillow's own default for Image.MAX_IMAGE_PIXELS (Pillow 10 to 13): a quarter GiB of
# 24-bit pixels. It warns above this and raises above twice this.
PILLOW_DEFAULT_MAX_IMAGE_PIXELS = 1024 * 1024 * 1024 // 4 // 3


@dataclass(frozen=True)
class Limits:
    """Limits applied to every message and every file in it, container members included.

    The defaults fit what applicants send (a handful of forms, scans and phone photos in
    one mail) with wide margins. Each field's docstring gives the reason for its number.
    """

    max_message_bytes: int = 25 * MIB
    """Raw message size, the same default as ``mailbox.max_message_bytes`` in config.py."""

    max_member_bytes: int = 32 * MIB
    """Decompressed size of one container member. A multi-page colour scan is under
    25 MiB because it had to fit in a mail; the rest is margin for compressible files."""

    max_total_bytes: int = 128 * MIB
    """Decompressed size of all members under one attachment, nested ones included:
    about five times the largest message, so no mail can make the process hold more."""

    max_members: int = 1000
    """Members of one container. An application is a few files; an OOXML document has
    tens of parts. A thousand leaves room for a zipped folder of photos."""

    max_depth: int = 5
    """Containers inside containers (zip, TNEF, forwarded mail). A container at this
    depth is not opened. The parser stops at the same depth for forwarded mail."""

    max_compression_ratio: int = 100
    """Decompressed size over compressed size of one member. The parts of the sample
    forms compress at most 33:1, and Apache POI rejects OOXML parts above 100:1 too."""

    ratio_grace_bytes: int = 100 * KIB
    """Members smaller than this skip the ratio check, because small repetitive files
    (a blank sheet's XML) reach high ratios harmlessly. Apache POI uses 100 KiB too."""

    max_pdf_pages: int = 100
    """Pages of one PDF. Forms are one or two pages; a bundle of scans rarely passes 20."""

    max_image_pixels: int = PILLOW_DEFAULT_MAX_IMAGE_PIXELS
    """Pixels of one image (width x height). Pillow's default, about 89 million, which
    is above a 48-megapixel phone photo and stops decompression bombs."""

    max_pdf_decoded_bytes: int = 32 * MIB
    """Bytes pdfminer may decode from all the streams of one PDF (content, fonts, object
    and cross-reference streams; image data is not decoded). The sample forms decode
    30–62 KiB each, an unsubsetted Japanese font about 10 MiB. One 1 GiB flate bomb
    stops here after 32 MiB, before pdfminer parses any of it."""

    max_extraction_seconds: float = 30.0
    """Wall-clock seconds for reading the text of one document in its child process.
    The sample forms take 1–70 ms each, and a 20-page PDF of ruled tables took 7.5 s on
    a 2-core VM. A reader past it is killed and the file is held for a person."""

    max_extraction_memory_bytes: int = 512 * MIB
    """Address space one document reader may add to what the daemon already maps
    (RLIMIT_AS of the child process). A sample form adds under 10 MiB, and the 20-page
    PDF of ruled tables added 190 MiB."""


DEFAULT_LIMITS = Limits()

# pdfminer inflates cross-reference and object streams as soon as a PDF is opened, and
# container checks open PDFs (in the sandbox) before any reader runs: the cap must be in
# place first, in the parent, so that forked children inherit it.
install_pdf_stream_cap(DEFAULT_LIMITS.max_pdf_decoded_bytes)

# Staff-facing names of the limits, for the review queue.
LIMIT_LABELS: dict[str, str] = {
    "max_message_bytes": "メールの大きさ",
    "max_member_bytes": "展開後のファイルの大きさ",
    "max_total_bytes": "展開後のファイルの合計の大きさ",
    "max_members": "圧縮ファイル内のファイル数",
    "max_depth": "圧縮ファイルの入れ子の深さ",
    "max_compression_ratio": "圧縮率",
    "max_pdf_pages": "PDF のページ数",
    "max_image_pixels": "画像の画素数",
    "max_pdf_decoded_bytes": "PDF の展開後の大きさ",
    "max_extraction_seconds": "書類の読み取り時間",
    "max_extraction_memory_bytes": "書類の読み取りに使うメモリ",
}
# Units for the limits that are not sizes in bytes, which are shown in MB.
LIMIT_UNITS: dict[str, str] = {
    "max_members": "個",
    "max_depth": "階層",
    "max_compression_ratio": "倍",
    "max_pdf_pages": "ページ",
    "max_image_pixels": "画素",
    "max_extraction_seconds": "秒",
}
# Page counts stop one page past the limit (a PDF may claim any number of pages), so a
# count of exactly maximum + 1 means only that the limit was passed.
_COUNTED_ONE_PAST_LIMIT = frozenset({"max_pdf_pages"})
# Limits that stop a reader part of the way through a file, rather than before opening it.
_STOPPED_WHILE_READING = frozenset({"max_pdf_decoded_bytes", "max_extraction_seconds", "max_extraction_memory_bytes"})

IMAGE_TYPES = frozenset({"jpeg", "png", "gif", "tiff", "bmp", "webp", "heic", "avif"})


@dataclass(frozen=True)
class LimitExceeded:
    """One limit that a message or file is over.

    ``value`` is the measured value, or None where the reader stopped before measuring
    it exactly (Pillow refuses images above twice its own limit before giving a size).
    """

    limit: str
    value: int | float | None
    maximum: int | float

    def describe(self) -> str:
        """Return the defect sentence, e.g. ``over limit max_members: 1200 > 1000; not read``."""
        measured = f"more than {self.maximum}" if self.value is None else f"{self.value} > {self.maximum}"
        return f"over limit {self.limit}: {measured}; not read"

    def label(self) -> str:
        """Return a Japanese sentence for staff naming the limit and the value.

        For example ``PDF のページ数が上限を超えているため開いていません: 100 ページを超えています``
        or ``展開後のファイルの大きさが上限を超えているため開いていません: 2,048MB（上限 32MB）``.
        """
        name = LIMIT_LABELS.get(self.limit, self.limit)
        bound_only = self.value is None or (self.limit in _COUNTED_ONE_PAST_LIMIT and self.value == self.maximum + 1)
        if bound_only:
            measured = f"{self._amount(self.maximum, unit=True)}を超えています"
        else:
            measured = f"{self._amount(self.value)}（上限 {self._amount(self.maximum)}）"
        if self.limit in _STOPPED_WHILE_READING:
            return f"{name}が上限を超えたため、読み取りを中止しました: {measured}"
        return f"{name}が上限を超えているため開いていません: {measured}"

    def _amount(self, number: int | float, unit: bool = False) -> str:
        """Format ``number`` for staff: bytes always in MB, other amounts with their unit when ``unit``."""
        if self.limit not in LIMIT_UNITS:
            return f"{_format_number(number / MIB)}MB"
        return f"{_format_number(number)} {LIMIT_UNITS[self.limit]}" if unit else _format_number(number)


def _format_number(number: int | float) -> str:
    """Return ``number`` with thousands separators, and one decimal only when it has a fraction."""
    if isinstance(number, float) and not number.is_integer():
        return f"{number:,.1f}"
    return f"{int(number):,}"


def hold(attachment: Attachment, exceeded: LimitExceeded) -> None:
    """Mark ``attachment`` as over a limit so that no later stage reads it.

    Sets ``over_limit`` to the limit's name and adds the defect. An attachment that is
    already held keeps its first reason, so expansion can safely run twice.
    """
    if attachment.over_limit is not None:
        return
    attachment.over_limit = exceeded.limit
    attachment.defects.append(exceeded.describe())
    logger.debug("attachment held: limit=%s value=%s maximum=%s", exceeded.limit, exceeded.value, exceeded.maximum)


_DESCRIBED = re.compile(r"^over limit (?P<limit>\w+): (?:more than (?P<bound>[\d.]+)|(?P<value>[\d.]+) > (?P<maximum>[\d.]+)); not read$")


def held_limit(attachment: Attachment) -> LimitExceeded | None:
    """Return the limit that :func:`hold` recorded on ``attachment``, or None when it is not held.

    The limit is read back from the defect that :meth:`LimitExceeded.describe` wrote, so
    that staff can be shown :meth:`LimitExceeded.label` for files held before reading.
    """
    if attachment.over_limit is None:
        return None
    for defect in attachment.defects:
        found = _DESCRIBED.match(defect)
        if found is None or found["limit"] != attachment.over_limit:
            continue
        if found["bound"] is not None:
            return LimitExceeded(attachment.over_limit, None, _parse_number(found["bound"]))
        return LimitExceeded(attachment.over_limit, _parse_number(found["value"]), _parse_number(found["maximum"]))
    return LimitExceeded(attachment.over_limit, None, getattr(DEFAULT_LIMITS, attachment.over_limit, 0))


def _parse_number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def check_message_size(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> LimitExceeded | None:
    """Return the exceeded limit when the raw message is larger than ``max_message_bytes``."""
    if len(raw) > limits.max_message_bytes:
        return LimitExceeded("max_message_bytes", len(raw), limits.max_message_bytes)
    return None


def check_pdf_pages(payload: bytes, limits: Limits = DEFAULT_LIMITS) -> LimitExceeded | None:
    """Return the exceeded limit when the PDF has more than ``max_pdf_pages`` pages.

    Walks the page tree without parsing page contents and stops one page past the limit,
    so a PDF that lies in its page count cannot make this slow. Opening a PDF already
    inflates its cross-reference and object streams, so the walk runs in a sandboxed
    child with the stream budget of ``max_pdf_decoded_bytes``. Running out of time,
    memory or budget returns that limit instead. A PDF that pdfminer cannot open, or that
    needs a password, passes: the document reader reports those.
    """
    from mailflow.intake.sandbox import run_sandboxed

    outcome = run_sandboxed(functools.partial(_walk_pdf_pages, payload, limits),
                            limits.max_extraction_seconds, limits.max_extraction_memory_bytes)
    return outcome.exceeded or outcome.value


def _walk_pdf_pages(payload: bytes, limits: Limits) -> LimitExceeded | None:
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser

    with stream_budget(limits.max_pdf_decoded_bytes) as budget:
        try:
            document = PDFDocument(PDFParser(io.BytesIO(payload)))
            pages = sum(1 for _ in itertools.islice(PDFPage.create_pages(document), limits.max_pdf_pages + 1))
        except MemoryError:
            raise
        except Exception as exc:  # pdfminer raises many unrelated types on broken files
            logger.debug("PDF page count not available: %s", type(exc).__name__)
            pages = 0
    if budget.exceeded:
        return LimitExceeded("max_pdf_decoded_bytes", None, limits.max_pdf_decoded_bytes)
    if pages > limits.max_pdf_pages:
        return LimitExceeded("max_pdf_pages", pages, limits.max_pdf_pages)
    return None


def check_zip_member(info: zipfile.ZipInfo, limits: Limits = DEFAULT_LIMITS) -> LimitExceeded | None:
    """Return the limit one zip member passes by its declared size or compression ratio, or None."""
    if info.file_size > limits.max_member_bytes:
        return LimitExceeded("max_member_bytes", info.file_size, limits.max_member_bytes)
    if info.file_size > limits.ratio_grace_bytes:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_compression_ratio:
            return LimitExceeded("max_compression_ratio", round(ratio, 1), limits.max_compression_ratio)
    return None


def check_zip_members(infos: list[zipfile.ZipInfo], limits: Limits = DEFAULT_LIMITS) -> LimitExceeded | None:
    """Return the first limit that the members of a zip (an OOXML package) would pass once inflated.

    Reads only the declared sizes. CPython's zipfile (3.11) never returns more bytes than
    a member declares, so a member that lies about its size is cut, not inflated further.
    """
    if len(infos) > limits.max_members:
        return LimitExceeded("max_members", len(infos), limits.max_members)
    total = 0
    for info in infos:
        exceeded = check_zip_member(info, limits)
        if exceeded:
            return exceeded
        total += info.file_size
        if total > limits.max_total_bytes:
            return LimitExceeded("max_total_bytes", total, limits.max_total_bytes)
    return None


@functools.cache
def register_heif() -> None:
    """Teach Pillow to open HEIC/HEIF photos (iPhones send them, sometimes named .JPG)."""
    import pillow_heif

    pillow_heif.register_heif_opener()


def configure_pillow(limits: Limits = DEFAULT_LIMITS) -> None:
    """Set Pillow's process-wide decompression-bomb limit to ``max_image_pixels``.

    Call once at start-up, so that every later Pillow use in the process (document
    readers, PDF page rendering) stops at the same limit as :func:`check_image_pixels`.
    """
    from PIL import Image

    register_heif()
    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels


_PIXELS_IN_MESSAGE = re.compile(r"\((\d+) pixels\)")


def image_header(payload: bytes) -> tuple[str, int, int] | None:
    """Return (format, width, height) from the image header, or None if Pillow cannot open it.

    ``format`` is Pillow's name in lower case (``jpeg``, ``png``, ``heif``). Only the
    header is read: no pixel data is decoded and no metadata is returned. Raises
    PIL.Image.DecompressionBombError for images above twice Pillow's MAX_IMAGE_PIXELS,
    before any size is known.
    """
    from PIL import Image, UnidentifiedImageError

    register_heif()
    with warnings.catch_warnings():
        # The caller checks the size against Limits; Pillow's warning would only repeat it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(payload)) as image:
                return (image.format or "unknown").lower(), image.width, image.height
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            logger.debug("image header not readable: %s", type(exc).__name__)
            return None


def check_image_pixels(payload: bytes, limits: Limits = DEFAULT_LIMITS) -> LimitExceeded | None:
    """Return the exceeded limit when the image has more than ``max_image_pixels`` pixels."""
    from PIL import Image

    try:
        header = image_header(payload)
    except Image.DecompressionBombError as exc:
        # Pillow gives the pixel count only in its message.
        found = _PIXELS_IN_MESSAGE.search(str(exc))
        value = int(found.group(1)) if found else None
        return LimitExceeded("max_image_pixels", value, limits.max_image_pixels)
    if header is None:
        return None
    pixels = header[1] * header[2]
    if pixels > limits.max_image_pixels:
        return LimitExceeded("max_image_pixels", pixels, limits.max_image_pixels)
    return None
