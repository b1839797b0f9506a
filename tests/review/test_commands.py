"""Reading staff commands from reply bodies: each command, full-width forms, quotes, failures."""

from __future__ import annotations

import pytest

from mailflow.review.commands import (
    REGISTRY,
    Command,
    CommandRegistry,
    CommandRegistryError,
    ParsedCommand,
    ParseFailure,
    parse_reply,
)


def _parsed(body: str) -> ParsedCommand:
    result = parse_reply(body)
    assert isinstance(result, ParsedCommand), result
    return result


def _failure(body: str) -> ParseFailure:
    result = parse_reply(body)
    assert isinstance(result, ParseFailure), result
    return result


@pytest.mark.parametrize("body, name", [
    ("承認", "approve"), ("approve", "approve"), ("APPROVE", "approve"), ("ａｐｐｒｏｖｅ", "approve"),
    ("承認。", "approve"), ("　承認　", "approve"),
    ("保留", "hold"), ("hold", "hold"), ("再開", "resume"), ("Resume", "resume"),
])
def test_commands_without_argument(body, name):
    assert _parsed(body).command.name == name


@pytest.mark.parametrize("body, name, argument", [
    ("却下 年齢の要件を満たさないため", "reject", "年齢の要件を満たさないため"),
    ("却下：年齢の要件を満たさないため", "reject", "年齢の要件を満たさないため"),
    ("却下　年齢の要件", "reject", "年齢の要件"),
    ("reject too young", "reject", "too young"),
    ("差戻し 生年月日の記入漏れ", "return", "生年月日の記入漏れ"),
    ("差し戻し 住所が空欄", "return", "住所が空欄"),
    ("return missing date", "return", "missing date"),
    ("メモ 電話で確認済み", "note", "電話で確認済み"),
    ("ﾒﾓ 電話で確認済み", "note", "電話で確認済み"),
    ("note called", "note", "called"),
])
def test_commands_with_text(body, name, argument):
    parsed = _parsed(body)
    assert parsed.command.name == name
    assert parsed.argument == argument


def test_argument_continues_on_next_lines():
    parsed = _parsed("却下 次の理由によります。\n年齢の要件を満たしません。\n\n山田（産業人材政策課）")
    assert parsed.argument == "次の理由によります。\n年齢の要件を満たしません。"


@pytest.mark.parametrize("body, documents", [
    ("郵送受領 本人確認書類", ("identity_document",)),
    ("郵送受領 申請書、誓約書", ("registration_form", "pledge_form")),
    ("received identity_document", ("identity_document",)),
    ("受領 様式２", ("pledge_form",)),
])
def test_received_documents(body, documents):
    parsed = _parsed(body)
    assert parsed.command.name == "received"
    assert parsed.documents == documents


def test_resubmit_document_and_reason():
    parsed = _parsed("再提出 本人確認書類 住所が読み取れません")
    assert (parsed.command.name, parsed.documents, parsed.argument) == \
        ("resubmit", ("identity_document",), "住所が読み取れません")


def test_resubmit_ascii_alias():
    parsed = _parsed("resubmit pledge_form unsigned")
    assert (parsed.documents, parsed.argument) == (("pledge_form",), "unsigned")


@pytest.mark.parametrize("body, reason", [
    ("", "empty"),
    ("\n\n  \n", "empty"),
    ("よろしくお願いします", "unknown"),
    ("承認します", "unknown"),
    ("approved", "unknown"),
    ("承認 却下", "ambiguous"),
    ("承認 よろしく", "ambiguous"),
    ("承認\n却下 年齢", "ambiguous"),
    ("メモ 承認 は来週", "ambiguous"),
    ("却下", "missing_argument"),
    ("差戻し", "missing_argument"),
    ("郵送受領", "missing_argument"),
    ("郵送受領 住民票の原本", "unknown_document"),
    ("再提出 本人確認書類", "missing_argument"),
    ("再提出 写真 ぼやけています", "unknown_document"),
])
def test_failures(body, reason):
    assert _failure(body).reason == reason


@pytest.mark.parametrize("body, note", [
    ("承認 確認済", ""),
    ("承認 確認済み。", ""),
    ("承認　確認済、窓口で原本を確認", "窓口で原本を確認"),
    ("approve force", ""),
    ("承認 確認済 窓口で確認\n電話でも本人と話した", "窓口で確認\n電話でも本人と話した"),
])
def test_approve_override(body, note):
    parsed = _parsed(body)
    assert parsed.command.name == "approve"
    assert parsed.override is True
    assert parsed.argument == note


def test_approve_alone_no_override():
    assert _parsed("承認").override is False


def test_approve_unknown_word_names_override():
    assert "「承認 確認済」" in _failure("承認 よろしく").message


def test_failure_message_is_japanese():
    assert "命令" in _failure("よろしく").message


@pytest.mark.parametrize("body", [
    # Outlook (Japanese): separator, then a header block
    "承認\r\n\r\n-----Original Message-----\r\n差出人: 受付 <intake@bureau.example.jp>\r\n"
    "送信日時: 2026年12月4日 10:00\r\n件名: 審査依頼\r\n\r\n却下 テスト\r\n",
    # Outlook (English) and new Outlook: rule line and From/Sent header block
    "承認\n\n________________________________\nFrom: intake <intake@bureau.example.jp>\n"
    "Sent: Friday, December 4, 2026 10:00 AM\nTo: staff\nSubject: 審査依頼\n\n却下 テスト",
    # Outlook header block without a separator (差出人:)
    "承認\n\n差出人: 受付 <intake@bureau.example.jp>\n送信日時: 2026年12月4日(金) 10:00\n"
    "宛先: staff@bureau.example.jp\n件名: 審査依頼\n\n却下 テスト",
    # Gmail in Japanese
    "承認\n\n2026年12月4日(金) 10:00 関東経済産業局 受付 <intake@bureau.example.jp>:\n\n> 却下 テスト",
    # Gmail wraps a long attribution line
    "承認\n\n2026年12月4日(金) 10:00 関東経済産業局 マネジメントメンター受付 <\nintake@bureau.example.jp>:\n\n> 却下 テスト",
    # iPhone in Japanese
    "承認\n\n2026/12/04 10:00、受付 <intake@bureau.example.jp>のメール:\n\n> 却下 テスト",
    # English clients
    "承認\n\nOn Fri, Dec 4, 2026 at 10:00 AM Intake <intake@bureau.example.jp> wrote:\n> 却下 テスト",
    # '>' lines above the answer
    "> 却下 テスト\n承認",
    # full-width '＞'
    "＞ 却下 テスト\n承認",
    # a header block marked in bold, as HTML-to-text conversion writes it
    "承認\n\n*From:* intake\n*Sent:* Friday\n*To:* staff\n*Subject:* 審査依頼\n\n却下 テスト",
])
def test_quoted_command_ignored(body):
    parsed = _parsed(body)
    assert parsed.command.name == "approve"


def test_only_quoted_command_is_empty():
    body = "\n\n2026年12月4日(金) 10:00 受付 <intake@bureau.example.jp>:\n\n> 承認"
    assert _failure(body).reason == "empty"


def test_signature_separator_ends_command():
    assert _parsed("メモ 確認済み\n-- \n山田").argument == "確認済み"


def test_registry_rejects_duplicate_alias():
    registry = CommandRegistry()

    class First(Command):
        name = "first"
        aliases = ("同じ",)

    class Second(Command):
        name = "second"
        aliases = ("ｓａｍｅ", "同じ")

    registry.register(First)
    with pytest.raises(CommandRegistryError):
        registry.register(Second)


def test_registry_rejects_duplicate_name():
    registry = CommandRegistry()

    class First(Command):
        name = "first"
        aliases = ()

    class Again(Command):
        name = "FIRST"
        aliases = ()

    registry.register(First)
    with pytest.raises(CommandRegistryError):
        registry.register(Again)


def test_registry_every_command_described():
    for command in REGISTRY:
        assert command.description, command.name
