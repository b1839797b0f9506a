"""Load ``rules/messages.toml`` into typed rules for message classification.

Every problem is collected with the file, the key and the value, and reported at once by
:func:`load_message_rules` as a RulesError, so a bad rule stops start-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailflow.intake.autoreply import AutoReplyRules, read_auto_reply_rules
from mailflow.intake.bounce import BounceRules, read_bounce_rules
from mailflow.intake.quoting import read_patterns
from mailflow.paths import DEFAULT_RULES_DIR
from mailflow.rules import RuleFile, read_rule_file

RULE_FILE_NAME = "messages.toml"

KINDS = (
    "registration",
    "renewal",
    "change_notice",
    "withdrawal",
    "inquiry",
    "challenge_list",
    "attendance_form",
    "staff_reply",
    "auto_reply",
    "bounce",
    "other",
)
DECISIONS = ("process", "ignore_auto_reply", "bounce", "manual_review")
# Rules-file kind of an application document: registration or renewal, decided by
# Form 1's 申請区分 or by the renewal keywords.
APPLICATION = "application"
# Places a keyword set is matched in, each with its own weight.
PLACES = ("subject", "body", "forwarded")


@dataclass
class KeywordSet:
    """Patterns for the subject and the body that point to one kind."""

    name: str
    kind: str
    description: str
    subject: list[re.Pattern[str]]
    body: list[re.Pattern[str]]


@dataclass
class AttachmentRule:
    """The kind and weight an attachment of one kind gives the mail."""

    attachment_kind: str
    label: str
    kind: str
    decisive: bool
    weight: int


@dataclass
class StaffRules:
    """The token pattern of staff replies and the headers searched for it."""

    token: re.Pattern[str]
    subaddress_separator: str
    address_headers: list[str]


@dataclass
class MessageRules:
    """``rules/messages.toml`` as typed objects; build it with :func:`load_message_rules`."""

    auto_reply: AutoReplyRules
    bounce: BounceRules
    staff: StaffRules
    keywords: list[KeywordSet]
    attachments: dict[str, AttachmentRule]
    kind_order: list[str]
    reply_kinds: list[str]
    question_overrides: list[str]
    weights: dict[str, int]
    renewal_types: list[str]
    registration_types: list[str]
    password_subject: list[re.Pattern[str]]
    password_body: list[re.Pattern[str]]
    identity_by_post: list[re.Pattern[str]]




def load_message_rules(rules_dir: Path = DEFAULT_RULES_DIR) -> MessageRules:
    """Read and check ``rules_dir/messages.toml``.

    Raises RulesError listing every problem (file, key, value) when the file is missing,
    is not TOML, or contains a value of the wrong type, an invalid regular expression, an
    unknown kind or a keyword set name used twice.
    """
    rule_file = read_rule_file(rules_dir, RULE_FILE_NAME)
    kind_order = _kinds(rule_file, "kinds.order")
    keywords = _keyword_sets(rule_file)
    for keyword_set in keywords:
        if keyword_set.kind not in kind_order:
            rule_file.problem("kinds.order", kind_order, f"キーワードの種類 {keyword_set.kind!r} がありません")
    rules = MessageRules(
        auto_reply=read_auto_reply_rules(rule_file),
        bounce=read_bounce_rules(rule_file),
        staff=_staff_rules(rule_file),
        keywords=keywords,
        attachments=_attachment_rules(rule_file),
        kind_order=kind_order,
        reply_kinds=_kinds(rule_file, "kinds.reply"),
        question_overrides=_kinds(rule_file, "kinds.question_overrides"),
        weights={place: _integer(rule_file, f"weights.{place}", rule_file.table("weights").get(place))
                 for place in PLACES},
        renewal_types=rule_file.string_list("application.renewal_types"),
        registration_types=rule_file.string_list("application.registration_types"),
        password_subject=read_patterns(rule_file, "password_notice.subject"),
        password_body=read_patterns(rule_file, "password_notice.body"),
        identity_by_post=read_patterns(rule_file, "identity_by_post.body"),
    )
    rule_file.raise_if_problems()
    return rules


def _kinds(rule_file: RuleFile, key: str) -> list[str]:
    values = rule_file.string_list(key)
    for value in values:
        if value not in KINDS:
            rule_file.problem(key, value, f"不明な種類です（使える値: {', '.join(KINDS)}）")
    return [value for value in values if value in KINDS]


def _keyword_sets(rule_file: RuleFile) -> list[KeywordSet]:
    entries = rule_file.data.get("keywords", [])
    if not isinstance(entries, list):
        rule_file.problem("keywords", entries, "表の配列（[[keywords]]）でなければなりません")
        return []
    sets: list[KeywordSet] = []
    for index, entry in enumerate(entries):
        key = f"keywords[{index}]"
        if not isinstance(entry, dict):
            rule_file.problem(key, entry, "表でなければなりません")
            continue
        name = _string(rule_file, f"{key}.name", entry.get("name"))
        if name and any(existing.name == name for existing in sets):
            rule_file.problem(f"{key}.name", name, "この名前のキーワードセットがすでにあります。名前は一つずつ変えてください")
        kind = _string(rule_file, f"{key}.kind", entry.get("kind"))
        if kind and kind not in KINDS:
            rule_file.problem(f"{key}.kind", kind, f"不明な種類です（使える値: {', '.join(KINDS)}）")
        sets.append(
            KeywordSet(
                name=name,
                kind=kind,
                description=_string(rule_file, f"{key}.description", entry.get("description")),
                subject=read_patterns(rule_file, f"{key}.subject", entry.get("subject", [])),
                body=read_patterns(rule_file, f"{key}.body", entry.get("body", [])),
            )
        )
    return sets


def _attachment_rules(rule_file: RuleFile) -> dict[str, AttachmentRule]:
    rules: dict[str, AttachmentRule] = {}
    for attachment_kind, entry in rule_file.table("attachments").items():
        key = f"attachments.{attachment_kind}"
        if not isinstance(entry, dict):
            rule_file.problem(key, entry, "表でなければなりません")
            continue
        kind = _string(rule_file, f"{key}.kind", entry.get("kind"))
        if kind and kind not in (*KINDS, APPLICATION):
            rule_file.problem(f"{key}.kind", kind, f"不明な種類です（使える値: {APPLICATION}, {', '.join(KINDS)}）")
        decisive = entry.get("decisive", False)
        if not isinstance(decisive, bool):
            rule_file.problem(f"{key}.decisive", decisive, "true か false でなければなりません")
            decisive = False
        rules[attachment_kind] = AttachmentRule(
            attachment_kind=attachment_kind,
            label=_string(rule_file, f"{key}.label", entry.get("label")),
            kind=kind,
            decisive=decisive,
            weight=_integer(rule_file, f"{key}.weight", entry.get("weight", 0)),
        )
    return rules


def _staff_rules(rule_file: RuleFile) -> StaffRules:
    table = rule_file.table("staff_reply")
    pattern = _string(rule_file, "staff_reply.token_pattern", table.get("token_pattern"))
    compiled = read_patterns(rule_file, "staff_reply.token_pattern", [pattern] if pattern else [])
    separator = _string(rule_file, "staff_reply.subaddress_separator", table.get("subaddress_separator"))
    return StaffRules(
        token=compiled[0] if compiled else re.compile(r"(?!)"),
        subaddress_separator=separator or "+",
        address_headers=rule_file.string_list("staff_reply.address_headers"),
    )


def _string(rule_file: RuleFile, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        rule_file.problem(key, value, "空でない文字列を書いてください")
        return ""
    return value


def _integer(rule_file: RuleFile, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        rule_file.problem(key, value, "0 以上の整数を書いてください")
        return 0
    return value
