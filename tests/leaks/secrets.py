"""The forms a secret can take in stored bytes, and a search that reports where one was found."""

from __future__ import annotations

import base64
import re
from pathlib import Path

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def base64_forms(secret: bytes) -> list[bytes]:
    """Return the base64 text ``secret`` takes inside a longer base64 body, at each of the three alignments."""
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + secret)
        # Drop the characters that depend on the neighbouring bytes.
        forms.append(encoded[4 * ((shift + 2) // 3) if shift else 0:][:-4])
    return forms


def number_forms(number: str) -> list[bytes]:
    """Return every byte form of a 12-digit number that a leak search must look for.

    Plain, grouped 4-4-4 with a space or a hyphen, full-width (UTF-8, UTF-16 and cp932
    text), and base64 of the plain and full-width UTF-8 text.
    """
    grouped = [f"{number[:4]}{separator}{number[4:8]}{separator}{number[8:]}" for separator in (" ", "-")]
    texts = [number, *grouped, number.translate(FULL_WIDTH)]
    forms = [text.encode("utf-8") for text in texts]
    forms.append(number.translate(FULL_WIDTH).encode("cp932"))
    forms.append(number.translate(FULL_WIDTH).encode("utf-16-le"))
    forms.append(number.encode("utf-16-le"))
    for text in (number, number.translate(FULL_WIDTH)):
        forms.extend(base64_forms(text.encode("utf-8")))
    return forms


def text_forms(value: str) -> list[bytes]:
    """Return the forms of a personal value in text: UTF-8 and its base64 at every alignment."""
    encoded = value.encode("utf-8")
    return [encoded, *base64_forms(encoded)]


def unfolded(data: bytes) -> bytes:
    """Return ``data`` without line breaks, so that base64 folded over lines is found whole."""
    return re.sub(rb"\r?\n", b"", data)


def found_in(data: bytes, forms: list[bytes]) -> list[bytes]:
    """Return the forms that occur in ``data``, also across folded base64 lines."""
    flat = unfolded(data)
    return [form for form in forms if form and (form in data or form in flat)]


def files_containing(root: Path, forms: list[bytes]) -> list[str]:
    """Return the paths under ``root`` (relative) whose bytes contain one of ``forms``."""
    hits = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and found_in(path.read_bytes(), forms):
            hits.append(str(path.relative_to(root)))
    return hits
