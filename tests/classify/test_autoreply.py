"""Automatic replies: RFC 3834 headers, vendor headers, subject prefixes and away dates."""

from __future__ import annotations

import datetime as dt

import pytest

from mailflow.intake.autoreply import OWN_MARKER_HEADER, detect_auto_reply, find_away_until, is_own_message
from tests.classify.helpers import MAILBOX, make_message, parse_file, read_json

SENT = dt.date(2026, 12, 7)


def detect(rules, subject: str = "【受付】申請を受け付けました", headers=None, body: str = ""):
    return detect_auto_reply(make_message(subject, body, headers=headers), rules.auto_reply)


@pytest.mark.parametrize(
    "headers",
    [
        [("Auto-Submitted", "auto-replied")],
        [("Auto-Submitted", "auto-generated")],
        [("Auto-Submitted", "auto-replied; owner-email=taro@example.jp")],
        [("X-Autoreply", "yes")],
        [("X-Autorespond", "Out of office")],
        [("X-MS-Exchange-Generated-Message-Source", "Mailbox Rules Agent")],
        [("X-MS-Exchange-Inbox-Rules-Loop", "taro.yamada@example.jp")],
        [("Precedence", "bulk")],
        [("Precedence", "junk")],
        [("Precedence", "list")],
        [("Precedence", "auto_reply")],
    ],
    ids=lambda headers: f"{headers[0][0]}: {headers[0][1]}",
)
def test_header_ignores(rules, headers) -> None:
    info = detect(rules, headers=headers)
    assert info is not None
    assert info.decision == "ignore_auto_reply"


def test_read_receipt_ignored(rules) -> None:
    content_type = "multipart/report; report-type=disposition-notification; boundary=x"
    info = detect_auto_reply(make_message("開封確認", content_type=content_type), rules.auto_reply)
    assert info is not None
    assert info.decision == "ignore_auto_reply"


def test_auto_submitted_no_is_human(rules) -> None:
    assert detect(rules, headers=[("Auto-Submitted", "no")]) is None


def test_auto_submitted_no_disables_subject_prefix(rules) -> None:
    assert detect(rules, "自動返信: お問い合わせありがとうございます", [("Auto-Submitted", "No")]) is None


def test_precedence_first_class_is_human(rules) -> None:
    assert detect(rules, headers=[("Precedence", "first-class")]) is None


def test_response_suppress_alone_ignored(rules) -> None:
    assert detect(rules, headers=[("X-Auto-Response-Suppress", "All")]) is None


def test_response_suppress_with_oof_subject(rules) -> None:
    info = detect(rules, "自動応答: 【受付】", [("X-Auto-Response-Suppress", "All")])
    assert info is not None
    assert info.decision == "ignore_auto_reply"
    assert "X-Auto-Response-Suppress: All" in info.signals


@pytest.mark.parametrize(
    ("subject", "prefix"),
    [
        ("自動応答: 【受付】申請を受け付けました", "自動応答:"),
        ("自動返信：お問い合わせありがとうございます", "自動返信:"),
        ("【自動返信】メールを受信しました", "【自動返信】"),
        ("［自動応答］不在にしています", "[自動応答]"),
        ("不在: 12月14日まで休暇です", "不在:"),
        ("不在通知：山田", "不在通知:"),
        ("Automatic reply: Receipt", "Automatic reply:"),
        ("Out of Office: Receipt", "Out of Office:"),
        ("AutoReply: Receipt", "AutoReply:"),
        ("ＡｕｔｏＲｅｐｌｙ：受付", "AutoReply:"),
    ],
)
def test_subject_prefix_manual_review(rules, subject: str, prefix: str) -> None:
    info = detect(rules, subject)
    assert info is not None
    assert info.decision == "manual_review"
    assert info.subject_prefix == prefix


@pytest.mark.parametrize(
    "subject",
    ["Re: 自動返信: 受付", "不在票について", "自動返信の設定について質問です", "Re: 【受付】申請を受け付けました"],
)
def test_subject_without_prefix(rules, subject: str) -> None:
    assert detect(rules, subject) is None


def test_list_headers_bulk_only(rules) -> None:
    info = detect(rules, "セミナーのご案内", [("List-Unsubscribe", "<mailto:u@example.com>")])
    assert info is not None
    assert info.bulk
    assert info.decision is None


def test_list_headers_with_prefix_ignored(rules) -> None:
    info = detect(rules, "自動返信: ご案内", [("List-Id", "<news.example.com>")])
    assert info is not None
    assert info.decision == "ignore_auto_reply"


def test_own_marker(rules) -> None:
    message = make_message("【受付】", headers=[(OWN_MARKER_HEADER, "receipt:42")])
    info = detect_auto_reply(message, rules.auto_reply)
    assert is_own_message(message)
    assert info is not None
    assert info.own_mail
    assert info.decision == "ignore_auto_reply"


def test_away_until_from_body(rules) -> None:
    info = detect(rules, "自動応答: 受付", [("Auto-Submitted", "auto-replied")], body="12月14日（月）まで不在です。")
    assert info is not None
    assert info.away_until == dt.date(2026, 12, 14)


def test_away_until_ignores_quote(rules) -> None:
    body = "不在にしております。\n\n> 1月20日（水）までにご回答ください。"
    info = detect(rules, "自動応答: 受付", [("Auto-Submitted", "auto-replied")], body=body)
    assert info is not None
    assert info.away_until is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12月4日（金）から12月14日（月）まで休暇のため", dt.date(2026, 12, 14)),
        ("２０２６年１２月２０日まで出張しております", dt.date(2026, 12, 20)),
        ("12/4～12/14 は不在です", dt.date(2026, 12, 14)),
        ("12/18(金)迄お休みをいただいております", dt.date(2026, 12, 18)),
        ("1月5日まで年末年始休暇です", dt.date(2027, 1, 5)),
        ("I am out of the office until Monday, December 14, 2026.", dt.date(2026, 12, 14)),
        ("Away until Dec 21st.", dt.date(2026, 12, 21)),
        ("I am away until 12/21.", dt.date(2026, 12, 21)),
        ("ただいま不在にしております。", None),
        ("2月30日まで不在です", None),
        ("電話 03-5555-0000 までご連絡ください", None),
    ],
)
def test_find_away_until(text: str, expected: dt.date | None) -> None:
    assert find_away_until(text, SENT) == expected


def test_find_away_until_without_sent_date() -> None:
    assert find_away_until("12月14日まで不在です", None) is None


def test_find_away_until_year_without_sent_date() -> None:
    assert find_away_until("2026年12月14日まで不在です", None) == dt.date(2026, 12, 14)


def test_sample_oof_signals(rules) -> None:
    """12-auto-reply-oof: every signal and the away date from the expected JSON."""
    expected = read_json(MAILBOX / "12-auto-reply-oof.json")["auto_reply"]
    info = detect_auto_reply(parse_file(MAILBOX / "12-auto-reply-oof.eml"), rules.auto_reply)
    assert info is not None
    for signal in expected["signals"]:
        assert signal in info.signals
    assert info.away_until == dt.date.fromisoformat(expected["away_until"])
