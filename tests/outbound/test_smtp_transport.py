"""The SMTP sender against real aiosmtpd servers on 127.0.0.1: TLS, AUTH, 4xx and 5xx."""

from __future__ import annotations

import base64
import sys

import pytest
from sqlalchemy import select

from mailflow.config import Config
from mailflow.db import migrate
from mailflow.db.models import Outbox
from mailflow.db.session import make_engine, make_session_factory, transaction
from mailflow.outbound.compose import Draft
from mailflow.outbound.outbox import enqueue
from mailflow.outbound.sender import Sender

from tests.servers import RecordingHandler, SmtpServer, free_port

TOKEN = "ya29.test-access-token"


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate.upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def smtp_config(server: SmtpServer, security: str = "plain", auth: str = "none", **settings) -> Config:
    config = Config()
    config.outbound.type = "smtp"
    smtp = config.outbound.smtp
    smtp.host, smtp.port, smtp.security, smtp.auth = server.host, server.port, security, auth
    for name, value in settings.items():
        setattr(smtp, name, value)
    return config


def send_one(sessions, config: Config, to: str = "taro@example.jp") -> Outbox:
    draft = Draft(key=f"test:{to}", to=[("山田 太郎", to)], subject="受付のお知らせ", body="本文です。")
    with transaction(sessions) as session:
        row_id = enqueue(session, config, draft, kind="receipt").id
    sender = Sender(config, sessions)
    try:
        sender.run_once()
    finally:
        sender.close()
    with sessions() as session:
        return session.get(Outbox, row_id)


def test_plain_loopback_delivery(sessions, smtp_server):
    row = send_one(sessions, smtp_config(smtp_server))
    assert row.status == "sent"
    assert [message.rcpt_tos for message in smtp_server.messages] == [("taro@example.jp",)]
    assert smtp_server.messages[0].raw.replace(b"\r\n", b"\n") == row.raw.replace(b"\r\n", b"\n")


@pytest.mark.parametrize("auth", ["plain", "login", "auto"])
def test_starttls_with_auth(sessions, smtp_auth_server, tls_certificate, auth):
    user, password = next(iter(smtp_auth_server.users.items()))
    config = smtp_config(smtp_auth_server, "starttls", auth, username=user, password=password,
                         ca_file=str(tls_certificate.cert_path))
    row = send_one(sessions, config)
    assert row.status == "sent"
    assert len(smtp_auth_server.messages) == 1


def test_wrong_password_is_retried(sessions, smtp_auth_server, tls_certificate):
    user = next(iter(smtp_auth_server.users))
    config = smtp_config(smtp_auth_server, "starttls", "plain", username=user, password="wrong",
                         ca_file=str(tls_certificate.cert_path))
    row = send_one(sessions, config)
    assert row.status == "pending"
    assert row.attempts == 1
    assert "wrong" not in (row.last_error or "")
    assert smtp_auth_server.messages == []


def test_untrusted_certificate_refused(sessions, smtp_auth_server):
    user, password = next(iter(smtp_auth_server.users.items()))
    config = smtp_config(smtp_auth_server, "starttls", "plain", username=user, password=password)
    row = send_one(sessions, config)
    assert row.status == "pending"
    assert smtp_auth_server.messages == []


def test_deferred_then_sent(sessions, smtp_server):
    smtp_server.defer_messages(1)
    config = smtp_config(smtp_server)
    row = send_one(sessions, config)
    assert row.status == "pending"
    assert row.smtp_code == 451
    with transaction(sessions) as session:
        session.get(Outbox, row.id).next_attempt_at = None
    sender = Sender(config, sessions)
    try:
        assert sender.run_once().sent == 1
    finally:
        sender.close()


def test_rejected_recipient_fails(sessions, smtp_server):
    smtp_server.reject_recipient("gone@example.jp")
    row = send_one(sessions, smtp_config(smtp_server), to="gone@example.jp")
    assert row.status == "failed"
    assert row.smtp_code == 550
    assert smtp_server.messages == []


def test_connection_refused_is_retried(sessions):
    config = Config()
    config.outbound.type = "smtp"
    config.outbound.smtp.host, config.outbound.smtp.port = "127.0.0.1", free_port()
    config.outbound.smtp.security, config.outbound.smtp.auth = "plain", "none"
    row = send_one(sessions, config)
    assert row.status == "pending"
    assert row.next_attempt_at is not None


@pytest.fixture
def implicit_tls_server(tls_certificate):
    from aiosmtpd.controller import Controller

    server = SmtpServer()
    server.port = free_port()
    controller = Controller(server.handler, hostname="127.0.0.1", port=server.port,
                            ssl_context=tls_certificate.server_context())
    controller.start()
    server.controller = controller
    yield server
    controller.stop()


def test_implicit_tls(sessions, implicit_tls_server, tls_certificate):
    config = smtp_config(implicit_tls_server, "ssl", "none", ca_file=str(tls_certificate.cert_path))
    row = send_one(sessions, config)
    assert row.status == "sent"
    assert len(implicit_tls_server.messages) == 1


class XOAuth2Handler(RecordingHandler):
    """Accepts AUTH XOAUTH2 with one bearer token (RFC 7628 framing as Google documents it)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen_users: list[str] = []

    async def auth_XOAUTH2(self, server, args):
        from aiosmtpd.smtp import AuthResult

        blob = args[1] if len(args) > 1 else await server.challenge_auth("")
        if isinstance(blob, bytes):
            blob = blob.decode()
        fields = dict(part.split("=", 1) for part in base64.b64decode(blob).decode().split("\x01") if "=" in part)
        self.seen_users.append(fields.get("user", ""))
        return AuthResult(success=fields.get("auth") == f"Bearer {TOKEN}", handled=False)


@pytest.fixture
def xoauth2_server(tls_certificate):
    from aiosmtpd.controller import Controller

    server = SmtpServer(handler=XOAuth2Handler())
    server.port = free_port()
    controller = Controller(server.handler, hostname="127.0.0.1", port=server.port,
                            tls_context=tls_certificate.server_context(), auth_require_tls=True, auth_required=True)
    controller.start()
    server.controller = controller
    yield server
    controller.stop()


def test_xoauth2_with_token_command(sessions, xoauth2_server, tls_certificate):
    command = f"{sys.executable} -c \"print('{TOKEN}')\""
    config = smtp_config(xoauth2_server, "starttls", "xoauth2", username="intake@bureau.example.jp",
                         oauth2_command=command, ca_file=str(tls_certificate.cert_path))
    row = send_one(sessions, config)
    assert row.status == "sent"
    assert xoauth2_server.handler.seen_users == ["intake@bureau.example.jp"]
