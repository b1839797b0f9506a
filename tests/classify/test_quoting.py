"""Quote stripping and inline forward detection across the clients applicants use."""

from __future__ import annotations

import pytest

from mailflow.intake.quoting import find_forward, strip_quotes

OWN = "追加の書類を送ります。\nよろしくお願いいたします。"

QUOTE_FORMATS = [
    (
        "outlook-japanese-original-message",
        f"{OWN}\n\n-----Original Message-----\n差出人: 関東経済産業局 <intake@bureau.example.jp>\n"
        "送信日時: 2026年12月2日 14:03\n宛先: taro.yamada@example.jp\n件名: 【受付】申請を受け付けました\n\n"
        "申請を受け付けました。\n",
    ),
    (
        "outlook-japanese-header-block",
        f"{OWN}\n\n________________________________\n差出人: 関東経済産業局 <intake@bureau.example.jp>\n"
        "送信日時: 2026年12月2日 14:03\n宛先: taro.yamada@example.jp\n件名: 【受付】\n\n受付しました。\n",
    ),
    (
        "outlook-japanese-full-width",
        f"{OWN}\n\n－－－－－Original Message－－－－－\n差出人：関東経済産業局\n"
        "送信日時：２０２６年１２月２日 １４：０３\n件名：【受付】\n\n受付しました。\n",
    ),
    (
        "outlook-japanese-moto-message",
        f"{OWN}\n\n----- 元のメッセージ -----\n差出人: intake@bureau.example.jp\n\n受付しました。\n",
    ),
    (
        "outlook-english-header-block",
        f"{OWN}\n\nFrom: Intake <intake@bureau.example.jp>\nSent: Wednesday, December 2, 2026 2:03 PM\n"
        "To: taro.yamada@example.jp\nSubject: Receipt\n\nWe received your application.\n",
    ),
    (
        "outlook-english-original-message",
        f"{OWN}\n\n----- Original Message -----\nFrom: intake@bureau.example.jp\nTo: taro@example.jp\n\nText\n",
    ),
    (
        "gmail-japanese",
        f"{OWN}\n\n2026年12月2日(水) 14:03 佐藤花子 <hanako.sato@example.com>:\n\n> 関東経済産業局 ご担当者様\n>\n"
        "> 登録の取り消しを希望します。\n",
    ),
    (
        "gmail-japanese-full-width",
        f"{OWN}\n\n２０２６年１２月２日（水） １４：０３ 佐藤花子 <hanako.sato@example.com>：\n\n"
        "＞ 登録の取り消しを希望します。\n＞ 佐藤\n",
    ),
    (
        "gmail-english-wrapped",
        f"{OWN}\n\nOn Wed, Dec 2, 2026 at 2:03 PM Hanako Sato <\nhanako.sato@example.com> wrote:\n\n"
        "> I would like to withdraw.\n",
    ),
    (
        "iphone-japanese",
        f"{OWN}\n\n2026/12/02 14:03、佐藤花子 <hanako.sato@example.com>のメール:\n\n> 登録を取り消したいです。\n",
    ),
    (
        "iphone-english",
        f"{OWN}\n\nOn Dec 2, 2026, at 14:03, Hanako Sato <hanako.sato@example.com> wrote:\n\n> Withdraw me.\n",
    ),
    (
        "thunderbird-japanese",
        f"{OWN}\n\n佐藤花子 さんは書きました:\n> 登録を取り消したいです。\n",
    ),
    (
        "angle-bracket-only",
        f"{OWN}\n\n> 登録を取り消したいです。\n> > さらに古い引用\n",
    ),
    (
        "full-width-angle-bracket",
        f"{OWN}\n\n＞ 登録を取り消したいです。\n",
    ),
    (
        "attribution-without-angle-brackets",
        f"{OWN}\n\n2026年12月2日(水) 14:03 佐藤花子 <hanako.sato@example.com>:\n関東経済産業局 ご担当者様\n"
        "登録の取り消しを希望します。\n",
    ),
]


@pytest.mark.parametrize("text", [row[1] for row in QUOTE_FORMATS], ids=[row[0] for row in QUOTE_FORMATS])
def test_strip_quotes_formats(text: str) -> None:
    assert strip_quotes(text) == OWN


def test_strip_quotes_keeps_inline_answers() -> None:
    text = "> 在職中でも申請できますか。\nはい、できます。\n> 期限はいつですか。\n3月末です。"
    assert strip_quotes(text) == "はい、できます。\n3月末です。"


def test_strip_quotes_inline_answers_after_attribution() -> None:
    text = "On Wed, Dec 2, 2026 at 2:03 PM Hanako Sato <hanako.sato@example.com> wrote:\n> 質問1\n回答1\n> 質問2\n回答2"
    assert strip_quotes(text) == "回答1\n回答2"


def test_strip_quotes_keeps_signature_rules() -> None:
    text = "書類を添付します。\n\n--------------------------------\n山田 太郎\nTEL 090-1234-5678\n--------------------------------"
    assert strip_quotes(text) == text


def test_strip_quotes_keeps_line_above_attribution() -> None:
    text = "了解しました。\nOn Wed, Dec 2, 2026 at 2:03 PM Hanako <h@example.com> wrote:\n> 元の文"
    assert strip_quotes(text) == "了解しました。"


def test_strip_quotes_keeps_lone_from_line() -> None:
    text = "From: 山田太郎（差出人の名前です）\n\n書類を送ります。"
    assert strip_quotes(text) == text


def test_strip_quotes_crlf_input() -> None:
    assert strip_quotes("了解です。\r\n\r\n> 元の文\r\n") == "了解です。"


def test_strip_quotes_empty() -> None:
    assert strip_quotes("") == ""


FORWARDS = [
    (
        "gmail",
        "FW は件名にありません",
        "転送します。\n\n---------- Forwarded message ---------\nFrom: 山田 太郎 <taro.yamada@example.jp>\n"
        "Date: 2026年12月1日(火) 9:00\nSubject: 申込書\nTo: <ichiro@example.jp>\n\n登録を希望します。\n",
        "taro.yamada@example.jp",
    ),
    (
        "thunderbird-japanese",
        "Fwd: 申込書",
        "-------- 転送メッセージ --------\n件名: 申込書\n日付: Tue, 1 Dec 2026 09:00:00 +0900\n"
        "差出人: 山田 太郎 <taro.yamada@example.jp>\n宛先: ichiro@example.jp\n\n登録を希望します。\n",
        "taro.yamada@example.jp",
    ),
    (
        "iphone-japanese",
        "Fwd: 申込書",
        "iPhoneから送信\n\n転送されたメッセージ:\n\n差出人: 山田 太郎 <taro.yamada@example.jp>\n"
        "日付: 2026年12月1日 9:00:00 JST\n宛先: ichiro@example.jp\n件名: 申込書\n\n登録を希望します。\n",
        "taro.yamada@example.jp",
    ),
    (
        "iphone-english",
        "Fwd: application",
        "Begin forwarded message:\n\nFrom: Taro Yamada <taro.yamada@example.jp>\nDate: December 1, 2026\n"
        "Subject: application\n\nPlease register me.\n",
        "taro.yamada@example.jp",
    ),
    (
        "outlook-japanese-fw-subject",
        "FW: 申込書",
        "転送します。\n\n差出人: 山田 太郎 <taro.yamada@example.jp>\n送信日時: 2026年12月1日 9:00\n"
        "宛先: ichiro@example.jp\n件名: 申込書\n\n登録を希望します。\n",
        "taro.yamada@example.jp",
    ),
    (
        "outlook-full-width-fw-subject",
        "ＦＷ：申込書",
        "転送します。\n\n-----Original Message-----\n差出人：山田 太郎 <taro.yamada@example.jp>\n"
        "送信日時：2026年12月1日 9:00\n件名：申込書\n\n登録を希望します。\n",
        "taro.yamada@example.jp",
    ),
]


@pytest.mark.parametrize(
    ("subject", "text", "sender"), [row[1:] for row in FORWARDS], ids=[row[0] for row in FORWARDS]
)
def test_find_forward_sender(subject: str, text: str, sender: str) -> None:
    block = find_forward(text, subject)
    assert block is not None
    assert block.sender_address == sender


@pytest.mark.parametrize(
    ("subject", "text"), [(row[1], row[2]) for row in FORWARDS], ids=[row[0] for row in FORWARDS]
)
def test_find_forward_text(subject: str, text: str) -> None:
    block = find_forward(text, subject)
    assert block is not None
    assert block.text.splitlines()[0] in ("登録を希望します。", "Please register me.")


def test_find_forward_name_only() -> None:
    block = find_forward("差出人: 山田 太郎\n送信日時: 2026年12月1日\n件名: 申込書\n\n本文", "FW: 申込書")
    assert block is not None
    assert block.sender_address is None
    assert block.sender == "山田 太郎"


def test_find_forward_outlook_reply_not_forward() -> None:
    text = "了解です。\n\n差出人: 関東経済産業局 <intake@bureau.example.jp>\n送信日時: 2026年12月1日\n件名: 受付\n"
    assert find_forward(text, "RE: 受付") is None


def test_find_forward_plain_mail() -> None:
    assert find_forward(OWN, "登録申請") is None
