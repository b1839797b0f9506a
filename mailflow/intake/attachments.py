"""Tell what each attachment is (Form 1, pledge, identity document, …) from its content first.

A readable document is judged by its own title near the top and its field labels, and
its file name only adds weight, so a Form 1 named ``scan001.xlsx`` is found and a price
list named ``登録申請書.xlsx`` is not. Photos, scans without a text layer and encrypted
files fall back to the file name and the sniffed type. The rules and weights come from
``rules/attachments.toml``; every decision comes with Japanese reasons for staff.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from mailflow.intake.limits import LIMIT_LABELS
from mailflow.intake.message import Attachment
from mailflow.intake.sniff import SNIFFED_TYPES
from mailflow.intake.text import DocumentText, document_text
from mailflow.paths import DEFAULT_RULES_DIR
from mailflow.rules import RuleFile, read_rule_file

logger = logging.getLogger(__name__)

RULE_FILE_NAME = "attachments.toml"
KINDS = ("registration_form", "pledge_form", "identity_document", "challenge_list", "attendance_form")
OTHER = "other"


@dataclass(frozen=True)
class KindRule:
    """The clues for one attachment kind, as ``[kinds.<name>]`` in the rules file."""

    name: str
    label: str
    titles: tuple[str, ...]
    fields: tuple[str, ...]
    min_fields: int
    filenames: tuple[str, ...]
    sniffed_types: frozenset[str]


@dataclass(frozen=True)
class AttachmentRules:
    """``rules/attachments.toml`` as typed values; build it with :func:`load_attachment_rules`."""

    kinds: tuple[KindRule, ...]
    photo_types: frozenset[str]
    head_lines: int = 6
    title_at_head: int = 4
    title_elsewhere: int = 1
    fields_weight: int = 2
    filename_weight: int = 1
    threshold: int = 2


@dataclass
class KindDecision:
    """The kind chosen for one document and the reasons, for example
    ``KindDecision("registration_form", ["文書の表題に『登録申請書』があります"])``."""

    kind: str
    reasons: list[str] = field(default_factory=list)


def load_attachment_rules(rules_dir: Path = DEFAULT_RULES_DIR) -> AttachmentRules:
    """Read and check ``rules_dir/attachments.toml``.

    Raises RulesError naming the file, key and value of every problem: an unknown kind or
    sniffed type, a missing label, a list that is not strings, a weight that is not a
    positive integer.
    """
    rule_file = read_rule_file(rules_dir, RULE_FILE_NAME)
    kinds_table = rule_file.table("kinds")
    kinds = []
    for name in kinds_table:
        if name not in KINDS:
            rule_file.problem(f"kinds.{name}", name, f"不明な種類です（使える値: {', '.join(KINDS)}）")
            continue
        kinds.append(_kind_rule(rule_file, name))
    scoring = {key: _positive_int(rule_file, f"scoring.{key}") for key in
               ("head_lines", "title_at_head", "title_elsewhere", "fields", "filename", "threshold")}
    rules = AttachmentRules(
        kinds=tuple(kinds),
        photo_types=frozenset(_sniffed_types(rule_file, "photos.sniffed_types")),
        head_lines=scoring["head_lines"],
        title_at_head=scoring["title_at_head"],
        title_elsewhere=scoring["title_elsewhere"],
        fields_weight=scoring["fields"],
        filename_weight=scoring["filename"],
        threshold=scoring["threshold"],
    )
    rule_file.raise_if_problems()
    return rules


def _kind_rule(rule_file: RuleFile, name: str) -> KindRule:
    prefix = f"kinds.{name}"
    label = rule_file.table(prefix).get("label")
    if not isinstance(label, str) or not label:
        rule_file.problem(f"{prefix}.label", label, "表示名（文字列）が必要です")
    return KindRule(
        name=name,
        label=label if isinstance(label, str) else name,
        titles=tuple(rule_file.string_list(f"{prefix}.titles")),
        fields=tuple(rule_file.string_list(f"{prefix}.fields")),
        min_fields=_positive_int(rule_file, f"{prefix}.min_fields"),
        filenames=tuple(rule_file.string_list(f"{prefix}.filenames")),
        sniffed_types=frozenset(_sniffed_types(rule_file, f"{prefix}.sniffed_types")),
    )


def _positive_int(rule_file: RuleFile, key: str) -> int:
    table, _, name = key.rpartition(".")
    value = rule_file.table(table).get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        rule_file.problem(key, value, "正の整数でなければなりません")
        return 1
    return value


def _sniffed_types(rule_file: RuleFile, key: str) -> list[str]:
    values = rule_file.string_list(key)
    for value in values:
        if value not in SNIFFED_TYPES:
            rule_file.problem(key, value, f"不明なファイル形式です（使える値: {', '.join(sorted(SNIFFED_TYPES))}）")
    return values


def classify_attachment(attachment: Attachment, rules: AttachmentRules) -> None:
    """Set ``attachment.kind`` and ``attachment.kind_reasons`` from its content and name.

    Reads the payload by its sniffed type (never its name or declared type), unless the
    file is encrypted or held by a size limit: those are judged by their name. Never raises.
    """
    if attachment.over_limit is not None:
        decision = _by_name(attachment.filename, None, rules,
                            f"{LIMIT_LABELS.get(attachment.over_limit, attachment.over_limit)}の上限を超えるため内容を読まず、ファイル名で判断しました")
    else:
        text = DocumentText() if attachment.encrypted else document_text(attachment.payload, attachment.sniffed_type)
        decision = classify_document(text, attachment.filename, attachment.sniffed_type, rules, attachment.encrypted)
    attachment.kind = decision.kind
    attachment.kind_reasons = decision.reasons
    logger.debug("attachment %s classified: kind=%s sniffed=%s", attachment.part_id, decision.kind,
                 attachment.sniffed_type)


def classify_document(
    text: DocumentText,
    filename: str | None,
    sniffed_type: str,
    rules: AttachmentRules,
    encrypted: bool = False,
) -> KindDecision:
    """Choose the kind of one document from its text, file name and sniffed type."""
    if encrypted or sniffed_type == "office_encrypted":
        # The bytes of an encrypted file do not reveal its type, so only the name counts.
        return _by_name(filename, None, rules, "暗号化されていて内容を読めないため、ファイル名で判断しました")
    if not text.has_text_layer or not text.text.strip():
        if sniffed_type in rules.photo_types:
            return _by_name(filename, sniffed_type, rules, f"写真（{sniffed_type.upper()}）で文字情報がありません")
        if sniffed_type == "pdf":
            return _by_name(filename, sniffed_type, rules, "文字情報のないスキャン PDF です")
        return KindDecision(OTHER, [f"内容を読めない形式です（{sniffed_type}）"])
    return _by_content(text.text, filename, sniffed_type, rules)


def _by_content(body: str, filename: str | None, sniffed_type: str, rules: AttachmentRules) -> KindDecision:
    lines = [_compact(line) for line in body.splitlines() if line.strip()]
    head = lines[: rules.head_lines]
    whole = "".join(lines)
    name = _compact_name(filename)
    best: tuple[int, KindRule, list[str]] | None = None
    for rule in rules.kinds:
        if sniffed_type not in rule.sniffed_types:
            continue
        score, reasons = _content_score(rule, head, whole, rules)
        if score == 0:
            continue
        name_word = _first_in(rule.filenames, name)
        if name_word:
            score += rules.filename_weight
            reasons.append(f"ファイル名に『{name_word}』があります")
        if best is None or score > best[0]:
            best = (score, rule, reasons)
    if best is not None and best[0] >= rules.threshold:
        return KindDecision(best[1].name, best[2])
    return KindDecision(OTHER, _no_match_reasons(filename, name, rules))


def _content_score(rule: KindRule, head: list[str], whole: str, rules: AttachmentRules) -> tuple[int, list[str]]:
    score, reasons = 0, []
    title = next((t for t in rule.titles if any(_compact(t) in line for line in head)), None)
    if title:
        score += rules.title_at_head
        reasons.append(f"文書の表題に『{title}』があります")
    else:
        title = _first_in(rule.titles, whole)
        if title:
            score += rules.title_elsewhere
            reasons.append(f"文書中に『{title}』があります")
    found = [label for label in rule.fields if _compact(label) in whole]
    if len(found) >= rule.min_fields:
        score += rules.fields_weight
        reasons.append(f"文書に{rule.label}の項目（{'、'.join(found[:4])}）があります")
    return score, reasons


def _no_match_reasons(filename: str | None, name: str, rules: AttachmentRules) -> list[str]:
    for rule in rules.kinds:
        word = _first_in(rule.filenames, name)
        if word:
            return [f"ファイル名に『{word}』がありますが、文書の内容に{rule.label}の表題も項目もありません"]
    return ["文書の内容がどの様式・書類にも当たりません"]


def _by_name(filename: str | None, sniffed_type: str | None, rules: AttachmentRules, why: str) -> KindDecision:
    """Decide by file name alone; ``sniffed_type`` None means the type is unknown (encrypted)."""
    name = _compact_name(filename)
    for rule in rules.kinds:
        word = _first_in(rule.filenames, name)
        if word and (sniffed_type is None or sniffed_type in rule.sniffed_types):
            return KindDecision(rule.name, [why, f"ファイル名に『{word}』があるため{rule.label}と判断しました"])
    if sniffed_type in rules.photo_types:
        return KindDecision("identity_document", [
            why, "ほかに手がかりのない写真のため、本人確認書類の候補としました（職員が確認してください）",
        ])
    return KindDecision(OTHER, [why, "ファイル名にも手がかりがありません"])


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _compact_name(filename: str | None) -> str:
    if not filename:
        return ""
    return _compact(PurePath(filename).stem).lower()


def _first_in(words: tuple[str, ...], text: str) -> str | None:
    if not text:
        return None
    return next((word for word in words if _compact(word).lower() in text.lower()), None)
