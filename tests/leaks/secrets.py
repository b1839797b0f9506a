"""The forms a secret can take in stored bytes, and a search that reports where one was found."""

from __future__ import annotations

import base64
import codecs
import email
import email.errors
import email.header
import email.policy
import re

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


MIN_BASE64_FORM = 8
"""Shorter base64 fragments occur by chance in any attachment; :func:`decoded_mail` covers short values."""


def base64_forms(secret: bytes) -> list[bytes]:
    """Return the base64 text ``secret`` takes inside a longer base64 body, at each of the three alignments."""
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + secret)
        # Drop the characters that depend on the neighbouring bytes.
        form = encoded[4 * ((shift + 2) // 3) if shift else 0:][:-4]
        if len(form) >= MIN_BASE64_FORM:
            forms.append(form)
    return forms


def decoded_mail(raw: bytes) -> bytes:
    """Return the decoded header values and part bodies of a mail, so that any encoding is searched.

    Text parts are also given as UTF-8, whatever their charset.
    """
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    pieces = []
    for part in message.walk():
        for value in part.values():
            try:
                pieces.append(str(email.header.make_header(email.header.decode_header(value))).encode("utf-8"))
            except (UnicodeError, LookupError, email.errors.HeaderParseError):
                continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            pieces.append(payload)
            charset = part.get_content_charset()
            if part.get_content_maintype() == "text" and charset:
                pieces.append(payload.decode(_codec(charset), "replace").encode("utf-8"))
    return b"\n".join(pieces)


def _codec(charset: str) -> str:
    try:
        codecs.lookup(charset)
    except LookupError:
        return "utf-8"
    return "cp932" if charset.lower().replace("-", "_") in ("shift_jis", "sjis") else charset


def number_forms(number: str) -> list[bytes]:
    """Return every byte form of a 12-digit number that a leak search must look for.

    Plain, grouped 4-4-4 with a space or a hyphen, full-width (UTF-8, UTF-16, cp932,
    EUC-JP and ISO-2022-JP text), and base64 of the plain and full-width UTF-8 text.
    """
    grouped = [f"{number[:4]}{separator}{number[4:8]}{separator}{number[8:]}" for separator in (" ", "-")]
    texts = [number, *grouped, number.translate(FULL_WIDTH)]
    forms = [text.encode("utf-8") for text in texts]
    forms.append(number.translate(FULL_WIDTH).encode("cp932"))
    forms.append(number.translate(FULL_WIDTH).encode("euc_jp"))
    # ISO-2022-JP writes full-width digits as JIS pairs between escape sequences.
    forms.append(number.translate(FULL_WIDTH).encode("iso2022_jp")[3:-3])
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
