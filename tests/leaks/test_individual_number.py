"""An individual number that arrived is found nowhere afterwards, in any form.

Three mails carry the number 382916473052. Sample 07 (07-registration-unmasked-mynumber)
has it in the OCR layer of a scanned residence certificate. A mail built here has it in
its subject, in its ISO-2022-JP text part and in its HTML part; another has it as the
name of a zip member. After
the intake, the planning and the sending, the number must be missing from every table
and column (raw mail decrypted), the data folder, the outbox (rows and .eml files, or
what the SMTP server received), the logs at DEBUG and every mailbox folder: plain,
grouped, in full-width digits in any Japanese charset, and base64-encoded.
"""

from __future__ import annotations

import base64
import io
import logging
import quopri
import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailflow import clock
from mailflow.app import App, IntakeStats
from mailflow.outbound.sender import SendStats
from tests.leaks.scan import database_hits, folder_hits, sample_json
from tests.leaks.secrets import decoded_mail, found_in, number_forms
from tests.leaks.test_log_scan import logged_text
from tests.mailbox.conftest import imap_server  # noqa: F401  (fixture)
from tests.privacy.populated import INTAKE_DAY, app_config, deliver, sample_mail, server_config

FLAGGED = "07-registration-unmasked-mynumber"
NUMBER = next(entry["value"] for entry in sample_json(FLAGGED)["must_not_store"] if entry["kind"] == "text")
FULL_WIDTH = str.maketrans("0123456789 ", "０１２３４５６７８９\u3000")
FORMS = number_forms(NUMBER)


def body_number_mail() -> bytes:
    """Return an inquiry with the number in the subject, the ISO-2022-JP text and the HTML."""
    grouped = f"{NUMBER[:4]} {NUMBER[4:8]} {NUMBER[8:]}"
    text = (f"マネジメントメンターの登録について質問です。\r\n私の個人番号は {grouped.translate(FULL_WIDTH)} です。\r\n"
            "本人確認書類として使えますか。\r\n")
    html = f"<html><body><p>私の個人番号は <b>{NUMBER}</b> です。</p></body></html>"
    subject = base64.b64encode(f"登録の質問（番号 {NUMBER[:4]}-{NUMBER[4:8]}-{NUMBER[8:]}）".encode()).decode()
    boundary = "number-boundary"
    return (
        "From: =?utf-8?b?" + base64.b64encode("テスト 一郎".encode()).decode() + "?= <ichiro.test@example.jp>\r\n"
        "To: intake@bureau.example.jp\r\n"
        f"Subject: =?utf-8?b?{subject}?=\r\n"
        "Date: Fri, 18 Dec 2026 10:00:00 +0900\r\nMessage-ID: <number-in-body@example.jp>\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
    ).encode("ascii") + text.encode("iso2022_jp") + (
        f"\r\n--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii") + quopri.encodestring(html.encode("utf-8")) + f"\r\n--{boundary}--\r\n".encode("ascii")


def member_name_number_mail() -> bytes:
    """Return a registration whose zip holds a photo named after the number."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"マイナンバー{NUMBER}.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64))
    message = EmailMessage()
    message["From"] = "zip.sender@example.jp"
    message["To"] = "intake@bureau.example.jp"
    message["Subject"] = "登録申請"
    message["Date"] = "Fri, 18 Dec 2026 10:05:00 +0900"
    message["Message-ID"] = "<number-in-member-name@example.jp>"
    message.set_content("登録申請の書類を送ります。")
    message.add_attachment(buffer.getvalue(), maintype="application", subtype="zip", filename="shorui.zip")
    return bytes(message)


def mailbox_hits(server, user: str = "intake") -> list[str]:
    """Return ``folder#index`` of every message in any folder of ``user`` that has the number."""
    hits = []
    with server.client(user) as client:
        names = [name for flags, _, name in client.list_folders() if rb"\Noselect" not in flags]
    for name in names:
        for index, raw in enumerate(server.folder_messages(user, name)):
            if found_in(raw + decoded_mail(raw), FORMS):
                hits.append(f"{name}#{index}")
    return hits


@pytest.fixture
def frozen():
    clock.set_now(INTAKE_DAY)
    yield
    clock.set_now(None)


def test_mail_carries_number():
    raw = body_number_mail()
    assert found_in(raw + decoded_mail(raw), FORMS) != []


@pytest.fixture
def maildir_run(tmp_path, caplog, frozen):
    """Take in the three mails on Maildir with an encryption key, plan and send to .eml files."""
    config = app_config(tmp_path, encrypted=True)
    deliver(config, sample_mail(FLAGGED), body_number_mail(), member_name_number_mail())
    caplog.set_level(logging.DEBUG)
    app = App(config)
    try:
        intake, sent = app.run_once()
        yield MaildirRun(app, tmp_path, intake, sent, logged_text(caplog, logging.DEBUG))
    finally:
        app.close()


@dataclass
class MaildirRun:
    app: App
    root: Path
    intake: IntakeStats
    sent: SendStats
    log: str


def test_maildir_run_took_all(maildir_run):
    assert maildir_run.intake.new == 3
    assert maildir_run.sent.sent >= 2


def test_database_has_no_number(maildir_run):
    assert database_hits(maildir_run.app.engine, FORMS, maildir_run.app.key) == []


def test_data_folder_has_no_number(maildir_run):
    assert folder_hits(maildir_run.root / "data", FORMS) == []


def test_documents_have_no_number(maildir_run):
    store = maildir_run.app.store
    stored = [path for path in store.root.rglob("*") if path.is_file()]
    assert stored != []
    assert [path.name for path in stored if found_in(store.get(path.name), FORMS)] == []


def test_outbox_files_have_no_number(maildir_run):
    assert list((maildir_run.root / "outbox").glob("*.eml")) != []
    assert folder_hits(maildir_run.root / "outbox", FORMS) == []


def test_maildir_folders_have_no_number(maildir_run):
    assert folder_hits(maildir_run.root / "maildir", FORMS) == []


def test_debug_logs_have_no_number(maildir_run):
    assert "message text masked" in maildir_run.log
    assert found_in(maildir_run.log.encode("utf-8"), FORMS) == []


@pytest.mark.integration
def test_dovecot_smtp_keep_no_number(tmp_path, caplog, frozen, imap_server, smtp_server):  # noqa: F811
    config = server_config(tmp_path, imap_server, smtp_server)
    imap_server.append("intake", "INBOX", sample_mail(FLAGGED).read_bytes())
    imap_server.append("intake", "INBOX", body_number_mail())
    imap_server.append("intake", "INBOX", member_name_number_mail())
    caplog.set_level(logging.DEBUG)
    app = App(config)
    try:
        intake, sent = app.run_once()
        assert intake.new == 3
        assert database_hits(app.engine, FORMS, app.key) == []
    finally:
        app.close()
    received = [message.raw for message in smtp_server.messages]
    assert sent.sent == len(received)
    assert [raw for raw in received if found_in(raw + decoded_mail(raw), FORMS)] == []
    assert mailbox_hits(imap_server) == []
    assert folder_hits(tmp_path / "data", FORMS) == []
    assert found_in(logged_text(caplog, logging.DEBUG).encode("utf-8"), FORMS) == []
