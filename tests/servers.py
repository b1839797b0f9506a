"""Real servers for the tests: Dovecot (IMAP), PostgreSQL, an in-process SMTP server, SQLite.

Each server starts once per test session on a free port on 127.0.0.1 and is stopped by
its pid (or, for the in-process SMTP server, its thread) at teardown. When a test fails,
the last lines of the Dovecot and PostgreSQL logs are added to its report.

A missing Dovecot or PostgreSQL makes the tests that need it skip, or fail with the
install hint when MAILFLOW_REQUIRE_SERVERS=1 (CI sets it). ``--run-slow`` runs the tests
marked ``slow``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import pwd
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest

REQUIRE_SERVERS_ENV = "MAILFLOW_REQUIRE_SERVERS"
INSTALL_HINT = "run scripts/install-deps as root"
LOG_TAIL_LINES = 60
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0


# pytest hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False, help="also run the tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow harness: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Attach the log tail of every server process the failed test used."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    servers = {
        id(value): value
        for value in getattr(item, "funcargs", {}).values()
        if isinstance(value, (DovecotServer, PostgresServer))
    }
    for server in servers.values():
        report.sections.append((f"{type(server).__name__} log (last {LOG_TAIL_LINES} lines)", server.log_tail()))


# Shared helpers


def server_missing(component: str) -> NoReturn:
    """Skip the test, or fail it when MAILFLOW_REQUIRE_SERVERS=1, because ``component`` is missing."""
    message = f"{component} is not installed ({INSTALL_HINT})"
    if os.environ.get(REQUIRE_SERVERS_ENV) == "1":
        pytest.fail(f"{message}; {REQUIRE_SERVERS_ENV}=1 requires every test server", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unprivileged_account(*names: str) -> pwd.struct_passwd | None:
    """Return the first existing account of ``names`` (else ``nobody``) when running as root.

    Returns None for a normal user, who runs the servers as itself.
    """
    if os.geteuid() != 0:
        return None
    for name in (*names, "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError(f"none of the accounts {names + ('nobody',)} exists")


def private_directory(prefix: str, owner: pwd.struct_passwd | None) -> Path:
    """Create a folder under /tmp that ``owner`` can use; pytest's own tmp folders are 0700."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    if owner is not None:
        os.chown(path, owner.pw_uid, owner.pw_gid)
    return path


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


@contextmanager
def running(server: DovecotServer | PostgresServer) -> Iterator:
    """Start ``server``; on exit stop it and delete its folder, even after a failed start."""
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


def stop_process(process: subprocess.Popen, stop_signal: int = signal.SIGTERM) -> None:
    """Send ``stop_signal`` to the process by its pid and wait; kill it if it hangs."""
    if process.poll() is not None:
        return
    os.kill(process.pid, stop_signal)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


# TLS


@dataclass(frozen=True)
class TlsCertificate:
    """A self-signed certificate for 127.0.0.1 and localhost, with its key, as PEM files."""

    cert_path: Path
    key_path: Path

    def client_context(self) -> ssl.SSLContext:
        """Return a verifying client context that trusts only this certificate."""
        return ssl.create_default_context(cafile=str(self.cert_path))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert_path), str(self.key_path))
        return context


def make_certificate(directory: Path) -> TlsCertificate:
    """Write a fresh self-signed certificate (subjectAltName IP 127.0.0.1) into ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailflow test server")])
    now = dt.datetime.now(dt.timezone.utc)
    key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        # Trusted directly as its own CA, so it carries the CA extensions that strict
        # verification (Python 3.13's default) expects.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(key_id, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(key_id), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return TlsCertificate(cert_path, key_path)


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> TlsCertificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


# Dovecot


DOVECOT_CAPABILITIES = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE NAMESPACE UNSELECT CHILDREN"


@dataclass(frozen=True)
class DovecotUser:
    """A test account; ``capability`` replaces Dovecot's post-login CAPABILITY list when set."""

    name: str
    prefix: str = ""
    capability: str = ""


DOVECOT_USERS = (
    DovecotUser("intake"),  # every capability Dovecot has, namespace "" with separator "/"
    DovecotUser("dotted", prefix="INBOX."),  # namespace "INBOX." with separator "."
    DovecotUser("nomove", capability=f"{DOVECOT_CAPABILITIES} IDLE UIDPLUS"),
    DovecotUser("legacy", capability=DOVECOT_CAPABILITIES),  # no MOVE, UIDPLUS or IDLE
)

DOVECOT_CONFIG = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
# Dovecot replies to a failed login at once. NOTE: Dovecot 2.3 still delays the next login
# from 127.0.0.1 by a few seconds (its per-IP auth penalty); no setting here turns that off.
auth_failure_delay = 0
auth_mechanisms = plain login xoauth2
mail_location = maildir:~/Maildir
first_valid_uid = 1
{accounts}
namespace inbox {{
  inbox = yes
  separator = /
}}
# XOAUTH2 succeeds with the static token only, so a password sent as a token fails.
passdb {{
  driver = static
  args = password={token}
  mechanisms = xoauth2
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
  mechanisms = plain login
}}
# The dict userdb carries settings with spaces (imap_capability), which passwd-file cannot.
userdb {{
  driver = dict
  args = {dir}/userdb.conf.ext
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
{login_chroot}}}
{anvil}"""

DOVECOT_DICT_CONFIG = """\
uri = fs:posix:prefix={dir}/
iterate_disable = yes
key userdb {{
  key = userdb/%u
  format = json
}}
userdb_objects = userdb
userdb_fields {{
  home = %{{dict:userdb.home}}
  imap_capability = %{{dict:userdb.imap_capability}}
{ids}}}
"""


@dataclass
class DovecotServer:
    """A private Dovecot instance; see DOVECOT_USERS for the accounts it serves."""

    directory: Path
    cert: TlsCertificate
    host: str = "127.0.0.1"
    port: int = 0
    ssl_port: int = 0
    users: dict[str, str] = field(default_factory=dict)
    oauth2_token: str = ""
    process: subprocess.Popen | None = None

    @property
    def config_path(self) -> Path:
        return self.directory / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        return self.directory / "dovecot.log"

    def log_tail(self) -> str:
        return tail(self.log_path)

    def start(self) -> None:
        """Write the configuration, start ``dovecot -F`` and wait until a LOGIN succeeds."""
        mail_owner = unprivileged_account("nobody")
        self.users = {user.name: secrets.token_hex(8) for user in DOVECOT_USERS}
        self.oauth2_token = "mailflow-test-" + secrets.token_urlsafe(16)
        self._write_accounts(mail_owner)
        for _ in range(3):  # a port taken between free_port() and bind: try other ports
            self.port, self.ssl_port = free_port(), free_port()
            self._write_config()
            with open(self.directory / "dovecot.stderr", "wb") as stderr:
                self.process = subprocess.Popen(
                    ["dovecot", "-F", "-c", str(self.config_path)], stdout=subprocess.DEVNULL, stderr=stderr
                )
            if self._wait_ready():
                return
            stop_process(self.process)
            if "in use" not in tail(self.log_path) + tail(self.directory / "dovecot.stderr"):
                break
        raise RuntimeError(
            "Dovecot did not start:\n" + tail(self.directory / "dovecot.stderr") + "\n" + self.log_tail()
        )

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def _write_accounts(self, owner: pwd.struct_passwd | None) -> None:
        ids = f"{owner.pw_uid}:{owner.pw_gid}" if owner else ":"
        lines = []
        (self.directory / "userdb").mkdir()
        for user in DOVECOT_USERS:
            home = self.directory / "home" / user.name
            home.mkdir(parents=True)
            if owner is not None:
                os.chown(home, owner.pw_uid, owner.pw_gid)
            extra = ""
            if user.prefix:
                extra = f"userdb_namespace/inbox/prefix={user.prefix} userdb_namespace/inbox/separator=."
            lines.append(f"{user.name}:{{PLAIN}}{self.users[user.name]}:{ids}::{home}::{extra}")
            if user.capability:
                entry = {"home": str(home), "imap_capability": user.capability}
                if owner is not None:
                    entry.update(uid=str(owner.pw_uid), gid=str(owner.pw_gid))
                (self.directory / "userdb" / user.name).write_text(json.dumps(entry), encoding="utf-8")
        (self.directory / "users").write_text("\n".join(lines) + "\n", encoding="utf-8")
        id_fields = "  uid = %{dict:userdb.uid}\n  gid = %{dict:userdb.gid}\n" if owner else ""
        (self.directory / "userdb.conf.ext").write_text(
            DOVECOT_DICT_CONFIG.format(dir=self.directory, ids=id_fields), encoding="utf-8"
        )

    def _write_config(self) -> None:
        if os.geteuid() == 0:
            internal = unprivileged_account("dovecot")
            login = unprivileged_account("dovenull")
            assert internal is not None and login is not None
            accounts = f"default_internal_user = {internal.pw_name}\ndefault_login_user = {login.pw_name}"
            login_chroot, anvil = "", ""
        else:
            # Without root every process runs as the current user and nothing can chroot.
            me = pwd.getpwuid(os.getuid())
            accounts = (
                f"default_internal_user = {me.pw_name}\ndefault_login_user = {me.pw_name}\n"
                f"default_internal_group = {_group_name(me.pw_gid)}"
            )
            login_chroot, anvil = "  chroot =\n", "service anvil {\n  chroot =\n}\n"
        self.config_path.write_text(
            DOVECOT_CONFIG.format(
                dir=self.directory, cert=self.cert.cert_path, key=self.cert.key_path, accounts=accounts,
                token=self.oauth2_token, port=self.port, ssl_port=self.ssl_port,
                login_chroot=login_chroot, anvil=anvil,
            ),
            encoding="utf-8",
        )

    def _wait_ready(self) -> bool:
        from imapclient import IMAPClient

        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                client = IMAPClient(self.host, self.port, ssl=False, timeout=5)
                client.login("intake", self.users["intake"])
                client.logout()
                return True
            except Exception:  # not listening yet, or auth still starting
                time.sleep(0.05)
        return False

    @contextmanager
    def client(self, user: str) -> Iterator:
        """Yield an IMAPClient logged in as ``user`` on the plain port."""
        from imapclient import IMAPClient

        client = IMAPClient(self.host, self.port, ssl=False, timeout=30)
        client.login(user, self.users[user])
        try:
            yield client
        finally:
            client.logout()

    def append(
        self, user: str, folder: str, raw: bytes, flags: tuple[bytes, ...] = (), msg_time: dt.datetime | None = None
    ) -> None:
        """APPEND ``raw`` to ``folder`` of ``user`` over IMAP, as an MTA's delivery would."""
        with self.client(user) as client:
            client.append(folder, raw, flags=flags, msg_time=msg_time)

    def doveadm(self, *args: str, check: bool = True) -> str:
        """Run ``doveadm`` against this instance (e.g. ``kick``, ``mailbox delete``); return stdout."""
        completed = subprocess.run(
            ["doveadm", "-c", str(self.config_path), *args], capture_output=True, text=True, timeout=60
        )
        if check and completed.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed ({completed.returncode}): {completed.stderr}")
        return completed.stdout

    def folder_messages(self, user: str, folder: str) -> list[bytes]:
        """Return the raw messages of ``folder`` in UID order, without setting \\Seen."""
        with self.client(user) as client:
            client.select_folder(folder, readonly=True)
            uids = sorted(client.search(["ALL"]))
            response = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            return [response[uid][b"BODY[]"] for uid in uids]

    def folder_flags(self, user: str, folder: str) -> list[set[bytes]]:
        """Return the flags of each message of ``folder`` in UID order."""
        with self.client(user) as client:
            client.select_folder(folder, readonly=True)
            uids = sorted(client.search(["ALL"]))
            response = client.fetch(uids, ["FLAGS"]) if uids else {}
            return [set(response[uid][b"FLAGS"]) for uid in uids]

    def reset(self, user: str) -> None:
        """Disconnect ``user``'s sessions, delete every folder but INBOX and empty INBOX."""
        self.doveadm("kick", user, check=False)  # exit code 68 when no session was open
        with self.client(user) as client:
            for _, _, name in client.list_sub_folders():
                client.unsubscribe_folder(name)
            # A parent that exists only because of its children is \Noselect and cannot be deleted.
            names = [
                name for flags, _, name in client.list_folders()
                if name.upper() != "INBOX" and rb"\Noselect" not in flags and rb"\NonExistent" not in flags
            ]
            for name in sorted(names, key=len, reverse=True):
                client.delete_folder(name)
            client.select_folder("INBOX")
            uids = client.search(["ALL"])
            if uids:
                client.delete_messages(uids, silent=True)
                client.expunge()


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


@pytest.fixture(scope="session")
def dovecot(tls_certificate: TlsCertificate) -> Iterator[DovecotServer]:
    if shutil.which("dovecot") is None or shutil.which("doveadm") is None:
        server_missing("Dovecot (Debian package dovecot-imapd)")
    with running(DovecotServer(private_directory("mailflow-dovecot-", None), tls_certificate)) as server:
        yield server


# PostgreSQL


def postgres_bindir() -> Path | None:
    """Return the folder of initdb and postgres: on PATH, or Debian's newest version folder."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


@dataclass
class PostgresServer:
    """A throw-away PostgreSQL cluster: trust auth, fsync off, listening on 127.0.0.1 only.

    The postmaster runs in the foreground under this object, so it is stopped by its own
    pid (SIGINT, PostgreSQL's fast shutdown) and reaped, with or without root.
    """

    directory: Path
    bindir: Path
    port: int = 0
    process: subprocess.Popen | None = None
    _databases: int = 0

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``postgres`` database, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5433/postgres``."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def log_tail(self) -> str:
        return tail(self.log_path)

    def start(self) -> None:
        """Run initdb as an unprivileged account, start the server and wait for a connection."""
        account = unprivileged_account("postgres")
        as_account: dict = {}
        if account is not None:
            as_account = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        data, sockets = self.directory / "data", self.directory / "sockets"
        sockets.mkdir()
        if account is not None:
            os.chown(sockets, account.pw_uid, account.pw_gid)
        subprocess.run(
            [str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            cwd=self.directory, capture_output=True, check=True, timeout=120, **as_account,
        )
        self.port = free_port()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(data), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={sockets}",
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                cwd=self.directory, stdout=log, stderr=subprocess.STDOUT, **as_account,
            )
        self._wait_ready()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGINT)

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                break
            try:
                psycopg.connect(self._conninfo("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.05)
        raise RuntimeError("PostgreSQL did not start:\n" + self.log_tail())

    def _conninfo(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def fresh_database(self) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        import psycopg
        from psycopg import sql

        self._databases += 1
        name = f"mailflow_test_{self._databases}"
        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bindir = postgres_bindir()
    if bindir is None:
        server_missing("PostgreSQL (Debian package postgresql)")
    account = unprivileged_account("postgres")
    with running(PostgresServer(private_directory("mailflow-postgres-", account), bindir)) as server:
        yield server


@pytest.fixture(scope="module")
def postgres_url(postgres: PostgresServer) -> str:
    """URL of an empty PostgreSQL database, one per test module."""
    return postgres.fresh_database()


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of an empty SQLite file, one per test module."""
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'mailflow.db'}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """URL of an empty database on each backend in turn, one per test module."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


# SMTP


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as the SMTP server accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes


class RecordingHandler:
    """aiosmtpd handler that keeps every accepted message and fails on request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[ReceivedMessage] = []
        self.deferrals_left = 0
        self.rejected_recipients: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options: list[str]) -> str:
        with self.lock:
            if address.lower() in self.rejected_recipients:
                return "550 5.1.1 Recipient address rejected: user unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            if self.deferrals_left > 0:
                self.deferrals_left -= 1
                return "451 4.3.0 Temporary failure, try again later"
            self.messages.append(ReceivedMessage(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 OK: queued"


@dataclass
class SmtpServer:
    """An aiosmtpd server in a thread of the test process.

    With ``users`` it requires AUTH (PLAIN or LOGIN), which aiosmtpd allows only after
    STARTTLS; with ``certificate`` it offers STARTTLS.
    """

    users: dict[str, str] = field(default_factory=dict)
    certificate: TlsCertificate | None = None
    host: str = "127.0.0.1"
    port: int = 0
    handler: RecordingHandler = field(default_factory=RecordingHandler)
    controller: object | None = None

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    def defer_messages(self, count: int) -> None:
        """Reply 451 to DATA for the next ``count`` messages."""
        with self.handler.lock:
            self.handler.deferrals_left = count

    def reject_recipient(self, address: str) -> None:
        """Reply 550 to RCPT TO for ``address`` (compared case-insensitively)."""
        with self.handler.lock:
            self.handler.rejected_recipients.add(address.lower())

    def reset(self) -> None:
        """Forget the messages and the failures set up by the previous test."""
        with self.handler.lock:
            self.handler.messages.clear()
            self.handler.deferrals_left = 0
            self.handler.rejected_recipients.clear()

    def start(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        def authenticate(server, session, envelope, mechanism: str, auth_data: object) -> AuthResult:
            if not isinstance(auth_data, LoginPassword):
                return AuthResult(success=False, handled=False)
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            # handled=False lets aiosmtpd send the 535 reply itself.
            return AuthResult(success=login in self.users and self.users[login] == password, handled=False)

        options: dict = {}
        if self.users:
            options.update(authenticator=authenticate, auth_required=True, auth_require_tls=True)
        if self.certificate is not None:
            options.update(tls_context=self.certificate.server_context())
        self.port = free_port()
        controller = Controller(self.handler, hostname=self.host, port=self.port, **options)
        controller.start()
        self.controller = controller

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


@pytest.fixture(scope="session")
def _smtp_plain() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _smtp_submission(tls_certificate: TlsCertificate) -> Iterator[SmtpServer]:
    server = SmtpServer(users={"sender": secrets.token_hex(8)}, certificate=tls_certificate)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(_smtp_plain: SmtpServer) -> SmtpServer:
    """Plain SMTP without AUTH that keeps every message; emptied before each test."""
    _smtp_plain.reset()
    return _smtp_plain


@pytest.fixture
def smtp_auth_server(_smtp_submission: SmtpServer) -> SmtpServer:
    """SMTP submission: STARTTLS with ``tls_certificate``, then AUTH PLAIN/LOGIN as ``users``."""
    _smtp_submission.reset()
    return _smtp_submission
