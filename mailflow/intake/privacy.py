"""Find individual numbers (マイナンバー) in text without ever keeping one.

An individual number is 12 digits whose last digit is the statutory check digit over
the first 11 (the formula is on :func:`check_digit`). This module finds them as people and PDF extractors
write them: plain, grouped 4-4-4 with spaces or hyphens, in full-width digits, one digit
per box, or cut by a line break. Results carry the position and a masked form only, so
that no result, repr or log line can leak the number.
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass

logger = logging.getLogger(__name__)

DIGIT_COUNT = 12

_DIGIT = "0-9\uff10-\uff19"  # ASCII and full-width digits
# Hyphen-like characters that Japanese input methods produce between digit groups,
# including the katakana prolonged sound mark that a slip of the IME often gives.
_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d\u30fc\uff70"
_SPACES = " \t\u3000"
# A line break between digits, as PDF text extraction writes a number that wrapped.
_LINE_BREAK = f"[{_SPACES}]*\\r?\\n[{_SPACES}]*"
_SEPARATOR = f"(?:{_LINE_BREAK}|[{_SPACES}]{{1,3}}|[{_SPACES}]?[{re.escape(_HYPHENS)}][{_SPACES}]?)"
# A maximal chain of digit groups joined by separators. Possessive quantifiers keep the
# scan linear on long digit runs.
_CHAIN = re.compile(f"[{_DIGIT}]++(?:{_SEPARATOR}[{_DIGIT}]++)*+")
_GROUP = re.compile(f"[{_DIGIT}]+")
_LINE_BREAK_RE = re.compile(_LINE_BREAK)
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
# A decimal point or thousands separator between digits makes the chain part of a
# longer number (3.141592653589, 1,234,567,890,123).
_NUMBER_JOINERS = ".,\uff0e\uff0c"

# Group lengths of a written individual number: one run, 4-4-4, or one digit per box.
_ACCEPTED_SHAPES = ((12,), (4, 4, 4), (1,) * 12)


@dataclass(frozen=True)
class IndividualNumberMatch:
    """Position of an individual number in a text (``text[start:end]``) and a masked copy of it.

    ``masked`` keeps the layout (spaces, hyphens, full-width forms) with every digit
    replaced, e.g. ``"****-****-****"``. The digits themselves are not stored anywhere in
    this object, so its repr and str are safe to log.
    """

    start: int
    end: int
    masked: str
    where: str = "text"


def check_digit(first_eleven: str) -> int:
    """Return the check digit of an individual number from its first 11 digits.

    P1..P11 are the digits counted from the right (P1 is the digit just before the
    check digit), Q = n + 1 for n <= 6 and n - 5 for n >= 7, r = sum(P * Q) mod 11, and
    the check digit is 0 when r <= 1, otherwise 11 - r. Raises ValueError unless given
    exactly 11 ASCII digits.
    """
    if len(first_eleven) != DIGIT_COUNT - 1 or not first_eleven.isascii() or not first_eleven.isdigit():
        raise ValueError("check_digit needs exactly 11 ASCII digits")
    total = 0
    for n, digit in enumerate(reversed(first_eleven), start=1):
        weight = n + 1 if n <= 6 else n - 5
        total += int(digit) * weight
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_valid_individual_number(digits: str) -> bool:
    """Return True when ``digits`` is exactly 12 digits (ASCII or full-width) with a valid check digit."""
    plain = digits.translate(_FULL_WIDTH_DIGITS)
    if len(plain) != DIGIT_COUNT or not plain.isascii() or not plain.isdigit():
        return False
    return check_digit(plain[:-1]) == int(plain[-1])


def find_individual_numbers(text: str, where: str = "text") -> list[IndividualNumberMatch]:
    """Return every individual number in ``text``, in order of position.

    Digits joined by spaces, hyphens or line breaks form a chain. A chain matches as a
    whole when it contains 12 digits written as one run, as 4-4-4 groups or one digit per
    group, also after rejoining groups that a line break cut. Otherwise a 12-digit run in
    it, or a part whose groups share one separator kind (3829-1647-3052 followed by a
    space and a year), may match on its own. Digits of a longer run or a decimal number
    never match. Every candidate must have a valid check digit, so phone numbers, dates,
    postal codes and 11- and 13-digit runs do not match. ``where`` is copied into each
    match to say which carrier (text, filename) was read.
    """
    matches: list[IndividualNumberMatch] = []
    for chain in _CHAIN.finditer(text):
        if _inside_longer_number(text, chain.start(), chain.end()):
            continue
        for start, end in _candidates(chain):
            digits = "".join(_GROUP.findall(text, start, end))
            if is_valid_individual_number(digits):
                matches.append(IndividualNumberMatch(start, end, _mask(text[start:end]), where))
    return matches


def contains_individual_number(text: str) -> bool:
    """Return True when ``text`` contains at least one individual number."""
    return bool(find_individual_numbers(text))


def mask_individual_numbers(text: str) -> str:
    """Return ``text`` with the digits of every individual number replaced by ``*``.

    Use it on anything that is logged, shown to staff or mailed and may quote an
    applicant's words. Full-width digits become ``＊`` so that the layout stays the same.
    """
    pieces: list[str] = []
    position = 0
    for match in find_individual_numbers(text):
        pieces.append(text[position:match.start])
        pieces.append(match.masked)
        position = match.end
    pieces.append(text[position:])
    return "".join(pieces)


def scan_document(filename: str | None, text: str) -> list[IndividualNumberMatch]:
    """Return the individual numbers in a document's file name and in its extracted text.

    Matches in the file name have ``where="filename"``; those in the text ``where="text"``.
    """
    found = find_individual_numbers(filename or "", where="filename")
    found.extend(find_individual_numbers(text, where="text"))
    if found:
        logger.info("individual number found: count=%d carriers=%s", len(found), sorted({m.where for m in found}))
    return found


def _inside_longer_number(text: str, start: int, end: int) -> bool:
    before = text[start - 2:start] if start >= 2 else ""
    after = text[end:end + 2]
    joined_before = len(before) == 2 and before[1] in _NUMBER_JOINERS and _is_digit(before[0])
    joined_after = len(after) == 2 and after[0] in _NUMBER_JOINERS and _is_digit(after[1])
    return joined_before or joined_after


def _candidates(chain: re.Match[str]) -> list[tuple[int, int]]:
    """Return the (start, end) spans in a chain that may be one individual number."""
    if _has_accepted_shape(chain.group()):
        return [chain.span()]
    groups = list(_GROUP.finditer(chain.string, chain.start(), chain.end()))
    kinds = [_separator_kind(chain.string[left.end():right.start()]) for left, right in zip(groups, groups[1:])]
    spans = [group.span() for group in groups if len(group.group()) == DIGIT_COUNT]
    # A run of groups joined by one kind of separator is written as one number, such as
    # 3829-1647-3052 in a chain that goes on after a space. Line breaks join nothing
    # here, because the whole-chain check above has already rejoined wrapped groups.
    position = 0
    for kind, separators in itertools.groupby(kinds):
        count = len(list(separators))
        run = groups[position:position + count + 1]
        position += count
        shape = tuple(len(group.group()) for group in run)
        if kind != "break" and shape in _ACCEPTED_SHAPES:
            spans.append((run[0].start(), run[-1].end()))
    return sorted(spans)


def _separator_kind(separator: str) -> str:
    if "\n" in separator:
        return "break"
    if any(char in _HYPHENS for char in separator):
        return "hyphen"
    return "space"


def _has_accepted_shape(chain: str) -> bool:
    # A line break may separate groups (4-4-4 over two lines) or cut one group where the
    # text wrapped, so the chain passes when either reading gives an accepted shape.
    split = tuple(len(group) for group in _GROUP.findall(chain))
    rejoined: list[int] = []
    for line_piece in _LINE_BREAK_RE.split(chain):
        groups = _GROUP.findall(line_piece)
        if rejoined and groups:
            rejoined[-1] += len(groups[0])
            groups = groups[1:]
        rejoined.extend(len(group) for group in groups)
    return split in _ACCEPTED_SHAPES or tuple(rejoined) in _ACCEPTED_SHAPES


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9" or "\uff10" <= char <= "\uff19"


def _mask(chain: str) -> str:
    def mask_group(group: re.Match[str]) -> str:
        return "".join("*" if char.isascii() else "＊" for char in group.group())

    return _GROUP.sub(mask_group, chain)
