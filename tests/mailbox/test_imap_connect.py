"""ImapSource against Dovecot: TLS modes, logins, folder names and secrets in logs."""

from __future__ import annotations

import logging
import shlex
import socket
import sys
import threading

import pytest

from mailflow.config import Config, ImapConfig
from mailflow.mailbox.base import Folder, MailboxError
from mailflow.mailbox.imap import ImapSource
from tests.mailbox.conftest import imap_config, server_uidvalidity
from tests.servers import DovecotServer

pytestmark = pytest.mark.integration


def token_command(token: str) -> str:
    """Return an oauth2_command that prints ``token`` on its first line."""
    return shlex.join([sys.executable, "-c", f"print({token!r}); print('second line')"])



def subscribed(server: DovecotServer, user: str) -> set[str]:
    with server.client(user) as client:
        return {name for _, _, name in client.list_sub_folders()}


def test_connect_plain_reads_uidvalidity(imap_server, open_sources):
    source = ImapSource(imap_config(imap_server))
    open_sources.append(source)

    source.connect(retry=False)

    assert source.uidvalidity == server_uidvalidity(imap_server, "intake", "INBOX")


def test_connect_imaps(imap_server, open_sources, tls_certificate):
    config = imap_config(
        imap_server, security="ssl", port=imap_server.ssl_port, ca_file=str(tls_certificate.cert_path)
    )
    source = ImapSource(config)
    open_sources.append(source)

    source.connect(retry=False)

    assert source.uidvalidity == server_uidvalidity(imap_server, "intake", "INBOX")


def test_connect_starttls(imap_server, open_sources, tls_certificate):
    config = imap_config(imap_server, security="starttls", ca_file=str(tls_certificate.cert_path))
    source = ImapSource(config)
    open_sources.append(source)

    source.connect(retry=False)

    assert source.uidvalidity == server_uidvalidity(imap_server, "intake", "INBOX")


def test_imaps_untrusted_certificate_rejected(imap_server, open_sources):
    # No ca_file: the system CAs do not know the test certificate.
    source = ImapSource(imap_config(imap_server, security="ssl", port=imap_server.ssl_port))
    open_sources.append(source)

    with pytest.raises(MailboxError, match="証明書を検証できません"):
        source.connect(retry=False)


def test_plain_refused_for_remote_host():
    config = ImapConfig(host="imap.example.jp", port=143, security="plain", username="intake", password="x")

    with pytest.raises(MailboxError, match="ループバック以外"):
        ImapSource(config)


def test_wrong_password_rejected(imap_server, open_sources):
    source = ImapSource(imap_config(imap_server, password="wrong-password"))
    open_sources.append(source)

    with pytest.raises(MailboxError, match="ログインを拒否"):
        source.connect(retry=False)


def test_xoauth2_login_with_token_command(imap_server, open_sources):
    source = ImapSource(imap_config(imap_server, password="", oauth2_command=token_command(imap_server.oauth2_token)))
    open_sources.append(source)

    source.connect(retry=False)

    assert source.uidvalidity == server_uidvalidity(imap_server, "intake", "INBOX")


def test_xoauth2_wrong_token_rejected(imap_server, open_sources):
    # The account's password is no valid token: Dovecot checks XOAUTH2 against the token only.
    command = token_command(imap_server.users["intake"])
    source = ImapSource(imap_config(imap_server, password="", oauth2_command=command))
    open_sources.append(source)

    with pytest.raises(MailboxError, match="ログインを拒否"):
        source.connect(retry=False)


def test_xoauth2_failing_command_reported(imap_server, open_sources):
    command = shlex.join([sys.executable, "-c", "raise SystemExit(3)"])
    source = ImapSource(imap_config(imap_server, password="", oauth2_command=command))
    open_sources.append(source)

    with pytest.raises(MailboxError, match="終了コード 3"):
        source.connect(retry=False)


def test_folders_use_server_delimiter(imap_server, open_sources):
    source = ImapSource(imap_config(imap_server, root_folder="mailflow"))
    open_sources.append(source)

    source.connect(retry=False)

    assert source.folders == {
        Folder.PROCESSED: "mailflow/processed",
        Folder.QUARANTINE: "mailflow/quarantine",
        Folder.AUTO: "mailflow/auto",
    }


def test_folders_created_and_subscribed(imap_server, open_sources):
    source = ImapSource(imap_config(imap_server))
    open_sources.append(source)

    source.connect(retry=False)

    expected = {"mailflow", "mailflow/processed", "mailflow/quarantine", "mailflow/auto"}
    assert expected <= subscribed(imap_server, "intake")


def test_folders_use_namespace_prefix(imap_server, open_sources):
    source = ImapSource(imap_config(imap_server, "dotted"))
    open_sources.append(source)

    source.connect(retry=False)

    assert source.folders == {
        Folder.PROCESSED: "INBOX.mailflow.processed",
        Folder.QUARANTINE: "INBOX.mailflow.quarantine",
        Folder.AUTO: "INBOX.mailflow.auto",
    }


def test_folders_with_prefix_exist_on_server(imap_server, open_sources):
    source = ImapSource(imap_config(imap_server, "dotted"))
    open_sources.append(source)

    source.connect(retry=False)

    with imap_server.client("dotted") as client:
        names = {name for _, _, name in client.list_folders()}
    assert set(source.folders.values()) <= names


def test_nested_root_folder_uses_delimiter(imap_server, open_sources):
    source = ImapSource(imap_config(imap_server, "dotted", root_folder="受付/mailflow"))
    open_sources.append(source)

    source.connect(retry=False)

    assert source.folders[Folder.AUTO] == "INBOX.受付.mailflow.auto"


def test_second_connect_keeps_existing_folders(imap_server, open_sources):
    first = ImapSource(imap_config(imap_server))
    second = ImapSource(imap_config(imap_server))
    open_sources.extend([first, second])
    first.connect(retry=False)

    second.connect(retry=False)

    assert second.folders == first.folders


def test_login_logs_no_secret(imap_server, open_sources, caplog):
    caplog.set_level(logging.DEBUG)
    password = imap_server.users["intake"]
    source = ImapSource(imap_config(imap_server, password=password))
    open_sources.append(source)

    source.connect(retry=False)
    source.close()

    assert caplog.records, "DEBUG logging produced no records to check"
    assert not [record for record in caplog.records if password in record.getMessage()]


def test_xoauth2_logs_no_token(imap_server, open_sources, caplog):
    caplog.set_level(logging.DEBUG)
    token = imap_server.oauth2_token
    source = ImapSource(imap_config(imap_server, password="", oauth2_command=token_command(token)))
    open_sources.append(source)

    source.connect(retry=False)
    source.close()

    assert not [record for record in caplog.records if token in record.getMessage()]


def test_close_twice_is_safe(imap_server):
    source = ImapSource(imap_config(imap_server))
    source.connect(retry=False)

    source.close()
    source.close()

    assert source.uidvalidity is not None


def settings_with_files(server: DovecotServer, folder, tls_certificate) -> Config:
    """Return a Config whose IMAP password and CA file are files beside config.toml."""
    config = Config(source=folder / "config.toml")
    config.mailbox.imap = imap_config(
        server, security="ssl", port=server.ssl_port, password="", password_file="imap-password", ca_file="ca.pem"
    )
    return config


def test_from_config_reads_files(imap_server, open_sources, tls_certificate, tmp_path):
    (tmp_path / "imap-password").write_text(imap_server.users["intake"] + "\n", encoding="utf-8")
    (tmp_path / "ca.pem").write_bytes(tls_certificate.cert_path.read_bytes())
    source = ImapSource.from_config(settings_with_files(imap_server, tmp_path, tls_certificate))
    open_sources.append(source)

    source.connect(retry=False)

    assert source.uidvalidity == server_uidvalidity(imap_server, "intake", "INBOX")


def test_from_config_missing_password_file(imap_server, tls_certificate, tmp_path):
    (tmp_path / "ca.pem").write_bytes(tls_certificate.cert_path.read_bytes())

    with pytest.raises(MailboxError, match="password_file"):
        ImapSource.from_config(settings_with_files(imap_server, tmp_path, tls_certificate))


class NoTlsImapServer:
    """A minimal IMAP server on 127.0.0.1 that offers no STARTTLS and records each command line."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lines: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection, connection.makefile("rwb") as stream:
            stream.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] test server ready\r\n")
            stream.flush()
            for line in stream:
                self.lines.append(line)
                tag, _, command = line.strip().partition(b" ")
                if command.upper() == b"CAPABILITY":
                    stream.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
                elif command.upper() == b"LOGOUT":
                    stream.write(b"* BYE bye\r\n" + tag + b" OK done\r\n")
                else:
                    stream.write(tag + b" BAD unexpected\r\n")
                stream.flush()

    def close(self) -> None:
        self.listener.close()


def test_starttls_missing_refuses_plain_login():
    server = NoTlsImapServer()
    config = ImapConfig(
        host="127.0.0.1", port=server.port, security="starttls", username="intake", password="never-sent-7"
    )
    source = ImapSource(config)

    with pytest.raises(MailboxError, match="STARTTLS を提供していません"):
        source.connect(retry=False)
    server.thread.join(timeout=5.0)
    server.close()

    assert not [line for line in server.lines if b"never-sent-7" in line]
