"""The named rules that classify a message, and the registry that finds them.

Each rule is a small class with a ``name``, a Japanese ``description`` for staff and a
``stage``; :func:`message_rule` registers one instance, and the registry raises
DuplicateRuleError at import (so at start-up) when a name is taken twice. Stages run in
order: ``screen`` (our own mail, bounces, automatic replies, from headers, body text and
report parts only), ``staff`` (a staff reply token), ``content`` (everything else).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import getaddresses

from mailflow.errors import MailflowError
from mailflow.intake.autoreply import OWN_MARKER_HEADER, AutoReplyInfo
from mailflow.intake.bounce import BounceReport
from mailflow.intake.message import Attachment, Message
from mailflow.intake.message_rules import MessageRules, StaffRules
from mailflow.intake.quoting import normalize_text

SCREEN, STAFF, CONTENT = "screen", "staff", "content"
_PLACE_LABELS = {"subject": "件名", "body": "本文", "forwarded": "転送されたメール"}


@dataclass(frozen=True)
class Finding:
    """The result of one rule: a reason, and the kind or decision it points to.

    A ``decisive`` finding fixes the kind, whatever the keywords point to. Others add
    ``weight`` points to ``kind``. ``decision`` forces a decision (bounce, ignore_auto_reply,
    manual_review) instead of process.
    """

    rule: str
    reason: str
    kind: str | None = None
    weight: int = 0
    decisive: bool = False
    decision: str | None = None


@dataclass
class MessageFacts:
    """The inputs of the rules, computed once per message, with texts in NFKC form."""

    message: Message
    rules: MessageRules
    form_application_type: str | None
    subject: str
    own_text: str
    forwarded_text: str
    forwarded_from: str | None
    attachments: list[Attachment]
    auto_reply: AutoReplyInfo | None
    bounce: BounceReport | None


class DuplicateRuleError(MailflowError):
    """Two message rules were registered under one name."""


class MessageRule:
    """Base of the classification rules: set ``name``, ``description`` and ``stage``."""

    name: str = ""
    description: str = ""
    stage: str = CONTENT

    def check(self, facts: MessageFacts) -> list[Finding]:
        """Return what this rule finds in the message; an empty list when it does not match."""
        raise NotImplementedError


class RuleRegistry:
    """The message rules by name, in registration order."""

    def __init__(self) -> None:
        self._rules: dict[str, MessageRule] = {}

    def register(self, rule: MessageRule) -> MessageRule:
        """Add ``rule``; raise DuplicateRuleError when its name is taken."""
        if rule.name in self._rules:
            raise DuplicateRuleError(
                f"メッセージ分類の規則名 {rule.name!r} が重複しています。どちらかの name を変えてください",
                name=rule.name,
            )
        self._rules[rule.name] = rule
        return rule

    def stage(self, stage: str) -> list[MessageRule]:
        return [rule for rule in self._rules.values() if rule.stage == stage]

    def __iter__(self) -> Iterator[MessageRule]:
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)


REGISTRY = RuleRegistry()


def message_rule(cls: type[MessageRule]) -> type[MessageRule]:
    """Register one instance of the rule class ``cls`` in REGISTRY (a class decorator)."""
    REGISTRY.register(cls())
    return cls


# --- screen stage: decided from headers, body text and report parts -------------------


@message_rule
class OwnMessageRule(MessageRule):
    name = "own_message"
    description = "当局（mailflow）が送信したメールは取り込まない"
    stage = SCREEN

    def check(self, facts: MessageFacts) -> list[Finding]:
        if facts.auto_reply is None or not facts.auto_reply.own_mail:
            return []
        reason = f"当局が送信したメール（{OWN_MARKER_HEADER} ヘッダー付き）です。取り込みません"
        return [Finding(self.name, reason, kind="auto_reply", decision="ignore_auto_reply")]


@message_rule
class BounceRule(MessageRule):
    name = "bounce_report"
    description = "配送エラー・配送遅延の通知は返信せず、宛先の不達を記録する"
    stage = SCREEN

    def check(self, facts: MessageFacts) -> list[Finding]:
        report = facts.bounce
        if report is None:
            return []
        source = "配送状態通知（multipart/report）" if report.source == "dsn" else "配送エラーの通知（本文のみ）"
        count = len(report.failed_recipients)
        if report.hard_failure:
            detail = f"宛先 {count} 件が配送できませんでした（恒久的なエラー）"
        elif report.delayed_only:
            detail = f"宛先 {count} 件の配送が遅れています（一時的なエラーで、宛先はまだ無効と決まっていません）"
        else:
            detail = "配送に失敗した宛先は書かれていません"
        return [Finding(self.name, f"{source}です。{detail}", kind="bounce", decision="bounce")]


@message_rule
class AutoReplyHeaderRule(MessageRule):
    name = "auto_reply_headers"
    description = "自動送信を示すヘッダー（Auto-Submitted など）のあるメールには返信しない"
    stage = SCREEN

    def check(self, facts: MessageFacts) -> list[Finding]:
        info = facts.auto_reply
        if info is None or info.own_mail or info.decision != "ignore_auto_reply":
            return []
        header_signals = [signal for signal in info.signals if not signal.startswith("subject prefix")]
        headers = "、".join(signal.split(":", 1)[0] for signal in header_signals)
        reason = f"自動送信を示すヘッダー（{headers}）があります。返信しません"
        return [Finding(self.name, reason, kind="auto_reply", decision="ignore_auto_reply")]


@message_rule
class AutoReplySubjectRule(MessageRule):
    name = "auto_reply_subject"
    description = "件名だけが自動返信の形のメールは、返信せず職員が確認する"
    stage = SCREEN

    def check(self, facts: MessageFacts) -> list[Finding]:
        info = facts.auto_reply
        if info is None or info.decision != "manual_review":
            return []
        reason = (
            f"件名が自動返信の形（『{info.subject_prefix}』）ですが、自動送信を示すヘッダーがありません。"
            "返信せず、職員が確認してください"
        )
        return [Finding(self.name, reason, kind="auto_reply", decision="manual_review")]


# --- staff stage ---------------------------------------------------------------------


@message_rule
class StaffTokenRule(MessageRule):
    name = "staff_token"
    description = "宛先のサブアドレスか件名に職員返信用の番号があるメールは職員の返信"
    stage = STAFF

    def check(self, facts: MessageFacts) -> list[Finding]:
        token, place = find_staff_token(facts.message, facts.rules.staff)
        if token is None:
            return []
        return [Finding(self.name, f"{place}に職員返信用の番号があります", kind="staff_reply", decisive=True)]


# --- content stage -------------------------------------------------------------------


@message_rule
class AttachmentKindRule(MessageRule):
    name = "attachment_kinds"
    description = "添付された書類の種類（登録申請書、課題一覧など）から用件を決める"

    def check(self, facts: MessageFacts) -> list[Finding]:
        findings = []
        seen: set[str] = set()
        for attachment in facts.attachments:
            rule = facts.rules.attachments.get(attachment.kind or "")
            if rule is None or rule.attachment_kind in seen:
                continue
            seen.add(rule.attachment_kind)
            findings.append(
                Finding(
                    self.name,
                    f"{rule.label}が添付されています",
                    kind=rule.kind,
                    weight=rule.weight,
                    decisive=rule.decisive,
                )
            )
        return findings


@message_rule
class EncryptedAttachmentRule(MessageRule):
    name = "encrypted_attachment"
    description = "パスワード付きの添付ファイルは読めないので職員が確認する"

    def check(self, facts: MessageFacts) -> list[Finding]:
        if not any(attachment.encrypted for attachment in facts.attachments):
            return []
        reason = "パスワード付き（暗号化）の添付ファイルがあり、中身を読めません。職員が確認してください"
        return [Finding(self.name, reason, decision="manual_review")]


@message_rule
class KeywordRule(MessageRule):
    name = "keywords"
    description = "件名と本文（引用を除く）の言葉から用件を決める"

    def check(self, facts: MessageFacts) -> list[Finding]:
        places = {"subject": facts.subject, "body": facts.own_text, "forwarded": facts.forwarded_text}
        findings = []
        for keyword_set in facts.rules.keywords:
            for place, text in places.items():
                patterns = keyword_set.body if place == "forwarded" else getattr(keyword_set, place)
                match = _first_match(patterns, text)
                if match is None:
                    continue
                findings.append(
                    Finding(
                        f"{self.name}.{keyword_set.name}",
                        f"{_PLACE_LABELS[place]}に『{match}』があります",
                        kind=keyword_set.kind,
                        weight=facts.rules.weights[place],
                    )
                )
        return findings


@message_rule
class ForwardRule(MessageRule):
    name = "forwarded"
    description = "転送されたメールは元の差出人を記録する（返信先は転送した人）"

    def check(self, facts: MessageFacts) -> list[Finding]:
        if facts.forwarded_from is None:
            return []
        return [Finding(self.name, "転送されたメールです。申請者は元のメールの差出人の可能性があります")]


@message_rule
class BulkMailRule(MessageRule):
    name = "bulk_mail"
    description = "一斉配信のメール（List-Id、List-Unsubscribe）には返信しない"

    def check(self, facts: MessageFacts) -> list[Finding]:
        if facts.auto_reply is None or not facts.auto_reply.bulk:
            return []
        reason = "一斉配信のメール（メーリングリストのヘッダー付き）です。返信しません"
        return [Finding(self.name, reason, kind="other", decisive=True)]


@message_rule
class PasswordNoticeRule(MessageRule):
    name = "password_notice"
    description = "添付のないパスワードの連絡は、前のメールに合わせて扱い単独では返信しない"

    def check(self, facts: MessageFacts) -> list[Finding]:
        if facts.message.attachments:
            return []
        rules = facts.rules
        subject_match = _first_match(rules.password_subject, facts.subject)
        if subject_match is None and _first_match(rules.password_body, facts.own_text) is None:
            return []
        reason = "添付ファイルのないパスワードの連絡です。前のメールと合わせて扱い、単独では返信しません"
        return [Finding(self.name, reason, kind="other", decisive=True)]


@message_rule
class EmptyMessageRule(MessageRule):
    name = "empty_message"
    description = "本文も添付ファイルもないメールは「その他」"

    def check(self, facts: MessageFacts) -> list[Finding]:
        message = facts.message
        if message.attachments or message.body_text.strip() or message.body_html.strip():
            return []
        return [Finding(self.name, "本文も添付ファイルもありません", kind="other", decisive=True)]


@message_rule
class HtmlOnlyRule(MessageRule):
    name = "html_only"
    description = "テキストの本文がなく HTML だけのメール（広告など）は「その他」"

    def check(self, facts: MessageFacts) -> list[Finding]:
        message = facts.message
        if message.attachments or message.body_text.strip() or not message.body_html.strip():
            return []
        findings = [Finding(self.name, "本文が HTML だけのメールです（広告など）", kind="other", decisive=True)]
        subject_words = [keyword_set.subject for keyword_set in facts.rules.keywords]
        if any(_first_match(patterns, facts.subject) for patterns in subject_words) and not (
            facts.auto_reply and facts.auto_reply.bulk
        ):
            reason = "HTML だけのメールですが、件名に用件を示す言葉があります。職員が確認してください"
            findings.append(Finding(self.name, reason, decision="manual_review"))
        return findings


def find_staff_token(message: Message, staff: StaffRules) -> tuple[str | None, str | None]:
    """Return the staff reply token (upper case) and where it was found, or (None, None).

    The sub-address of the address headers (``intake+MF…@``) is searched first, then the
    subject. The place is a Japanese phrase for the reason (「宛先のサブアドレス」, 「件名」).
    """
    for address in _addresses(message, staff.address_headers):
        local_part = address.rsplit("@", 1)[0]
        if staff.subaddress_separator not in local_part:
            continue
        detail = local_part.split(staff.subaddress_separator, 1)[1]
        if staff.token.fullmatch(detail):
            return detail.upper(), "宛先のサブアドレス"
    bounded = re.compile(rf"(?<![0-9A-Za-z])(?:{staff.token.pattern})(?![0-9A-Za-z])", staff.token.flags)
    match = bounded.search(normalize_text(message.subject))
    if match:
        return match.group(0).upper(), "件名"
    return None, None


def _addresses(message: Message, header_names: list[str]) -> list[str]:
    values = [value for name in header_names for value in message.header_all(name)]
    addresses = [address for _, address in getaddresses(values) if address]
    wanted = {name.lower() for name in header_names}
    if "to" in wanted:
        addresses.extend(entry.address for entry in message.to)
    if "cc" in wanted:
        addresses.extend(entry.address for entry in message.cc)
    return _unique(addresses)


def _first_match(patterns: list[re.Pattern[str]], text: str) -> str | None:
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            return match.group(0)
    return None


def _unique(values) -> list[str]:
    return list(dict.fromkeys(values))
