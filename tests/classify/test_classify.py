"""Message kinds and decisions from hand-built messages, one rule or conflict at a time."""

from __future__ import annotations

import pytest

from mailflow.intake.autoreply import OWN_MARKER_HEADER
from mailflow.intake.classify import classify_message, screen_message
from tests.classify.helpers import make_attachment, make_message

TOKEN = "MF0123456789"


def classify(rules, subject: str = "", body: str = "", **kwargs):
    form_application_type = kwargs.pop("form_application_type", None)
    return classify_message(make_message(subject, body, **kwargs), rules, form_application_type)


@pytest.mark.parametrize(
    ("subject", "body", "kind"),
    [
        ("マネジメントメンター登録申請", "登録を希望します。書類は郵送します。", "registration"),
        ("新規登録のお願い", "よろしくお願いいたします。", "registration"),
        ("登録更新の申請", "登録の更新を申請いたします。", "renewal"),
        ("お願い", "登録期間の更新手続きをお願いします。", "renewal"),
        ("登録内容の変更について", "転居に伴い、住所を変更しました。", "change_notice"),
        ("住所変更", "よろしくお願いします。", "change_notice"),
        ("登録取り消しのお願い", "一身上の都合により登録の取り消しを希望します。", "withdrawal"),
        ("ご連絡", "メンターを辞退します。", "withdrawal"),
        ("登録要件についての質問", "在職中でも申請できますか。", "inquiry"),
        ("ご相談", "よろしくお願いします。", "inquiry"),
        ("参加企業課題一覧の送付", "様式3を送ります。", "challenge_list"),
        ("交流会の出席希望", "様式4を送ります。", "attendance_form"),
        ("こんにちは", "先日はありがとうございました。", "other"),
    ],
)
def test_keyword_kinds(rules, subject: str, body: str, kind: str) -> None:
    assert classify(rules, subject, body).kind == kind


def test_full_width_subject_matches(rules) -> None:
    assert classify(rules, "ＦＷ：様式３の送付", "転送します。").kind == "challenge_list"


def test_inquiry_about_eligibility_not_registration(rules) -> None:
    body = (
        "マネジメントメンターへの登録を希望していますが、現在58歳で在職中です。\n"
        "2027年3月末に定年退職の予定ですが、申請できますか。\n"
        "本人確認書類としてマイナンバーカードの写しを送ってもよいでしょうか。"
    )
    result = classify(rules, "マネジメントメンター登録について", body)
    assert result.kind == "inquiry"
    assert result.decision == "process"
    assert result.send_reply


def test_registration_form_beats_question(rules) -> None:
    form = make_attachment("registration_form")
    result = classify(rules, "書類を送ります", "これで大丈夫でしょうか？", attachments=[form])
    assert result.kind == "registration"


def test_form_application_type_renewal(rules) -> None:
    form = make_attachment("registration_form")
    result = classify(rules, "書類の送付", "", attachments=[form], form_application_type="更新")
    assert result.kind == "renewal"
    assert "登録申請書の申請区分が『更新』です" in result.reasons


def test_form_application_type_beats_words(rules) -> None:
    form = make_attachment("registration_form")
    result = classify(rules, "登録更新の申請", "", attachments=[form], form_application_type="新規")
    assert result.kind == "registration"


def test_renewal_words_decide_form(rules) -> None:
    form = make_attachment("registration_form")
    assert classify(rules, "登録更新の申請", "", attachments=[form]).kind == "renewal"


def test_supporting_documents_follow_renewal(rules) -> None:
    documents = [make_attachment("pledge_form"), make_attachment("identity_document")]
    assert classify(rules, "登録更新の書類", "", attachments=documents).kind == "renewal"


def test_identity_document_alone_is_application(rules) -> None:
    result = classify(rules, "Re: 書類", "写真を送ります。", attachments=[make_attachment("identity_document")])
    assert result.kind == "registration"


def test_change_notice_with_identity_document(rules) -> None:
    documents = [make_attachment("identity_document")]
    assert classify(rules, "住所変更の届け出", "", attachments=documents).kind == "change_notice"


def test_challenge_list_attachment(rules) -> None:
    result = classify(rules, "資料送付", "", attachments=[make_attachment("challenge_list")])
    assert result.kind == "challenge_list"
    assert "参加企業課題一覧（様式3）が添付されています" in result.reasons


def test_conflicting_forms_manual_review(rules) -> None:
    documents = [make_attachment("registration_form"), make_attachment("challenge_list")]
    result = classify(rules, "書類", "", attachments=documents)
    assert result.decision == "manual_review"
    assert result.kind == "registration"


def test_encrypted_attachment_manual_review(rules) -> None:
    archive = make_attachment(None, filename="申込書.zip", encrypted=True)
    result = classify(rules, "【送付】申込書", "", attachments=[archive])
    assert result.decision == "manual_review"
    assert not result.send_reply


def test_quoted_words_ignored(rules) -> None:
    body = "ありがとうございました。\n\n2026年12月2日(水) 14:03 小林 <k@example.jp>:\n> 登録の取り消しを希望します。"
    assert classify(rules, "お礼", body).kind == "other"


def test_reason_names_subject_word(rules) -> None:
    assert "件名に『登録更新』があります" in classify(rules, "登録更新の申請", "").reasons


def test_matched_rules_name_keyword_set(rules) -> None:
    assert "keywords.withdrawal" in classify(rules, "退会のお願い", "").matched_rules


def test_unmatched_is_other(rules) -> None:
    result = classify(rules, "こんにちは", "お元気でお過ごしください。")
    assert result.kind == "other"
    assert result.decision == "process"
    assert not result.send_reply


def test_empty_message_other(rules) -> None:
    result = classify(rules, "登録申請", "")
    assert result.kind == "other"
    assert "empty_message" in result.matched_rules


def test_html_only_other(rules) -> None:
    result = classify(rules, "特典付きのご案内", "", html="<p>今すぐ申し込む</p>")
    assert result.kind == "other"
    assert result.decision == "process"


def test_html_only_with_request_words(rules) -> None:
    result = classify(rules, "登録申請", "", html="<p>登録を希望します</p>")
    assert result.kind == "other"
    assert result.decision == "manual_review"


def test_bulk_mail_no_reply(rules) -> None:
    result = classify(rules, "新規登録キャンペーン", "今なら新規登録で特典", headers=[("List-Id", "<n.example.com>")])
    assert result.kind == "other"
    assert not result.send_reply


def test_password_notice_no_reply(rules) -> None:
    result = classify(rules, "【パスワード】申込書", "先ほどのファイルのパスワード：Ab3xY9q2")
    assert result.kind == "other"
    assert result.decision == "process"
    assert not result.send_reply


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("パスワードのお知らせ", "Ab3xY9q2"),
        ("Re: 申込書", "解凍パスワードは Zq81xk です。"),
        ("[Password] application", "password: Zq81xk"),
    ],
)
def test_password_notice_forms(rules, subject: str, body: str) -> None:
    assert "password_notice" in classify(rules, subject, body).matched_rules


def test_password_question_is_inquiry(rules) -> None:
    result = classify(rules, "送付方法について", "申請書をパスワード付きのファイルで送ってもよいでしょうか。")
    assert result.kind == "inquiry"
    assert result.send_reply


def test_password_never_in_reasons(rules) -> None:
    result = classify(rules, "【パスワード】申込書", "先ほどのファイルのパスワード：Ab3xY9q2")
    assert not any("Ab3xY9q2" in reason for reason in result.reasons)


def test_staff_token_in_subaddress(rules) -> None:
    form = make_attachment("registration_form")
    result = classify(rules, "Re: 審査のお願い", "承認", to=f"intake+{TOKEN}@bureau.example.jp", attachments=[form])
    assert result.kind == "staff_reply"
    assert result.staff_token == TOKEN
    assert result.decision == "process"


def test_staff_token_lower_case_subaddress(rules) -> None:
    result = classify(rules, "Re: 審査", "承認", to=f"intake+{TOKEN.lower()}@bureau.example.jp")
    assert result.staff_token == TOKEN


def test_staff_token_in_delivered_to(rules) -> None:
    headers = [("Delivered-To", f"intake+{TOKEN}@bureau.example.jp")]
    assert classify(rules, "Re: 審査", "承認", headers=headers).staff_token == TOKEN


def test_staff_token_in_subject(rules) -> None:
    result = classify(rules, f"Re: [{TOKEN}] 審査のお願い", "差戻し")
    assert result.kind == "staff_reply"
    assert result.staff_token == TOKEN


@pytest.mark.parametrize(
    "subject",
    ["Re: [MF012345678] 短い", "Re: [MF0123456789A] 長い", "Re: [MF01234567IL] 使えない文字", "Re: XMF0123456789"],
)
def test_staff_token_invalid(rules, subject: str) -> None:
    assert classify(rules, subject, "承認").kind != "staff_reply"


def test_staff_token_not_in_auto_reply(rules) -> None:
    headers = [("Auto-Submitted", "auto-replied")]
    result = classify(rules, f"自動応答: [{TOKEN}] 審査", "", headers=headers)
    assert result.kind == "auto_reply"
    assert result.decision == "ignore_auto_reply"


def test_inline_forward_sender(rules) -> None:
    body = (
        "転送します。\n\n---------- Forwarded message ---------\nFrom: 山田 太郎 <taro.yamada@example.jp>\n"
        "Subject: 申込書\n\n登録を希望します。"
    )
    result = classify(rules, "Fwd: 申込書", body)
    assert result.forwarded_from == "taro.yamada@example.jp"
    assert "forwarded" in result.matched_rules


def test_forwarded_text_decides_kind(rules) -> None:
    body = "転送します。\n\n---------- Forwarded message ---------\nFrom: 小林 <k@example.jp>\n\n一身上の都合により退会します。"
    assert classify(rules, "Fwd: ご連絡", body).kind == "withdrawal"


def test_rfc822_forward_sender(rules) -> None:
    inner = make_message("申込書", "送ります。", sender="taro.yamada@example.jp")
    form = make_attachment("registration_form")
    forward = make_attachment(None, filename=None, content_type="message/rfc822", forwarded=inner, children=[form])
    result = classify(rules, "FW: 申込書", "例の申込書を転送します。", attachments=[forward])
    assert result.forwarded_from == "taro.yamada@example.jp"
    assert result.kind == "registration"


def test_own_message_ignored(rules) -> None:
    result = classify(rules, "【受付】申請を受け付けました", "受付しました。", headers=[(OWN_MARKER_HEADER, "receipt")])
    assert result.kind == "auto_reply"
    assert result.decision == "ignore_auto_reply"
    assert result.matched_rules[0] == "own_message"


def test_subject_only_auto_reply(rules) -> None:
    result = classify(rules, "自動返信：お問い合わせありがとうございます", "")
    assert result.kind == "auto_reply"
    assert result.decision == "manual_review"
    assert not result.send_reply


def test_screen_message_passes_ordinary_mail(rules) -> None:
    assert screen_message(make_message("登録申請", "登録を希望します。"), rules) is None


def test_screen_message_ignores_attachments(rules) -> None:
    form = make_attachment("registration_form")
    message = make_message("自動応答: 受付", "", headers=[("Auto-Submitted", "auto-replied")], attachments=[form])
    result = screen_message(message, rules)
    assert result is not None
    assert result.decision == "ignore_auto_reply"


def test_bounce_with_form_stays_bounce(rules) -> None:
    status = (
        b"Reporting-MTA: dns; mx.example.jp\n\n"
        b"Final-Recipient: rfc822; a@example.jp\nAction: failed\nStatus: 5.1.1\n"
    )
    parts = [make_attachment(filename=None, content_type="message/delivery-status", payload=status)]
    form = make_attachment("registration_form")
    message = make_message(
        "Undelivered Mail",
        "notice",
        content_type="multipart/report; report-type=delivery-status; boundary=b",
        report_parts=parts,
        attachments=[form],
    )
    result = classify_message(message, rules)
    assert result.kind == "bounce"
    assert result.decision == "bounce"
    assert result.bounce is not None
