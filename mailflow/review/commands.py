"""Staff reply commands: one small class per command, one registry, and the reply parser.

A command is read from the first paragraph of the staff member's own words: the first
non-empty line after quoted text is cut (``strip_quotes``) gives the command word and
its argument, and the lines that follow it up to the first blank line continue the
argument. Words are compared in NFKC form, so 「承認」, 「ａｐｐｒｏｖｅ」 and 「ﾒﾓ」 work
like their standard spellings, and ASCII aliases ignore case. The same classes serve the
admin CLI (``mailflow queue approve …``), which builds the same command line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import ClassVar

from mailflow.errors import MailflowError
from mailflow.intake.findings import DOCUMENT_ROLES
from mailflow.intake.privacy import mask_individual_numbers
from mailflow.intake.quoting import strip_quotes

APPLICATION_KINDS = frozenset({"registration", "renewal"})
# Kinds of item that may have nothing to decide: staff close them with 完了.
CLOSABLE_KINDS = frozenset({"inquiry", "other", "attendance_form", "change_notice", "challenge_list"})
DECISION_KINDS = frozenset({"registration", "renewal", "change_notice", "withdrawal", "challenge_list"})

# Words staff write for each checklist document, NFKC and without spaces.
DOCUMENT_WORDS = {
    "申請書": "registration_form", "登録申請書": "registration_form", "様式1": "registration_form",
    "誓約書": "pledge_form", "様式2": "pledge_form",
    "本人確認書類": "identity_document", "本人確認": "identity_document", "身分証": "identity_document",
    "registration_form": "registration_form", "pledge_form": "pledge_form",
    "identity_document": "identity_document",
}
DOCUMENT_NAMES = {"registration_form": "申請書", "pledge_form": "誓約書", "identity_document": "本人確認書類"}

# A command word ends at a blank, a colon or a Japanese comma: 「却下：理由」, 「却下、理由」.
_FIRST_WORD = re.compile(r"^(?P<word>[^\s:、,]+)(?:[\s:、,]+(?P<rest>.*))?$")
_TRAILING_PUNCTUATION = "。．.!！"
_DOCUMENT_SEPARATORS = re.compile(r"[\s、,・/]+")
# Header lines of a quoted message that some clients mark in bold when they turn HTML
# into text (「*From:*」, 「*差出人:*」); strip_quotes does not know this form.
_BOLD_HEADER = re.compile(r"^\*(from|差出人|送信者)\s*:\s*\*", re.IGNORECASE)
_SIGNATURE_SEPARATOR = re.compile(r"^--\s*$")
# Words after 承認 that confirm an approval despite open attention reasons, NFKC form.
OVERRIDE_WORDS = frozenset({"確認済", "確認済み", "force"})


class CommandRegistryError(MailflowError):
    """Two commands claim the same name or alias; raised when the module is imported."""


@dataclass(frozen=True)
class ParsedCommand:
    """A command read from a reply or the CLI.

    ``argument`` is the free text (reason, note, what to fix); ``documents`` the checklist
    roles named by 郵送受領 and 再提出; ``line`` the text as understood, quoted back to staff.
    ``override`` is True for 「承認 確認済」, by which staff confirm that they checked why
    the item needs attention.
    """

    command: Command
    argument: str = ""
    documents: tuple[str, ...] = ()
    line: str = ""
    override: bool = False


@dataclass(frozen=True)
class ParseFailure:
    """Why no command could be read: ``reason`` is a code, ``message`` a Japanese sentence.

    Codes: ``empty``, ``unknown``, ``ambiguous``, ``missing_argument``, ``unknown_document``.
    """

    reason: str
    message: str
    line: str = ""


class Command:
    """One staff command. Subclasses set the class attributes and are registered once.

    ``argument`` is ``none``, ``text`` (required free text), ``optional_text`` (free
    text or nothing), ``documents`` (one or more checklist documents),
    ``document_and_text`` (one document, then a reason) or ``override`` (nothing, or
    確認済 followed by an optional note).
    ``kinds`` lists the item kinds the command applies to; None means every kind.
    ``allowed_on_hold`` is True for the few commands that may be applied to a held
    item: the rest need 再開 first. ``effect`` names the function of
    ``mailflow.review.decisions`` that applies it.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    # Descriptions for the item kinds on which the command does something else, by kind.
    kind_descriptions: ClassVar[dict[str, str]] = {}
    aliases: ClassVar[tuple[str, ...]]
    usage: ClassVar[str]
    argument: ClassVar[str] = "none"
    kinds: ClassVar[frozenset[str] | None] = None
    allowed_on_hold: ClassVar[bool] = False
    effect: ClassVar[str]

    def applies_to(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


class CommandRegistry:
    """Every command by name and alias; registering a taken word raises CommandRegistryError."""

    def __init__(self) -> None:
        self._commands: list[Command] = []
        self._words: dict[str, Command] = {}

    def register(self, cls: type[Command]) -> type[Command]:
        command = cls()
        for word in (cls.name, *cls.aliases):
            key = normalize_word(word)
            if key in self._words:
                raise CommandRegistryError(
                    f"command word {word!r} of {cls.__name__} is taken by {type(self._words[key]).__name__}",
                    word=word,
                )
            self._words[key] = command
        self._commands.append(command)
        return cls

    def lookup(self, word: str) -> Command | None:
        return self._words.get(normalize_word(word))

    def by_name(self, name: str) -> Command:
        for command in self._commands:
            if command.name == name:
                return command
        raise KeyError(name)

    def __iter__(self):
        return iter(self._commands)


REGISTRY = CommandRegistry()


def normalize_word(word: str) -> str:
    """Return the comparison form of a command word: NFKC, ASCII lower case, no spaces."""
    folded = unicodedata.normalize("NFKC", word).strip().rstrip(_TRAILING_PUNCTUATION)
    return folded.lower() if folded.isascii() else folded


@REGISTRY.register
class Approve(Command):
    name = "approve"
    description = ("承認します。登録簿を更新し、申請者に結果をお知らせします。"
                   "要確認の案件は、理由を確認したうえで「承認 確認済」と書いたときだけ承認します")
    kind_descriptions = {"challenge_list": (
        "承認します。開催案内を送る期間のうちに、登録メンター全員へ1人1通ずつ開催案内を送ります"
        "（期間が終わっていれば送りません）。要確認の案件は、理由を確認したうえで「承認 確認済」と書いたときだけ承認します")}
    aliases = ("承認",)
    usage = "承認"
    argument = "override"
    kinds = DECISION_KINDS
    effect = "approve"


@REGISTRY.register
class Reject(Command):
    name = "reject"
    description = "却下します。理由を申請者にお知らせします"
    kind_descriptions = {"challenge_list": "却下します。登録メンターへの開催案内は送りません（開催機関への連絡は担当者から行ってください）"}
    aliases = ("却下",)
    usage = "却下 理由"
    argument = "text"
    kinds = DECISION_KINDS
    effect = "reject"


@REGISTRY.register
class Return(Command):
    name = "return"
    description = "差し戻します。直してほしい内容を申請者にお知らせし、再提出を待ちます"
    aliases = ("差戻し", "差し戻し", "差戻")
    usage = "差戻し 直してほしい内容"
    argument = "text"
    kinds = APPLICATION_KINDS | {"change_notice"}
    effect = "return_for_correction"


@REGISTRY.register
class Received(Command):
    name = "received"
    description = "郵送で届いた書類（申請書・誓約書・本人確認書類）を受領済みにします"
    aliases = ("郵送受領", "受領")
    usage = "郵送受領 書類"
    argument = "documents"
    kinds = APPLICATION_KINDS
    effect = "receive_by_post"


@REGISTRY.register
class Resubmit(Command):
    name = "resubmit"
    description = "受け取った書類を破棄し、申請者に再提出をお願いします"
    aliases = ("再提出",)
    usage = "再提出 書類 理由"
    argument = "document_and_text"
    kinds = APPLICATION_KINDS
    effect = "request_resubmission"


@REGISTRY.register
class Hold(Command):
    name = "hold"
    description = "審査を保留にします"
    aliases = ("保留",)
    usage = "保留"
    effect = "hold"


@REGISTRY.register
class Resume(Command):
    name = "resume"
    description = "保留を解除して審査を再開します"
    aliases = ("再開",)
    usage = "再開"
    allowed_on_hold = True
    effect = "resume"


@REGISTRY.register
class Note(Command):
    name = "note"
    description = "案件にメモを残します（申請者には送りません）"
    aliases = ("メモ", "備考")
    usage = "メモ 本文"
    argument = "text"
    allowed_on_hold = True
    effect = "add_note"


@REGISTRY.register
class Revoke(Command):
    name = "revoke"
    description = "この案件のメンターの登録を局の判断で取り消します（理由を本人に通知します）"
    aliases = ("登録取消", "登録取り消し")
    usage = "登録取消 理由"
    argument = "text"
    kinds = frozenset({"renewal", "change_notice", "withdrawal"})
    allowed_on_hold = True
    effect = "revoke_for_item"


@REGISTRY.register
class Done(Command):
    name = "done"
    description = ("対応を終えた問い合わせ・その他の案件、変更内容を読み取れなかった変更届、"
                   "開催案内を送らない課題一覧を完了にします"
                   "（申請者にはメールを送りません。あとに続けて書いた文はメモとして残ります）")
    aliases = ("完了",)
    usage = "完了"
    argument = "optional_text"
    kinds = CLOSABLE_KINDS
    effect = "close_without_decision"


def own_lines(body: str) -> list[str]:
    """Return the first paragraph of the sender's own words, lines NFKC-normalised and stripped."""
    lines: list[str] = []
    for line in strip_quotes(body).split("\n"):
        text = unicodedata.normalize("NFKC", line).strip()
        if _BOLD_HEADER.match(text) or _SIGNATURE_SEPARATOR.match(text):
            break
        if not text:
            if lines:
                break
            continue
        lines.append(text)
    return lines


def parse_reply(body: str) -> ParsedCommand | ParseFailure:
    """Read the command at the top of a reply body; quoted text and signatures are ignored.

    Individual numbers are masked in the whole body first, so that a number cut by a
    line break is masked too.
    """
    lines = own_lines(mask_individual_numbers(body))
    if not lines:
        return ParseFailure("empty", "返信の本文に命令がありません（引用部分の命令は読みません）")
    return parse_command(lines[0], lines[1:])


def parse_command(line: str, continuation: list[str] | None = None) -> ParsedCommand | ParseFailure:
    """Read one command line (and the lines continuing its argument).

    Returns a ParseFailure when the word is unknown, the argument is missing or names
    an unknown document, or the text holds a second command (ambiguous). Individual
    numbers in the text are masked: the argument and the line are stored, quoted to
    staff and mailed to applicants.
    """
    texts = mask_individual_numbers("\n".join([line, *(continuation or [])])).split("\n")
    line = unicodedata.normalize("NFKC", texts[0]).strip()
    continuation = [unicodedata.normalize("NFKC", text).strip() for text in texts[1:]]
    match = _FIRST_WORD.match(line)
    command = REGISTRY.lookup(match.group("word")) if match else None
    if command is None:
        return ParseFailure("unknown", f"「{line}」は命令として読めません", line)
    rest = (match.group("rest") or "").strip()
    for text in (rest, *continuation):
        other = _FIRST_WORD.match(text)
        if other and REGISTRY.lookup(other.group("word")) is not None:
            return ParseFailure("ambiguous", f"命令が複数あります（「{line}」と「{text}」）。1通に1つの命令を書いてください",
                                line)
    if command.argument == "none":
        if rest.strip(_TRAILING_PUNCTUATION):
            return ParseFailure("ambiguous", f"「{command.usage}」のあとの「{rest}」の意味がわかりません", line)
        return ParsedCommand(command, line=line)
    if command.argument == "override":
        return _with_override(command, rest, continuation, line)
    argument = "\n".join(part for part in (rest, *continuation) if part)
    if command.argument == "optional_text":
        return ParsedCommand(command, argument=argument, line=line)
    return _with_argument(command, argument, line)


def _with_argument(command: Command, argument: str, line: str) -> ParsedCommand | ParseFailure:
    if not argument:
        return ParseFailure("missing_argument", f"「{command.usage}」の形で書いてください", line)
    if command.argument == "text":
        return ParsedCommand(command, argument=argument, line=line)
    if command.argument == "documents":
        roles = []
        for word in _DOCUMENT_SEPARATORS.split(argument):
            role = DOCUMENT_WORDS.get(normalize_word(word)) if word else None
            if word and role is None:
                return _unknown_document(command, word, line)
            if role and role not in roles:
                roles.append(role)
        return ParsedCommand(command, documents=tuple(roles), line=line)
    word, _, reason = argument.partition(" ") if " " in argument.split("\n")[0] else argument.partition("\n")
    role = DOCUMENT_WORDS.get(normalize_word(word))
    if role is None:
        return _unknown_document(command, word, line)
    if not reason.strip():
        return ParseFailure("missing_argument", f"「{command.usage}」の形で、理由も書いてください", line)
    return ParsedCommand(command, argument=reason.strip(), documents=(role,), line=line)


def _with_override(command: Command, rest: str, continuation: list[str], line: str) -> ParsedCommand | ParseFailure:
    """Read 「承認」 alone, or 「承認 確認済 note」; the note may continue on the next lines."""
    if not rest.strip(_TRAILING_PUNCTUATION):
        return ParsedCommand(command, line=line)
    match = _FIRST_WORD.match(rest)
    if match is None or normalize_word(match.group("word")) not in OVERRIDE_WORDS:
        return ParseFailure("ambiguous", f"「{command.usage}」のあとの「{rest}」の意味がわかりません"
                            f"（要確認の案件を確認のうえ承認するときは「{command.usage} 確認済」）", line)
    note = "\n".join(part for part in ((match.group("rest") or "").strip(), *continuation) if part)
    return ParsedCommand(command, argument=note, line=line, override=True)


def _unknown_document(command: Command, word: str, line: str) -> ParseFailure:
    names = "・".join(DOCUMENT_NAMES[role] for role in DOCUMENT_ROLES)
    return ParseFailure("unknown_document", f"「{word}」は書類の名前として読めません（{names} のいずれか）", line)


def help_entries(kind: str | None = None) -> list[dict[str, str]]:
    """Return usage and description of every command (for one item kind when given)."""
    return [
        {"usage": command.usage, "description": command.kind_descriptions.get(kind or "", command.description),
         "alias": command.name}
        for command in REGISTRY
        if kind is None or command.applies_to(kind)
    ]
