"""Maskers for text kept from a mail: individual numbers, passwords, and HTML without breaking it.

A masker is a function from text to text that replaces what must not be stored and
leaves everything else. Every masker here is idempotent (masking masked text changes
nothing), which :func:`mask_html` relies on to check its own result.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from mailflow.intake.privacy import mask_individual_numbers

Masker = Callable[[str], str]

PASSWORD_MASK = "********"

# Runs of printable ASCII and of their full-width forms (U+FF01..U+FF5E), which is what
# a password is written in. Runs of asterisks alone are what a mask left, so they stay.
_ASCII_RUN = re.compile(r"[!-~\uff01-\uff5e]+")
_MASK_ONLY = re.compile(r"[*\uff0a]+")
_TAG_OR_COMMENT = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)
_ATTRIBUTE_VALUE = re.compile(r"""(=\s*)("[^"]*"|'[^']*')""")
_META_CHARSET = re.compile(r"""(<meta[^>]+charset\s*=\s*["']?\s*)([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def mask_password_notice(text: str) -> str:
    """Return ``text`` with every run of ASCII characters (or their full-width forms) masked.

    Used on a mail whose only purpose is to carry the password of an earlier attachment.
    Where the password sits cannot be found reliably (「パスワードは下記です」 and the
    password on the next line), so every such run becomes PASSWORD_MASK, whose fixed
    length hides the password's length. Japanese words stay readable.
    """
    return _ASCII_RUN.sub(lambda run: run.group() if _MASK_ONLY.fullmatch(run.group()) else PASSWORD_MASK, text)


def chain(*maskers: Masker) -> Masker:
    """Return a masker that applies ``maskers`` in order."""
    def masked(text: str) -> str:
        for masker in maskers:
            text = masker(text)
        return text

    return masked


def intake_masker(password_notice: bool) -> Masker:
    """Return the masker for a received mail: individual numbers always, passwords in a password notice."""
    if password_notice:
        return chain(mask_individual_numbers, mask_password_notice)
    return mask_individual_numbers


def mask_html(document: str, masker: Masker) -> str:
    """Return the HTML ``document`` with its text and attribute values masked, tags kept.

    Text between tags is unescaped before masking and escaped again only where it
    changed, so untouched text keeps its exact bytes. Something to mask may still be
    visible once the tags are removed, such as a number split by tags
    (``3829<b>1647</b>3052``). Then the document is replaced by its masked visible text
    in a ``<pre>`` element, which loses the layout but not the text.
    """
    pieces: list[str] = []
    position = 0
    for tag in _TAG_OR_COMMENT.finditer(document):
        pieces.append(_mask_text_between_tags(document[position:tag.start()], masker))
        pieces.append(_mask_attribute_values(tag.group(), masker))
        position = tag.end()
    pieces.append(_mask_text_between_tags(document[position:], masker))
    masked = "".join(pieces)
    visible = html_visible_text(masked)
    if masker(visible) != visible:
        return "<pre>" + html.escape(masker(visible), quote=False) + "</pre>"
    return masked


def html_visible_text(document: str) -> str:
    """Return the text of an HTML document with tags and comments removed and entities decoded."""
    return html.unescape(_TAG_OR_COMMENT.sub("", document))


def declare_utf8(document: str) -> str:
    """Return ``document`` with the charset of its ``<meta>`` tag set to utf-8, as its new encoding is."""
    return _META_CHARSET.sub(lambda match: match.group(1) + "utf-8", document)


def _mask_text_between_tags(text: str, masker: Masker) -> str:
    plain = html.unescape(text)
    masked = masker(plain)
    return text if masked == plain else html.escape(masked, quote=False)


def _mask_attribute_values(tag: str, masker: Masker) -> str:
    if tag.startswith("<!--"):
        return "<!--" + masker(tag[4:-3]) + "-->"

    def mask_value(match: re.Match[str]) -> str:
        quote = match.group(2)[0]
        plain = html.unescape(match.group(2)[1:-1])
        masked = masker(plain)
        if masked == plain:
            return match.group()
        return match.group(1) + quote + html.escape(masked, quote=True) + quote

    return _ATTRIBUTE_VALUE.sub(mask_value, tag)
