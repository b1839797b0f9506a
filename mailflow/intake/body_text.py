"""Shape decoded body text as a mail client shows it: "\\n" line ends, flowed lines joined."""

from __future__ import annotations

import re

_LINE_END = re.compile(r"\r\n|\r")
_SIGNATURE_SEPARATOR = "-- "


def normalise_newlines(text: str) -> str:
    """Replace CRLF and lone CR line ends with "\\n"."""
    return _LINE_END.sub("\n", text)


def join_body_texts(texts: list[str]) -> str:
    """Join body parts in order, starting each part on a new line.

    iPhone Mail splits one text around an inline photo into two parts, and both are kept.
    """
    joined = ""
    for text in texts:
        if joined and not joined.endswith("\n"):
            joined += "\n"
        joined += text
    return joined


def unflow(text: str, delsp: bool) -> str:
    """Join the soft-broken lines of format=flowed text (RFC 3676) into paragraphs.

    A line ending in a space continues on the next line of the same quote depth. With
    ``delsp`` that space is removed, which clients request for languages written without
    spaces. Space-stuffing is undone, the signature separator "-- " never flows, and
    quoted lines keep their ``>`` marks.
    """
    out: list[str] = []
    paragraph: list[str] = []
    prefix = ""
    depth = -1
    for line in text.split("\n"):
        line_depth = len(line) - len(line.lstrip(">"))
        content = line[line_depth:]
        stuffed = content.startswith(" ")
        if stuffed:
            content = content[1:]
        flowed = content.endswith(" ") and content != _SIGNATURE_SEPARATOR
        if flowed and delsp:
            content = content[:-1]
        if paragraph and line_depth != depth:
            out.append(prefix + "".join(paragraph))
            paragraph = []
        if not paragraph:
            depth = line_depth
            prefix = line[:line_depth] + (" " if stuffed and line_depth else "")
        paragraph.append(content)
        if not flowed:
            out.append(prefix + "".join(paragraph))
            paragraph = []
    if paragraph:
        out.append(prefix + "".join(paragraph))
    return "\n".join(out)
