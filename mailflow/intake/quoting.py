"""Cut quoted replies and forwarded blocks out of a mail body; match rule patterns on NFKC text.

Mail clients mark quoted text in a handful of ways: ``>`` at the start of a line, an
attribution line (Gmail 「2026年12月2日(水) 14:03 名前 <addr>:」, "On … wrote:", iPhone
「2026/12/02 14:03、名前 <addr>のメール:」), a separator (Outlook 「-----Original Message-----」,
Thunderbird "-------- Forwarded Message --------") or an Outlook header block
(「差出人:」/"From:" followed by 「送信日時:」, "Sent:", 「件名:」 …). Every marker is matched
on the NFKC form of the line, so full-width and half-width spellings (＞, ：, ２０２６) match
alike, while the returned text keeps the characters as written.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from email.utils import parseaddr

from mailflow.rules import RuleFile

# Characters that clients and people use to draw separator lines: ASCII hyphen, Unicode
# dashes, box-drawing lines, the katakana prolonged sound mark and underscores.
_DASH = r"[-‐‑‒–—―─━ー_]"

_QUOTE_LINE = re.compile(r"^\s*>")

_ORIGINAL_SEPARATOR = re.compile(
    rf"^{_DASH}{{2,}}\s*(original message|元のメッセージ|元メッセージ|オリジナルメッセージ)\s*{_DASH}*$",
    re.IGNORECASE,
)
_FORWARD_SEPARATOR = re.compile(
    rf"^{_DASH}{{2,}}\s*(forwarded message|転送メッセージ|転送されたメッセージ)\s*{_DASH}*$"
    r"|^(begin forwarded message|転送されたメッセージ|転送メッセージ)\s*:$",
    re.IGNORECASE,
)
# A bare rule line directly above an Outlook header block (new Outlook draws 32 underscores).
_RULE_LINE = re.compile(rf"^{_DASH}{{8,}}$")

_HEADER_FROM = re.compile(r"^(from|差出人|送信者)\s*:\s*(?P<value>.*)$", re.IGNORECASE)
_HEADER_SUBJECT = re.compile(r"^(subject|件名)\s*:", re.IGNORECASE)
# Any header line of a forwarded block: a short label and a colon.
_HEADER_LINE = re.compile(r"^[^\s:]{1,30}\s*:")
_HEADER_OTHER = re.compile(
    r"^(sent|date|to|cc|subject|送信日時|送信日|日付|日時|宛先|件名)\s*:", re.IGNORECASE
)
# How many lines after a From line may hold the rest of the header block.
_HEADER_BLOCK_LINES = 5

_DATE = r"\d{4}\s*[年/.-]\s*\d{1,2}\s*[月/.-]\s*\d{1,2}\s*日?"
_ATTRIBUTION = re.compile(
    # English clients: "On Wed, Dec 2, 2026 at 2:03 PM Name <addr> wrote:"
    r"^on\s.+\swrote\s*:$"
    # Any client: "Name wrote:", Thunderbird Japanese 「名前 さんは書きました:」
    r"|^.+\swrote\s*:$|^.+(さんは|が)書きました\s*:?$"
    # Gmail and iPhone in Japanese: a date, a time, the sender, then a colon
    rf"|^{_DATE}.*\d{{1,2}}:\d{{2}}.*(@|のメール|のメッセージ).*:$",
    re.IGNORECASE,
)
# Gmail wraps a long attribution line; try joining up to this many lines.
_ATTRIBUTION_MAX_LINES = 3

# A multi-line attribution must start like one, so that a body line above "… wrote:" stays.
_ATTRIBUTION_START = re.compile(rf"^on\s|^{_DATE}", re.IGNORECASE)
_LABEL_SEPARATOR = re.compile(r"[:：]")

_FORWARD_SUBJECT = re.compile(r"^\s*((re|aw)\s*:\s*)*(fwd?|転送)\s*:", re.IGNORECASE)


@dataclass
class ForwardBlock:
    """A message forwarded inline in a body: its sender, its subject and its text.

    ``sender`` is the value of the forwarded From (or 差出人) line as written.
    ``sender_address`` is the address in it, or None when the line carries only a name.
    ``subject`` comes from the Subject (or 件名) line, and ``text`` is what follows the
    header lines.
    """

    sender: str
    sender_address: str | None
    subject: str | None
    text: str


def normalize_text(text: str) -> str:
    """Return ``text`` in NFKC form without surrounding white space, the form every rule matches."""
    return unicodedata.normalize("NFKC", text).strip()


def read_patterns(rule_file: RuleFile, key: str, values: object = None) -> list[re.Pattern[str]]:
    """Compile the regular expressions under ``key`` (or ``values``, read from that key).

    Patterns are case-insensitive and matched against text in NFKC form. A pattern that
    NFKC would change (a full-width ？ meant as the literal ``\\?``, a full-width digit)
    could never match as written, so it is recorded as a problem of ``rule_file``. So is
    a value that is not a list of strings or not a valid regular expression.
    """
    if values is None:
        values = rule_file.string_list(key)
    elif not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        rule_file.problem(key, values, "文字列の配列でなければなりません")
        return []
    stable = []
    for value in values:
        if unicodedata.normalize("NFKC", value) != value:
            rule_file.problem(key, value, "全角英数字・記号を含みます。照合は NFKC 正規化した本文に対して行うため、半角で書いてください")
        else:
            stable.append(value)
    return [re.compile(pattern.pattern, re.IGNORECASE) for pattern in rule_file.patterns(key, stable)]


def strip_quotes(text: str) -> str:
    """Return the sender's own words of a mail body, without quoted or forwarded text.

    Removes ``>`` lines wherever they are, so a reply written between quoted lines stays.
    Cuts everything from an 「Original Message」 or forward separator, or an Outlook header
    block, to the end. An attribution line is removed; when the quote under it is not
    marked with ``>``, everything from the attribution line on is cut too.
    Example: ``strip_quotes("了解です。\\n\\n> 元の文")`` returns ``"了解です。"``.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    normalized = [normalize_text(line) for line in lines]
    kept: list[str] = []
    index = 0
    while index < len(lines):
        if _is_cut_point(normalized, index):
            _drop_rule_line_above(kept)
            break
        attribution_end = _attribution_end(normalized, index)
        if attribution_end is not None:
            if not _quote_follows(normalized, attribution_end + 1):
                break
            index = attribution_end + 1
            continue
        if not _QUOTE_LINE.match(normalized[index]):
            kept.append(lines[index])
        index += 1
    return "\n".join(kept).strip()


def find_forward(text: str, subject: str = "") -> ForwardBlock | None:
    """Find a message forwarded inline in ``text`` and return its sender and text.

    Recognised: a forward separator ("---------- Forwarded message ---------",
    「-------- 転送メッセージ --------」, "Begin forwarded message:") followed by a From or
    差出人 line, and, when ``subject`` starts with FW:, Fwd: or 転送:, an Outlook header
    block with or without 「-----Original Message-----」 above it. Returns None otherwise.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    normalized = [normalize_text(line) for line in lines]
    outlook_forward = bool(_FORWARD_SUBJECT.match(normalize_text(subject)))
    for index, line in enumerate(normalized):
        marker = _FORWARD_SEPARATOR.match(line) or (
            outlook_forward and _ORIGINAL_SEPARATOR.match(line)
        )
        if marker:
            block = _forward_from_lines(lines, normalized, index + 1)
        elif outlook_forward and _is_header_block(normalized, index):
            block = _forward_from_lines(lines, normalized, index)
        else:
            continue
        if block is not None:
            return block
    return None


def _is_cut_point(normalized: list[str], index: int) -> bool:
    line = normalized[index]
    if _ORIGINAL_SEPARATOR.match(line) or _FORWARD_SEPARATOR.match(line):
        return True
    return _is_header_block(normalized, index)


def _is_header_block(normalized: list[str], index: int) -> bool:
    """Tell whether a From/差出人 line at ``index`` starts a quoted header block."""
    if not _HEADER_FROM.match(normalized[index]):
        return False
    following = normalized[index + 1 : index + 1 + _HEADER_BLOCK_LINES]
    return any(_HEADER_OTHER.match(line) for line in following)


def _drop_rule_line_above(kept: list[str]) -> None:
    while kept and not kept[-1].strip():
        kept.pop()
    if kept and _RULE_LINE.match(normalize_text(kept[-1])):
        kept.pop()


def _attribution_end(normalized: list[str], index: int) -> int | None:
    """Return the last line index of an attribution starting at ``index``, or None."""
    if not normalized[index]:
        return None
    if _ATTRIBUTION.match(normalized[index]):
        return index
    if not _ATTRIBUTION_START.match(normalized[index]):
        return None
    joined = normalized[index]
    for end in range(index + 1, min(index + _ATTRIBUTION_MAX_LINES, len(normalized))):
        if not normalized[end]:
            return None
        joined = f"{joined} {normalized[end]}"
        if _ATTRIBUTION.match(joined):
            return end
    return None


def _quote_follows(normalized: list[str], index: int) -> bool:
    for line in normalized[index:]:
        if line:
            return bool(_QUOTE_LINE.match(line))
    return True


def _forward_from_lines(lines: list[str], normalized: list[str], start: int) -> ForwardBlock | None:
    """Read the header lines that follow a forward marker; None without a From/差出人 line."""
    index = start
    while index < len(lines) and not normalized[index]:
        index += 1
    sender = sender_value = subject = None
    while index < len(lines) and _HEADER_LINE.match(normalized[index]):
        value = _LABEL_SEPARATOR.split(lines[index], maxsplit=1)[-1].strip()
        if sender is None and _HEADER_FROM.match(normalized[index]):
            sender, sender_value = value, _HEADER_FROM.match(normalized[index]).group("value")
        elif subject is None and _HEADER_SUBJECT.match(normalized[index]):
            subject = value
        index += 1
    if sender is None:
        return None
    _, address = parseaddr(sender_value or "")
    return ForwardBlock(
        sender=sender,
        sender_address=address if "@" in address else None,
        subject=subject,
        text="\n".join(lines[index:]).strip(),
    )
