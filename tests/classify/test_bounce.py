"""Delivery failure reports: RFC 3464 DSNs and plain-text carrier bounces."""

from __future__ import annotations

from mailflow.intake.bounce import detect_bounce, report_type
from tests.classify.helpers import CASES, make_attachment, make_message, parse_file, read_json

REPORT = "multipart/report; report-type=delivery-status; boundary=b"
STATUS_FAILED = b"""Reporting-MTA: dns; mail.bureau.example.jp
Arrival-Date: Mon,  7 Dec 2026 10:00:01 +0900 (JST)

Final-Recipient: rfc822; ichiro@old.example.jp
Original-Recipient: rfc822;ichiro@old.example.jp
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.old.example.jp
Diagnostic-Code: smtp; 550 5.1.1 <ichiro@old.example.jp>: Recipient address rejected:
    User unknown

Final-Recipient: rfc822; hanako@example.jp
Action: delivered
Status: 2.0.0
"""
STATUS_DELAYED = b"""Reporting-MTA: dns; mail.bureau.example.jp

Final-Recipient: rfc822; jiro@slow.example.jp
Action: delayed
Status: 4.4.7
Diagnostic-Code: smtp; 451 4.4.7 Try again later
"""
RETURNED_HEADERS = (
    "From: intake@bureau.example.jp\nTo: ichiro@old.example.jp\n"
    "Subject: =?UTF-8?B?44CQ5Y+X5LuY44CR?=\nMessage-ID: <notice-1@bureau.example.jp>\n"
).encode()


def dsn(status: bytes, returned: bytes | None = RETURNED_HEADERS, in_attachments: bool = False):
    parts = [make_attachment(filename=None, content_type="message/delivery-status", payload=status)]
    if returned is not None:
        parts.append(make_attachment(filename=None, content_type="text/rfc822-headers", payload=returned))
    subject = "Undelivered Mail Returned to Sender"
    if in_attachments:
        return make_message(subject, "notice", content_type=REPORT, attachments=parts)
    return make_message(subject, "notice", content_type=REPORT, report_parts=parts)


def test_report_type_delivery_status() -> None:
    assert report_type(make_message(content_type=REPORT)) == "delivery-status"


def test_report_type_plain_mail() -> None:
    assert report_type(make_message()) is None


def test_dsn_failed_recipient(rules) -> None:
    report = detect_bounce(dsn(STATUS_FAILED), rules.bounce)
    assert report is not None
    assert [recipient.address for recipient in report.failed_recipients] == ["ichiro@old.example.jp"]
    recipient = report.failed_recipients[0]
    assert recipient.status == "5.1.1"
    assert recipient.action == "failed"
    assert recipient.diagnostic == "550 5.1.1 Recipient address rejected: User unknown"
    assert recipient.original_recipient == "ichiro@old.example.jp"
    assert recipient.remote_mta == "mx.old.example.jp"
    assert recipient.permanent


def test_dsn_per_message_fields(rules) -> None:
    report = detect_bounce(dsn(STATUS_FAILED), rules.bounce)
    assert report is not None
    assert report.reporting_mta == "mail.bureau.example.jp"
    assert report.original_message_id == "<notice-1@bureau.example.jp>"
    assert report.original_subject == "【受付】"
    assert report.returned_part == "text/rfc822-headers"
    assert report.source == "dsn"
    assert report.hard_failure


def test_dsn_delayed_not_hard(rules) -> None:
    report = detect_bounce(dsn(STATUS_DELAYED), rules.bounce)
    assert report is not None
    assert report.failed_recipients[0].status == "4.4.7"
    assert not report.hard_failure
    assert report.delayed_only


def test_dsn_failed_with_temporary_status(rules) -> None:
    status = STATUS_DELAYED.replace(b"Action: delayed", b"Action: failed")
    report = detect_bounce(dsn(status), rules.bounce)
    assert report is not None
    assert report.failed_recipients[0].action == "failed"
    assert not report.failed_recipients[0].permanent


def test_dsn_parts_among_attachments(rules) -> None:
    report = detect_bounce(dsn(STATUS_FAILED, in_attachments=True), rules.bounce)
    assert report is not None
    assert report.failed_recipients[0].address == "ichiro@old.example.jp"


def test_dsn_without_status_part(rules) -> None:
    message = make_message("Undelivered Mail", "notice", content_type=REPORT)
    report = detect_bounce(message, rules.bounce)
    assert report is not None
    assert report.failed_recipients == []


def test_dsn_without_returned_part(rules) -> None:
    report = detect_bounce(dsn(STATUS_FAILED, returned=None), rules.bounce)
    assert report is not None
    assert report.original_message_id is None
    assert report.returned_part is None


def test_dsn_garbage_status(rules) -> None:
    report = detect_bounce(dsn(b"\xff\xfe garbage\n\n: : :\n"), rules.bounce)
    assert report is not None
    assert report.failed_recipients == []


CARRIER_TEXT = """このメールは送信元へ返送されました。
以下の宛先は存在しないため配信できませんでした。

    ｊｉｒｏ．ｋ＠ｅｚｗｅｂ．ｅｘａｍｐｌｅ．ｊｐ

------ 元のメッセージのヘッダ ------
From: intake@bureau.example.jp
To: jiro.k@ezweb.example.jp
Subject: =?UTF-8?B?44CQ5Y+X5LuY44CR?=
Message-ID: <notice-4@bureau.example.jp>
"""


def carrier(text: str = CARRIER_TEXT, subject: str = "配信エラー", sender: str = "postmaster@ezweb.example.jp"):
    return make_message(subject, text, sender=sender, sender_name="")


def test_text_bounce_recipient(rules) -> None:
    report = detect_bounce(carrier(), rules.bounce)
    assert report is not None
    assert [recipient.address for recipient in report.failed_recipients] == ["jiro.k@ezweb.example.jp"]
    assert report.failed_recipients[0].action == "failed"
    assert report.source == "text"


def test_text_bounce_original_headers(rules) -> None:
    report = detect_bounce(carrier(), rules.bounce)
    assert report is not None
    assert report.original_message_id == "<notice-4@bureau.example.jp>"
    assert report.original_subject == "【受付】"
    assert report.returned_part is None


def test_text_bounce_status_code(rules) -> None:
    text = (
        "Hi. This is the qmail-send program.\nI'm afraid I wasn't able to deliver your message.\n\n"
        "<jiro@example.jp>:\n550 5.1.1 <jiro@example.jp>... User unknown\n\n"
        "--- Below this line is a copy of the message.\n\nTo: jiro@example.jp\n"
    )
    report = detect_bounce(carrier(text, "failure notice", "MAILER-DAEMON@mx.example.jp"), rules.bounce)
    assert report is not None
    assert report.failed_recipients[0].address == "jiro@example.jp"
    assert report.failed_recipients[0].status == "5.1.1"
    assert report.failed_recipients[0].diagnostic == "550 5.1.1 ... User unknown"


def test_text_bounce_recipient_from_original_to(rules) -> None:
    text = "宛先が存在しないため配信できませんでした。\n\n------ 元のメッセージ ------\nTo: saburo@example.jp\n"
    report = detect_bounce(carrier(text), rules.bounce)
    assert report is not None
    assert report.failed_recipients[0].address == "saburo@example.jp"


def test_text_bounce_delay(rules) -> None:
    text = "配信が遅延しています。再送を試みます。\n\n  jiro@example.jp\n"
    report = detect_bounce(carrier(text, "配信エラー"), rules.bounce)
    assert report is not None
    assert report.failed_recipients[0].action == "delayed"
    assert report.delayed_only


def test_postmaster_person_not_bounce(rules) -> None:
    message = carrier("サーバー移転のお知らせです。", "メンテナンスのお知らせ")
    assert detect_bounce(message, rules.bounce) is None


def test_bounce_words_from_person_not_bounce(rules) -> None:
    message = make_message("配信エラーについて", "御局からのメールが配信エラーになりました。")
    assert detect_bounce(message, rules.bounce) is None


def test_case_dsn_rfc3464(rules) -> None:
    """case-15-bounces-dsn-and-carrier: the DSN's failed recipient and status."""
    folder = CASES / "case-15-bounces-dsn-and-carrier"
    expected = read_json(folder / "expected.json")["expected"]["dsn-rfc3464.eml"]
    message = parse_file(folder / "dsn-rfc3464.eml")
    report = detect_bounce(message, rules.bounce)
    assert report is not None
    assert [recipient.address for recipient in report.failed_recipients] == [expected["failed_recipient"]]
    assert report.failed_recipients[0].status == expected["status"]


def test_case_carrier_plain(rules) -> None:
    """case-15-bounces-dsn-and-carrier: the ISO-2022-JP carrier bounce's failed address."""
    expected = read_json(CASES / "case-15-bounces-dsn-and-carrier" / "expected.json")["expected"]
    message = parse_file(CASES / "case-15-bounces-dsn-and-carrier" / "carrier-plain-bounce.eml")
    report = detect_bounce(message, rules.bounce)
    assert report is not None
    addresses = [recipient.address for recipient in report.failed_recipients]
    assert addresses == [expected["carrier-plain-bounce.eml"]["failed_recipient"]]
