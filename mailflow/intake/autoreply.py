"""Recognise automatic mail (out-of-office, vacation, read receipts, bulk) and our own mail.

Decided from headers and the subject only, before any attachment is read. Under RFC 3834
no automatic reply may go to mail whose ``Auto-Submitted`` is present and not ``no``; the other headers
and subject prefixes come from ``rules/messages.toml`` (section ``auto_reply``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from mailflow.intake.bounce import report_type
from mailflow.intake.message import Message
from mailflow.intake.quoting import normalize_text, read_patterns, strip_quotes
from mailflow.rules import RuleFile

# Every mail mailflow sends carries this header; a message that has it is ours and is never
# taken in again. Outbound composition imports the name from here.
OWN_MARKER_HEADER = "X-Mailflow-Origin"

AUTO_SUBMITTED_HEADER = "Auto-Submitted"
PRECEDENCE_HEADER = "Precedence"

# A date without a year that lies more than this many days before the mail was sent is
# taken to be in the following year ("1月5日まで" written in December).
_YEAR_ROLLOVER_DAYS = 31

_DATE_TOKEN = re.compile(
    r"(?:(?P<jy>\d{4})\s*年\s*)?(?P<jm>\d{1,2})\s*月\s*(?P<jd>\d{1,2})\s*日"
    r"|(?<![\d/])(?:(?P<sy>\d{4})/)?(?P<sm>\d{1,2})/(?P<sd>\d{1,2})(?![\d/])"
    r"|\b(?P<em>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?P<ed>\d{1,2})"
    r"(?:st|nd|rd|th)?\b(?:,?\s*(?P<ey>\d{4}))?",
    re.IGNORECASE,
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAY = re.compile(r"\s*\((?:[月火水木金土日]|mon|tue|wed|thu|fri|sat|sun)[^)]{0,8}\)", re.IGNORECASE)
_UNTIL_AFTER = re.compile(r"\s*(?:まで|迄)")
_UNTIL_BEFORE = re.compile(
    r"(?:until|till|through|thru)\s+(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?$",
    re.IGNORECASE,
)
_RANGE_BETWEEN = re.compile(r"^\s*(?:[~〜-]|から)\s*$")


@dataclass
class AutoReplyRules:
    """The ``auto_reply`` section of ``rules/messages.toml``."""

    human_auto_submitted_values: list[str]
    presence_headers: list[str]
    precedence_values: list[str]
    oof_subject_headers: list[str]
    list_headers: list[str]
    report_types: list[str]
    subject_prefixes: list[re.Pattern[str]]


@dataclass
class AutoReplyInfo:
    """Why a message is taken for automatic mail, for example
    ``AutoReplyInfo(signals=["Auto-Submitted: auto-replied"], by_headers=True)``.

    ``signals`` lists each header as ``"Name: value"`` and a subject prefix as
    ``"subject prefix 自動応答:"`` (the prefix in NFKC form). ``by_headers`` is true when an
    automatic-mail header other than a list header is present, ``bulk`` when a list header
    (List-Id, List-Unsubscribe) is, ``own_mail`` when the message carries
    OWN_MARKER_HEADER. ``away_until`` is the last day of absence stated in an
    out-of-office body, when one could be read.
    """

    signals: list[str] = field(default_factory=list)
    by_headers: bool = False
    bulk: bool = False
    own_mail: bool = False
    subject_prefix: str | None = None
    away_until: dt.date | None = None

    @property
    def decision(self) -> str | None:
        """Return ignore_auto_reply, manual_review, or None when only list headers matched.

        Headers decide ``ignore_auto_reply``. A subject prefix without any header gives
        ``manual_review``: no automatic reply, but a person looks, because people also write
        subjects such as 「不在: …」. List headers alone leave the kind to the content.
        """
        if self.own_mail or self.by_headers or (self.bulk and self.subject_prefix):
            return "ignore_auto_reply"
        if self.subject_prefix:
            return "manual_review"
        return None


def read_auto_reply_rules(rule_file: RuleFile) -> AutoReplyRules:
    """Read the ``auto_reply`` section; problems are recorded on ``rule_file``."""
    return AutoReplyRules(
        human_auto_submitted_values=_lowered(rule_file.string_list("auto_reply.human_auto_submitted_values")),
        presence_headers=rule_file.string_list("auto_reply.presence_headers"),
        precedence_values=_lowered(rule_file.string_list("auto_reply.precedence_values")),
        oof_subject_headers=rule_file.string_list("auto_reply.oof_subject_headers"),
        list_headers=rule_file.string_list("auto_reply.list_headers"),
        report_types=_lowered(rule_file.string_list("auto_reply.report_types")),
        subject_prefixes=read_patterns(rule_file, "auto_reply.subject_prefixes"),
    )


def is_own_message(message: Message) -> bool:
    """Tell whether ``message`` carries OWN_MARKER_HEADER, so mailflow itself sent it."""
    return message.header(OWN_MARKER_HEADER) is not None


def detect_auto_reply(message: Message, rules: AutoReplyRules) -> AutoReplyInfo | None:
    """Collect the automatic-mail signals of ``message``; return None when there are none.

    ``Auto-Submitted: no`` declares a human message: it is no signal, and it also turns off
    the subject-prefix heuristic. ``X-Auto-Response-Suppress`` (and any other header listed
    in ``oof_subject_headers``) counts only together with an out-of-office subject, because
    Outlook and bulk senders, mailflow included, put it on ordinary mail too.
    """
    info = AutoReplyInfo(own_mail=is_own_message(message))
    if info.own_mail:
        info.signals.append(_signal(OWN_MARKER_HEADER, message.header(OWN_MARKER_HEADER)))

    human = _collect_header_signals(message, rules, info.signals)
    if not human:
        info.subject_prefix = _subject_prefix(message.subject, rules)
    if info.subject_prefix:
        for name in rules.oof_subject_headers:
            value = message.header(name)
            if value is not None:
                info.signals.append(_signal(name, value))
    info.by_headers = len(info.signals) > int(info.own_mail)

    for name in rules.list_headers:
        value = message.header(name)
        if value is not None:
            info.signals.append(_signal(name, value))
            info.bulk = True
    if info.subject_prefix:
        info.signals.append(f"subject prefix {info.subject_prefix}")

    if not info.signals:
        return None
    if info.decision is not None:
        sent = message.date.date() if message.date else None
        info.away_until = find_away_until(strip_quotes(message.body_text), sent)
    return info


def find_away_until(text: str, sent: dt.date | None) -> dt.date | None:
    """Return the last day of absence that an out-of-office text states, or None.

    Reads 「12月14日（月）まで」, 「2026年12月14日まで」, 「12/4～12/14」, "until December
    14" and "until 12/14". A date without a year takes the year of ``sent``, or the next
    year when it would lie more than a month before ``sent``. Without ``sent``, such a
    date is skipped. Best effort: the first date that reads as an end of absence wins.
    """
    normalized = normalize_text(text)
    previous_end: int | None = None
    for token in _DATE_TOKEN.finditer(normalized):
        end = token.end()
        weekday = _WEEKDAY.match(normalized, end)
        if weekday:
            end = weekday.end()
        ends_absence = (
            _UNTIL_AFTER.match(normalized, end) is not None
            or _UNTIL_BEFORE.search(normalized[max(0, token.start() - 40) : token.start()]) is not None
            or (previous_end is not None and _RANGE_BETWEEN.match(normalized[previous_end : token.start()]))
        )
        previous_end = end
        if ends_absence:
            day = _resolve_date(token, sent)
            if day is not None:
                return day
    return None


def _collect_header_signals(message: Message, rules: AutoReplyRules, signals: list[str]) -> bool:
    """Append the header signals to ``signals``; return whether Auto-Submitted is ``no``."""
    human = False
    auto_submitted = message.header(AUTO_SUBMITTED_HEADER)
    if auto_submitted is not None:
        token = auto_submitted.split(";", 1)[0].strip().lower()
        if token in rules.human_auto_submitted_values:
            human = True
        else:
            signals.append(_signal(AUTO_SUBMITTED_HEADER, auto_submitted))
    for name in rules.presence_headers:
        value = message.header(name)
        if value is not None:
            signals.append(_signal(name, value))
    precedence = message.header(PRECEDENCE_HEADER)
    if precedence is not None and precedence.strip().lower() in rules.precedence_values:
        signals.append(_signal(PRECEDENCE_HEADER, precedence))
    report = report_type(message)
    if report in rules.report_types:
        signals.append(f"Content-Type: multipart/report; report-type={report}")
    return human


def _subject_prefix(subject: str, rules: AutoReplyRules) -> str | None:
    normalized = normalize_text(subject)
    for pattern in rules.subject_prefixes:
        match = pattern.match(normalized)
        if match:
            return match.group(0).strip()
    return None


def _resolve_date(token: re.Match[str], sent: dt.date | None) -> dt.date | None:
    year_text = token.group("jy") or token.group("sy") or token.group("ey")
    if token.group("em"):
        month = _MONTHS.index(token.group("em").lower()[:3]) + 1
        day = int(token.group("ed"))
    else:
        month = int(token.group("jm") or token.group("sm"))
        day = int(token.group("jd") or token.group("sd"))
    if year_text is None and sent is None:
        return None
    year = int(year_text) if year_text else sent.year
    try:
        resolved = dt.date(year, month, day)
    except ValueError:
        return None
    if year_text is None and resolved < sent - dt.timedelta(days=_YEAR_ROLLOVER_DAYS):
        try:
            resolved = dt.date(year + 1, month, day)
        except ValueError:
            return None
    return resolved


def _signal(name: str, value: str | None) -> str:
    return f"{name}: {' '.join((value or '').split())}"


def _lowered(values: list[str]) -> list[str]:
    return [value.lower() for value in values]
