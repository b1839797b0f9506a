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
from dataclasses import dataclass

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


DEFAULT_LIMITS = Limits()

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
}

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
        """Return a Japanese sentence for staff naming the limit and the value."""
        name = LIMIT_LABELS.get(self.limit, self.limit)
        measured = f"{self.maximum} を超えています" if self.value is None else f"{self.value}（上限 {self.maximum}）"
        return f"{name}が上限を超えているため開いていません: {measured}"


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


def check_message_size(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> LimitExceeded | None:
    """Return the exceeded limit when the raw message is larger than ``max_message_bytes``."""
    if len(raw) > limits.max_message_bytes:
        return LimitExceeded("max_message_bytes", len(raw), limits.max_message_bytes)
    return None


def check_pdf_pages(payload: bytes, limits: Limits = DEFAULT_LIMITS) -> LimitExceeded | None:
    """Return the exceeded limit when the PDF has more than ``max_pdf_pages`` pages.

    Walks the page tree without parsing page contents and stops one page past the limit,
    so a PDF that lies in its page count cannot make this slow. A PDF that pdfminer cannot
    open, or that needs a password, passes: the document reader reports those.
    """
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser

    try:
        document = PDFDocument(PDFParser(io.BytesIO(payload)))
        pages = sum(1 for _ in itertools.islice(PDFPage.create_pages(document), limits.max_pdf_pages + 1))
    except Exception as exc:  # pdfminer raises many unrelated types on broken files
        logger.debug("PDF page count not available: %s", type(exc).__name__)
        return None
    if pages > limits.max_pdf_pages:
        return LimitExceeded("max_pdf_pages", pages, limits.max_pdf_pages)
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
