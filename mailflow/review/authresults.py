"""Parse Authentication-Results header fields (RFC 8601) and find the one our server wrote.

Comments (nested, with quoted pairs, and containing ';' as Gmail writes them) and quoted
strings are handled as RFC 5322 defines them; CFWS around '=', '.' and '/' is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mailflow.errors import MailflowError
from mailflow.intake.headers import unfold
from mailflow.intake.message import Message

AUTH_RESULTS_HEADER = "Authentication-Results"

_TOKEN = re.compile(r'\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<equals>=)|(?P<word>[^\s="]+))', re.DOTALL)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
_VERSION = re.compile(r"\d+")


class AuthResultsSyntaxError(MailflowError):
    """An Authentication-Results value that does not follow the RFC 8601 grammar."""


@dataclass(frozen=True)
class MethodResult:
    """One resinfo of a header, e.g. ``MethodResult("dkim", "pass", None, {"header.d": "example.jp"})``.

    ``method`` and ``result`` are lower case; property names (``ptype.property``) too.
    """

    method: str
    result: str
    reason: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthenticationResults:
    """One parsed Authentication-Results header: who wrote it and what it found."""

    authserv_id: str
    version: int | None
    results: tuple[MethodResult, ...]


def remove_comments(value: str) -> str:
    """Return ``value`` with RFC 5322 comments (nested, with quoted pairs) replaced by a space.

    Quoted strings are kept as they are, so a parenthesis inside quotes stays.
    Raises AuthResultsSyntaxError on an unbalanced parenthesis or quote.
    """
    out: list[str] = []
    depth = 0
    in_quotes = False
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\" and (depth or in_quotes) and index + 1 < len(value):
            if in_quotes:
                out.append(value[index : index + 2])
            index += 2
            continue
        if in_quotes:
            in_quotes = char != '"'
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                raise AuthResultsSyntaxError("unbalanced ')' in Authentication-Results")
            depth -= 1
            out.append(" " if depth == 0 else "")
        elif depth == 0:
            in_quotes = char == '"'
            out.append(char)
        index += 1
    if depth or in_quotes:
        raise AuthResultsSyntaxError("unterminated comment or quoted string in Authentication-Results")
    return "".join(out)


def parse_authentication_results(value: str) -> AuthenticationResults:
    """Parse one Authentication-Results value (RFC 8601 section 2.2), comments removed.

    Example: ``"mx.bureau.example.jp; spf=pass (ok) smtp.mailfrom=user@example.jp"``
    gives authserv-id ``"mx.bureau.example.jp"`` and one result ``spf=pass`` with
    ``{"smtp.mailfrom": "user@example.jp"}``. ``none`` gives no results.
    Raises AuthResultsSyntaxError when the value does not follow the grammar.
    """
    segments = _split_semicolons(remove_comments(unfold(value)))
    head = _tokens(segments[0])
    if not head or head[0][0] == "=" or len(head) > 2:
        raise AuthResultsSyntaxError("Authentication-Results has no valid authserv-id")
    authserv_id = head[0][1]
    version = None
    if len(head) == 2:
        if not _VERSION.fullmatch(head[1][1]):
            raise AuthResultsSyntaxError("Authentication-Results version is not a number")
        version = int(head[1][1])
    rest = segments[1:]
    if len(rest) == 1 and rest[0].strip().lower() == "none":
        return AuthenticationResults(authserv_id, version, ())
    if not rest:
        raise AuthResultsSyntaxError("Authentication-Results has neither results nor 'none'")
    return AuthenticationResults(authserv_id, version, tuple(_resinfo(segment) for segment in rest))


def _split_semicolons(value: str) -> list[str]:
    parts, current, in_quotes, index = [], [], False, 0
    while index < len(value):
        char = value[index]
        if in_quotes and char == "\\":
            current.append(value[index : index + 2])
            index += 2
            continue
        if char == '"':
            in_quotes = not in_quotes
        if char == ";" and not in_quotes:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _tokens(segment: str) -> list[tuple[str, str]]:
    """Split a segment into ("=", "=") and ("value", text) tokens, quotes removed."""
    tokens: list[tuple[str, str]] = []
    position = 0
    segment = segment.rstrip()
    while position < len(segment):
        match = _TOKEN.match(segment, position)
        if match is None or match.end() == position:
            raise AuthResultsSyntaxError("unexpected character in Authentication-Results")
        if match.group("equals"):
            tokens.append(("=", "="))
        elif match.group("quoted") is not None:
            tokens.append(("value", _QUOTED_PAIR.sub(r"\1", match.group("quoted"))))
        else:
            tokens.append(("value", match.group("word")))
        position = match.end()
    return _join_dotted(tokens)


def _join_dotted(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Join words split by CFWS around '.' or '/' ("smtp . mailfrom", "dkim / 1")."""
    joined: list[tuple[str, str]] = []
    for kind, text in tokens:
        if joined and kind == "value" and joined[-1][0] == "value" and (
            text[:1] in "./" or joined[-1][1][-1:] in "./"
        ):
            joined[-1] = ("value", joined[-1][1] + text)
        else:
            joined.append((kind, text))
    return joined


def _resinfo(segment: str) -> MethodResult:
    tokens = _tokens(segment)
    if len(tokens) < 3 or tokens[1][0] != "=" or tokens[0][0] != "value" or tokens[2][0] != "value":
        raise AuthResultsSyntaxError("Authentication-Results result is not 'method=result'")
    method = tokens[0][1].split("/", 1)[0].lower()
    result = tokens[2][1].lower()
    reason = None
    properties: dict[str, str] = {}
    rest = tokens[3:]
    if len(rest) % 3:
        raise AuthResultsSyntaxError("Authentication-Results property is not 'ptype.property=value'")
    for start in range(0, len(rest), 3):
        name, equals, value = rest[start : start + 3]
        if equals[0] != "=" or name[0] != "value" or value[0] != "value":
            raise AuthResultsSyntaxError("Authentication-Results property is not 'ptype.property=value'")
        key = name[1].lower()
        if key == "reason" and reason is None:
            reason = value[1]
        else:
            # Keys without a ptype (Exchange Online writes "action=none") break the
            # grammar but carry nothing this module reads, so they are kept, not fatal.
            properties.setdefault(key, value[1])
    return MethodResult(method, result, reason, properties)


def trusted_results(message: Message, authserv_id: str) -> AuthenticationResults | None:
    """Return the topmost Authentication-Results header written by ``authserv_id``, or None.

    Headers below it are never read. A topmost matching header that cannot be parsed is
    returned as having no results, so that a forged valid copy below it cannot stand in.
    """
    wanted = authserv_id.strip().lower()
    if not wanted:
        return None
    for value in message.raw_header_all(AUTH_RESULTS_HEADER):
        if _authserv_id(value) != wanted:
            continue
        try:
            return parse_authentication_results(value)
        except AuthResultsSyntaxError:
            return AuthenticationResults(wanted, None, ())
    return None


def _authserv_id(value: str) -> str | None:
    """Return the authserv-id of a header value, lower case, read as leniently as possible."""
    try:
        text = remove_comments(unfold(value))
    except AuthResultsSyntaxError:
        text = unfold(value)
    words = _split_semicolons(text)[0].split()
    return words[0].strip('"').lower() if words else None
