"""The server fixtures of tests/servers.py: PostgreSQL, SQLite and SMTP work as promised."""

from __future__ import annotations

import asyncio
import os
import shutil
from email.message import EmailMessage

import aiosmtplib
import pytest
import sqlalchemy as sa

from tests.servers import PostgresServer, SmtpServer, postgres_bindir, private_directory, unprivileged_account

pytestmark = pytest.mark.integration

SENDER = "intake@bureau.example.jp"
RECIPIENT = "mentor@example.jp"


def table_names(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_postgres_accepts_sqlalchemy(postgres_url):
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            answer = connection.execute(sa.text("SELECT 40 + 2")).scalar_one()
    finally:
        engine.dispose()

    assert answer == 42


def test_postgres_database_starts_empty(postgres_url):
    assert table_names(postgres_url) == []


def test_postgres_fresh_databases_differ(postgres):
    assert postgres.fresh_database() != postgres.fresh_database()


def test_postgres_stops_by_pid():
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed")
    server = PostgresServer(private_directory("mailflow-postgres-", unprivileged_account("postgres")), bindir)
    try:
        server.start()
        pid = server.process.pid

        server.stop()

        assert server.process.returncode is not None
        assert not os.path.exists(f"/proc/{pid}")
    finally:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


def test_db_url_backends_work(db_url):
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE probe (id INTEGER PRIMARY KEY)"))
            connection.execute(sa.text("INSERT INTO probe (id) VALUES (7)"))
            value = connection.execute(sa.text("SELECT id FROM probe")).scalar_one()
    finally:
        engine.dispose()

    assert value == 7


def test_sqlite_url_is_a_file(sqlite_url):
    assert sqlite_url.startswith("sqlite:////")


def message(subject: str = "テスト", to: str = RECIPIENT) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = SENDER
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content("本文です。\n")
    return mail


def send(server: SmtpServer, mail: EmailMessage, recipients: list[str] | None = None, **options) -> None:
    asyncio.run(
        aiosmtplib.send(
            mail, hostname=server.host, port=server.port, recipients=recipients, timeout=10, **options
        )
    )


def test_smtp_keeps_message(smtp_server):
    mail = message()

    send(smtp_server, mail)

    (received,) = smtp_server.messages
    assert received.mail_from == SENDER
    assert received.rcpt_tos == (RECIPIENT,)
    assert received.raw.replace(b"\r\n", b"\n") == mail.as_bytes().replace(b"\r\n", b"\n")


def test_smtp_defers_first_messages(smtp_server):
    smtp_server.defer_messages(1)

    with pytest.raises(aiosmtplib.SMTPDataError) as deferred:
        send(smtp_server, message("first"))
    send(smtp_server, message("second"))

    assert deferred.value.code == 451
    assert [received.raw.count(b"Subject: second") for received in smtp_server.messages] == [1]


def test_smtp_rejects_recipient(smtp_server):
    smtp_server.reject_recipient("Gone@Example.jp")

    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        send(smtp_server, message(to="gone@example.jp"))

    assert refused.value.recipients[0].code == 550


def test_smtp_reset_between_tests(smtp_server):
    assert smtp_server.messages == []


def test_smtp_auth_after_starttls(smtp_auth_server, tls_certificate):
    (user, password), = smtp_auth_server.users.items()

    send(
        smtp_auth_server, message(), username=user, password=password,
        start_tls=True, tls_context=tls_certificate.client_context(),
    )

    assert len(smtp_auth_server.messages) == 1


def test_smtp_auth_required(smtp_auth_server, tls_certificate):
    with pytest.raises(aiosmtplib.SMTPResponseException) as rejected:
        send(smtp_auth_server, message(), start_tls=True, tls_context=tls_certificate.client_context())

    assert rejected.value.code == 530


def test_smtp_wrong_password_rejected(smtp_auth_server, tls_certificate):
    (user, _), = smtp_auth_server.users.items()

    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        send(
            smtp_auth_server, message(), username=user, password="wrong",
            start_tls=True, tls_context=tls_certificate.client_context(),
        )
