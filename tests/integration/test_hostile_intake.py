"""Hostile and confusing mail at intake: nothing answered that must not be, nothing leaked."""

from __future__ import annotations

import datetime as dt
import email.utils
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from mailflow import clock
from mailflow.app import App
from mailflow.db.models import InboundMessage, ReviewItem

from tests.integration.harness import FROZEN_NOW, STAFF, base_config, parse, sample_mails
from tests.integration.test_intake_maildir import deliver

APPLICANT = "hiroshi.yamaguchi@example.com"


def text_mail(sender: str, subject: str, body: str, *, index: int, in_reply_to: str | None = None,
              minutes: int = 0) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "intake@bureau.example.jp"
    message["Subject"] = subject
    message["Message-ID"] = f"<hostile-{index}@example.net>"
    message["Date"] = email.utils.format_datetime(FROZEN_NOW - dt.timedelta(hours=2) + dt.timedelta(minutes=minutes))
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    return bytes(message)


class Run:
    """A Maildir + files set-up that takes in mail in rounds, keeping its database."""

    def __init__(self, tmp_path: Path) -> None:
        self.config = base_config(tmp_path)
        self.tmp_path = tmp_path
        self.count = 0
        self.app = App(self.config)

    def take_in(self, *raws: bytes) -> list:
        paths = []
        for raw in raws:
            self.count += 1
            path = self.tmp_path / f"mail-{self.count}.eml"
            path.write_bytes(raw)
            paths.append(path)
        deliver(Path(self.config.mailbox.maildir), paths, first=self.count - len(paths))
        clock.set_now(FROZEN_NOW)
        try:
            self.app.run_once()
        finally:
            clock.set_now(None)
        return self.sent()

    def sent(self) -> list:
        return [parse(path.read_bytes()) for path in sorted(Path(self.config.outbound.directory).glob("*.eml"))]

    def to(self, address: str) -> list:
        return [message for message in self.sent() if address in message["to"]]

    def inbound(self, message_id: str) -> InboundMessage:
        with self.app.sessions() as session:
            return session.scalar(select(InboundMessage).where(InboundMessage.message_id == message_id))

    def item_of(self, message_id: str) -> ReviewItem | None:
        inbound = self.inbound(message_id)
        with self.app.sessions() as session:
            return session.get(ReviewItem, inbound.item_id) if inbound.item_id else None


def applicant_receipt(run: Run):
    application = next(mail for mail in sample_mails() if mail.stem.startswith("16"))
    run.take_in(application.raw)
    return run.to(APPLICANT)[0]


def test_foreign_reply_on_receipt_gets_own_item(tmp_path):
    run = Run(tmp_path)
    receipt = applicant_receipt(run)
    photo_reply = text_mail("stranger@example.net", f"Re: {receipt['subject']}", "写真を送ります。",
                            index=1, in_reply_to=receipt["message-id"])
    run.take_in(photo_reply)
    original = run.item_of(sample_mails()[15].expected["message_id"])
    foreign = run.item_of("<hostile-1@example.net>")
    assert foreign is None or foreign.id != original.id
    for answer in run.to("stranger@example.net"):
        body = answer.get_body(("plain",)).get_content()
        assert "山口" not in body
        assert original.number not in body


def test_plain_out_of_office_reply_not_answered(tmp_path):
    run = Run(tmp_path)
    receipt = applicant_receipt(run)
    before = len(run.to(APPLICANT))
    for index in range(3):
        run.take_in(text_mail(APPLICANT, f"Re: {receipt['subject']}", "ただいま不在にしております。",
                              index=10 + index, in_reply_to=receipt["message-id"], minutes=index * 10))
    assert len(run.to(APPLICANT)) == before
    item = run.item_of("<hostile-10@example.net>")
    assert item is not None
    assert item.state == "needs_attention"


def test_machine_and_own_senders_not_answered(tmp_path):
    run = Run(tmp_path)
    run.take_in(
        text_mail("postmaster@mail.example.net", "配信できませんでした 登録申請", "登録申請書を送付します。", index=20),
        text_mail("intake@bureau.example.jp", "登録申請書の送付", "登録申請書を送付します。", index=21),
    )
    assert run.to("postmaster@mail.example.net") == []
    assert run.to("intake@bureau.example.jp") == []


def test_staff_mail_without_token_refused_not_filed(tmp_path):
    run = Run(tmp_path)
    run.take_in(text_mail(STAFF, "Re: 登録申請", "承認", index=30))
    inbound = run.inbound("<hostile-30@example.net>")
    assert inbound.kind == "staff_reply"
    assert inbound.item_id is None
    assert all("受け付けました" not in message["subject"] for message in run.to(STAFF))


def test_damaged_unclassified_mail_quarantined(tmp_path):
    run = Run(tmp_path)
    raw = (b"From: someone@example.net\r\nTo: intake@bureau.example.jp\r\nSubject: hello\r\n"
           b"Message-ID: <hostile-40@example.net>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed\r\n\r\nno boundary here\r\n")
    run.take_in(raw)
    inbound = run.inbound("<hostile-40@example.net>")
    assert inbound.state == "quarantined"
    assert "壊れて" in inbound.error
    assert run.to("someone@example.net") == []


def test_mail_without_sender_quarantined(tmp_path):
    run = Run(tmp_path)
    raw = (b"To: intake@bureau.example.jp\r\nSubject: =?utf-8?b?55m76Yyy55Sz6KuL?=\r\n"
           b"Message-ID: <hostile-50@example.net>\r\n\r\n\xe7\x99\xbb\xe9\x8c\xb2\r\n")
    run.take_in(raw)
    inbound = run.inbound("<hostile-50@example.net>")
    assert inbound.state == "quarantined"
    assert "差出人" in inbound.error


def test_daily_receipt_limit(tmp_path):
    run = Run(tmp_path)
    limit = run.config.intake.max_receipts_per_day
    for index in range(limit + 2):
        run.take_in(text_mail("loop@example.net", f"質問 {index}", "登録の要件について質問です。",
                              index=60 + index, minutes=index * 30))
    receipts = [message for message in run.to("loop@example.net") if "受け付けました" in message["subject"]]
    assert len(receipts) == limit


def test_unfiled_mail_listed_in_digest(tmp_path):
    run = Run(tmp_path)
    spam = next(mail for mail in sample_mails() if mail.stem.startswith("15"))
    run.take_in(spam.raw)
    digests = [message for message in run.to(STAFF) if "日次のまとめ" in message["subject"]]
    assert len(digests) == 1
    body = digests[0].get_body(("plain",)).get_content()
    assert "案件にしなかったメール（1通" in body
    assert spam.expected["subject"][:20] in body


def test_unreadable_file_not_attached_for_staff(tmp_path):
    from tests.conftest import CASES

    run = Run(tmp_path)
    run.take_in((CASES / "case-06-iphone-inline-and-name-only" / "mail.eml").read_bytes())
    notifications = [message for message in run.to(STAFF) if "日次のまとめ" not in message["subject"]]
    assert len(notifications) == 1
    attached = [part.get_filename() for part in notifications[0].iter_attachments()]
    assert "IMG_0001.JPG" in attached
    assert "本人確認書類.pdf" not in attached
    assert "自動で読めなかったファイルのため添付していません" in notifications[0].get_body(("plain",)).get_content()


def test_queue_document_exports_and_audits(tmp_path, capsys):
    import hashlib

    from mailflow.cli import main
    from mailflow.db.models import AuditEntry

    run = Run(tmp_path)
    application = sample_mails()[0]
    run.take_in(application.raw)
    config_path = tmp_path / "config.toml"
    config = run.config
    config_path.write_text("\n".join([
        "[bureau]", f'staff_addresses = ["{STAFF}"]',
        "[mailbox]", f'maildir = "{config.mailbox.maildir}"',
        "[outbound]", f'directory = "{config.outbound.directory}"',
        "[database]", f'url = "{config.database.url}"',
        "[paths]", f'data_dir = "{config.paths.data_dir}"',
    ]) + "\n", encoding="utf-8")
    output = tmp_path / "form.xlsx"
    assert main(["--config", str(config_path), "queue", "document", "1", "--output", str(output)]) == 0
    expected = application.expected["attachments"][0]["sha256"]
    assert hashlib.sha256(output.read_bytes()).hexdigest() == expected
    assert output.stat().st_mode & 0o077 == 0
    assert main(["--config", str(config_path), "queue", "document", "1", "--output", str(output)]) == 1
    with run.app.sessions() as session:
        audits = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "document_exported")))
    assert len(audits) == 1


def test_staff_out_of_office_does_not_loop(tmp_path):
    run = Run(tmp_path)
    run.take_in(text_mail(STAFF, "Re: 登録申請", "承認", index=70))
    reports = [message for message in run.to(STAFF) if "日次のまとめ" not in message["subject"]]
    assert len(reports) == 1
    for round_number in range(3):
        latest = [message for message in run.to(STAFF) if "日次のまとめ" not in message["subject"]][-1]
        run.take_in(text_mail(STAFF, f"Re: {latest['subject']}", "ただいま不在にしております。",
                              index=71 + round_number, in_reply_to=latest["message-id"], minutes=round_number))
    reports = [message for message in run.to(STAFF) if "日次のまとめ" not in message["subject"]]
    assert len(reports) == 1


def test_staff_out_of_office_by_subject_set_aside(tmp_path):
    run = Run(tmp_path)
    sent = run.take_in(text_mail(STAFF, "自動応答: [MFT1JZSKJ32K] 審査依頼 2026-0006", "不在です",
                                 index=80))
    inbound = run.inbound("<hostile-80@example.net>")
    assert inbound.folder == "auto"
    assert inbound.item_id is None
    assert [message for message in sent if "日次のまとめ" not in message["subject"]] == []


def test_utf8_headers_filed_without_answer_to_utf8_address(tmp_path):
    run = Run(tmp_path)
    utf8 = ("From: 山田 <やまだ@例え.jp>\r\nTo: intake@bureau.example.jp\r\nSubject: 登録申請\r\n"
            "Message-ID: <あい@例え.jp>\r\nIn-Reply-To: <えお@例え.jp>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            "登録申請です。\r\n").encode("utf-8")
    ascii_sender = utf8.replace("やまだ@例え.jp".encode("utf-8"), b"yamada@example.net").replace(
        "あい".encode("utf-8"), "うえ".encode("utf-8"))
    sent = run.take_in(utf8, ascii_sender)
    first = run.inbound("<%E3%81%82%E3%81%84@%E4%BE%8B%E3%81%88.jp>")
    second = run.inbound("<%E3%81%86%E3%81%88@%E4%BE%8B%E3%81%88.jp>")
    assert first.state == second.state == "processed"
    assert first.item_id is not None
    receipts = [message for message in sent if STAFF not in message["to"]]
    assert [message["to"] for message in receipts] == ["山田 <yamada@example.net>"]
    assert receipts[0]["In-Reply-To"] == "<%E3%81%86%E3%81%88@%E4%BE%8B%E3%81%88.jp>"
