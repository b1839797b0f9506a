"""IMAP mailbox watcher: fetch new mail, move handled mail, wait with IDLE, reconnect.

Built on imapclient, which logs the wire traffic at DEBUG on the ``imapclient.imaplib``
logger with the LOGIN and AUTHENTICATE lines redacted. This module logs connection
events, folder names, UIDs and UIDVALIDITY values, never a user name, password or token.

One ImapSource is used by one thread (the watcher thread). Other threads may only call
:meth:`ImapSource.interrupt`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.parser
import email.policy
import functools
import imaplib
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from mailflow.config import LOOPBACK_HOSTS, Config, ImapConfig, read_secret
from mailflow.mailbox.base import FetchedMail, Folder, FolderCopy, MailboxError
from mailflow.mailbox.oauth import TokenCommandError, fetch_access_token

logger = logging.getLogger(__name__)

FETCH_BATCH_MESSAGES = 25
"""Maximum number of messages fetched with one UID FETCH command."""

FETCH_BATCH_BYTES = 32 * 1024 * 1024
"""Maximum total RFC822.SIZE of one fetch batch; a larger message is fetched alone."""

SIZE_QUERY_CHUNK = 500
"""Maximum number of UIDs in one RFC822.SIZE query, to keep command lines short."""

IDLE_CHECK_SECONDS = 1.0
"""How often a waiting IDLE looks at :meth:`ImapSource.interrupt`, in seconds."""

OPERATION_ATTEMPTS = 3
"""How often one operation is tried, with a reconnect after each lost connection."""

DELETED = rb"\Deleted"

# After these errors the connection is unusable: OSError covers socket errors, timeouts
# and ssl.SSLError, and imaplib's abort is what imapclient raises as IMAPClientAbortError.
CONNECTION_ERRORS = (OSError, imaplib.IMAP4.abort)

# A keyword is an IMAP atom (RFC 3501 section 9); this is the safe subset of it.
KEYWORD_RE = re.compile(r"[$A-Za-z0-9_.\-]+")

T = TypeVar("T")


class StaleUidValidityError(MailboxError):
    """The inbox's UIDVALIDITY changed, so a UID read before no longer names the message."""


class ImapSource:
    """The inbox on an IMAP server, watched as a :class:`~mailflow.mailbox.base.MailboxSource`.

    Handled mail goes to ``<root>/processed``, ``<root>/quarantine`` and ``<root>/auto``,
    named with the personal namespace prefix and hierarchy delimiter that the server
    reports. Moves use MOVE when offered, else UID COPY, ``\\Deleted`` and UID EXPUNGE
    (UIDPLUS). A server with neither gets a copy and ``done_keyword`` on the original,
    and :meth:`fetch_new` skips mail that carries that keyword, because a plain EXPUNGE
    would also remove mail that a person flagged ``\\Deleted``.

    A lost connection is reopened with exponential backoff up to
    ``reconnect_max_seconds``, for as long as it takes or until :meth:`interrupt`. The
    first operation connects in the same way when :meth:`connect` was not called.
    """

    name = "imap"

    def __init__(self, config: ImapConfig, ssl_context: ssl.SSLContext | None = None) -> None:
        """Check the settings that make the connection safe; nothing is sent yet.

        ``config.password`` is used as given; :meth:`from_config` reads ``password_file``.
        Without ``ssl_context`` a verifying context trusts the system CAs, or only
        ``config.ca_file`` when that is set.

        Raises MailboxError for an unknown ``security`` value, plain text to a host other
        than loopback, or a ``done_keyword`` that is not an IMAP atom.
        """
        if config.security not in ("ssl", "starttls", "plain"):
            raise MailboxError(
                f"mailbox.imap.security = {config.security!r} は使えません。ssl、starttls、plain のいずれかです"
            )
        if config.security == "plain" and config.host not in LOOPBACK_HOSTS:
            raise MailboxError(
                f"mailbox.imap.security = 'plain' はループバック以外では使えません。host: {config.host!r}"
                "（ssl か starttls を指定してください）"
            )
        if not KEYWORD_RE.fullmatch(config.done_keyword):
            raise MailboxError(
                f"mailbox.imap.done_keyword = {config.done_keyword!r} は IMAP のキーワードとして使えません"
                "（英数字と $ _ . - だけにしてください）"
            )
        self.config = config
        self._ssl_context = ssl_context
        if ssl_context is None and config.security != "plain":
            try:
                self._ssl_context = ssl.create_default_context(cafile=config.ca_file or None)
            except (OSError, ssl.SSLError) as exc:
                raise MailboxError(
                    f"mailbox.imap.ca_file = {config.ca_file!r} を証明書として読めません（{type(exc).__name__}）"
                ) from exc
        self._client: IMAPClient | None = None
        self._capabilities: frozenset[str] = frozenset()
        self._folders: dict[Folder, str] = {}
        self._uidvalidity: int | None = None
        self._highest_seen_uid = 0
        self._idle_started: float | None = None  # monotonic time of the running IDLE
        self._next_poll: float | None = None
        self._interrupted = threading.Event()

    @classmethod
    def from_config(cls, config: Config) -> ImapSource:
        """Build the source from ``[mailbox.imap]``, reading ``password_file`` and ``ca_file``.

        Raises MailboxError when one of the two files cannot be read.
        """
        imap = config.mailbox.imap
        try:
            if not imap.oauth2_command:
                imap = dataclasses.replace(imap, password=read_secret(config, imap.password, imap.password_file))
        except (OSError, IndexError, UnicodeDecodeError) as exc:
            raise MailboxError(
                f"mailbox.imap.password_file = {imap.password_file!r} を読めません（{type(exc).__name__}）。"
                "パスと内容（1 行目がパスワード）を確認してください"
            ) from exc
        if imap.ca_file:
            imap = dataclasses.replace(imap, ca_file=str(config.resolve(imap.ca_file)))
        return cls(imap)

    @property
    def uidvalidity(self) -> int | None:
        """UIDVALIDITY of the inbox as of the last SELECT, or None before the first one."""
        return self._uidvalidity

    @property
    def folders(self) -> dict[Folder, str]:
        """Full server names of the mailflow folders, e.g. ``{Folder.AUTO: 'INBOX.mailflow.auto'}``."""
        return dict(self._folders)

    @property
    def capabilities(self) -> frozenset[str]:
        """Capabilities the server reported after login, upper-case, e.g. ``{'IDLE', 'MOVE'}``."""
        return self._capabilities

    def connect(self, retry: bool = True) -> None:
        """Log in, create the mailflow folders if missing and select the inbox.

        With ``retry`` the attempts go on with backoff until one succeeds; MailboxError is
        raised only when :meth:`interrupt` is called meanwhile. Without ``retry`` a failed
        attempt raises MailboxError at once, which suits a configuration check.
        """
        self._interrupted.clear()
        if retry:
            self._reconnect()
        else:
            self._drop_connection()
            self._open()

    def close(self) -> None:
        """Log out and close the connection; safe to call twice."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if self._idle_started is not None:
                self._end_idle(client)
            client.logout()
        except (*CONNECTION_ERRORS, IMAPClientError) as exc:
            logger.debug("IMAP logout failed, closing the socket: %s", _describe(exc))
            _shutdown(client)

    def interrupt(self) -> None:
        """Make a blocked :meth:`wait` return False and stop reconnect attempts; thread-safe."""
        self._interrupted.set()

    def fetch_new(self, limit: int | None = None) -> Iterator[FetchedMail]:
        """Yield the messages in the inbox, oldest UID first, at most ``limit`` of them.

        Mail flagged ``\\Deleted`` is skipped, and so is mail that carries ``done_keyword``
        when the server lacks UIDPLUS. Bodies are read with BODY.PEEK[], which leaves
        ``\\Seen`` unset. ``FetchedMail.key`` is ``"<uidvalidity>:<uid>"``. If UIDVALIDITY
        changes while the generator runs, it stops early and the next call starts over.
        """
        uids, uidvalidity = self._call(self._search_new)
        if limit is not None:
            uids = uids[:limit]
        for start in range(0, len(uids), SIZE_QUERY_CHUNK):
            chunk = uids[start:start + SIZE_QUERY_CHUNK]
            try:
                batches = self._call(functools.partial(self._plan_batches, uids=chunk, uidvalidity=uidvalidity))
                for batch in batches:
                    mails = self._call(functools.partial(self._fetch_batch, uids=batch, uidvalidity=uidvalidity))
                    for mail in mails:
                        self._highest_seen_uid = max(self._highest_seen_uid, mail.uid or 0)
                        yield mail
            except StaleUidValidityError:
                logger.warning("UIDVALIDITY changed during fetch; the remaining UIDs are read again next time")
                return

    def move(self, mail: FetchedMail, folder: Folder) -> None:
        """Move ``mail`` into ``folder``; a UID that is already gone is no error.

        Raises StaleUidValidityError when the inbox's UIDVALIDITY changed since the fetch,
        and MailboxError when the server rejects the command.
        """

        def run(client: IMAPClient) -> None:
            uid = self._current_uid(mail)
            target = self._folders[folder]
            if "MOVE" in self._capabilities:
                client.move([uid], target)
            elif "UIDPLUS" in self._capabilities:
                client.copy([uid], target)
                client.add_flags([uid], [DELETED], silent=True)
                client.uid_expunge([uid])
            else:
                client.copy([uid], target)
                client.add_flags([uid], [self.config.done_keyword], silent=True)

        # NOTE: without MOVE, a connection lost between COPY and STORE makes the retry copy
        # the message again, so the target folder may hold a duplicate. The original is
        # flagged only after a COPY succeeded, so no message is lost.
        self._call(run)
        logger.debug("moved uid=%s to folder=%s", mail.uid, folder.value)

    def replace(self, mail: FetchedMail, new_raw: bytes, folder: Folder) -> None:
        """APPEND ``new_raw`` to ``folder`` with the original's date, then remove the original.

        With UIDPLUS the original is expunged. Without it the original is flagged
        ``\\Deleted`` and ``done_keyword`` but stays on the server until a mail client or
        the server expunges it, and a warning says so. Raises MailboxError when the
        original is no longer in the inbox, and StaleUidValidityError as :meth:`move`.
        """

        def append(client: IMAPClient) -> None:
            uid = self._current_uid(mail)
            found = client.fetch([uid], ["INTERNALDATE"]).get(uid)
            if found is None:
                raise MailboxError(f"置き換える元のメール（UID {uid}）が受信箱にありません", uid=uid)
            internal_date: dt.datetime | None = found.get(b"INTERNALDATE")
            client.append(self._folders[folder], new_raw, msg_time=internal_date)

        def remove(client: IMAPClient) -> None:
            uid = self._current_uid(mail)
            if "UIDPLUS" in self._capabilities:
                client.add_flags([uid], [DELETED], silent=True)
                client.uid_expunge([uid])
                return
            client.add_flags([uid], [self.config.done_keyword, DELETED], silent=True)
            logger.warning(
                "server lacks UIDPLUS: replaced original uid=%s is flagged \\Deleted and %s but not expunged; "
                "it stays on the server until a mail client or the server expunges the inbox",
                uid, self.config.done_keyword,
            )

        self._call(append)
        self._call(remove)
        logger.info("replaced uid=%s with a new copy in folder=%s", mail.uid, folder.value)

    def find_copies(self, folder: Folder, message_id: str) -> list[FolderCopy]:
        """Return the messages in ``folder`` whose Message-ID is ``message_id``, read with BODY.PEEK[].

        Searches with UID SEARCH HEADER Message-ID and ASCII criteria, because Exchange
        rejects SEARCH CHARSET; a non-ASCII Message-ID therefore finds nothing. SEARCH
        HEADER matches substrings, so only exact Message-IDs are returned. The inbox is
        selected again afterwards.
        """
        wanted = message_id.strip().strip("<>").strip()
        if not wanted or not wanted.isascii():
            logger.warning("Message-ID cannot be searched with ASCII criteria; folder=%s not searched", folder.value)
            return []

        def run(client: IMAPClient) -> list[FolderCopy]:
            try:
                uidvalidity = int(client.select_folder(self._folders[folder], readonly=True)[b"UIDVALIDITY"])
                uids = client.search(["HEADER", "Message-ID", wanted])
                fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            finally:
                self._select_inbox(client)
            return [FolderCopy(f"{uidvalidity}:{uid}", bytes(fetched[uid][b"BODY[]"])) for uid in sorted(fetched)]

        copies = self._call(run)
        return [copy for copy in copies if _message_id_of(copy.raw) == wanted]

    def replace_copy(self, folder: Folder, copy: FolderCopy, new_raw: bytes | None) -> None:
        """APPEND ``new_raw`` to ``folder`` with the copy's date and flags, then expunge the copy.

        With ``new_raw`` None the copy is only expunged. Without UIDPLUS the whole folder
        is expunged, which also removes mail that someone else flagged ``\\Deleted`` in
        this mailflow folder. A copy that is already gone is no error. Raises
        StaleUidValidityError when the folder's UIDVALIDITY changed since
        :meth:`find_copies`.
        """
        uidvalidity, _, uid_text = copy.key.partition(":")

        def run(client: IMAPClient) -> None:
            name = self._folders[folder]
            try:
                current = int(client.select_folder(name)[b"UIDVALIDITY"])
                if current != int(uidvalidity):
                    raise StaleUidValidityError(
                        f"フォルダー {name} の UIDVALIDITY が {uidvalidity} から {current} に変わりました。"
                        "メールを探し直してください", expected=uidvalidity, actual=current,
                    )
                uid = int(uid_text)
                found = client.fetch([uid], ["INTERNALDATE", "FLAGS"]).get(uid)
                if found is None:
                    return
                if new_raw is not None:
                    flags = [flag for flag in found.get(b"FLAGS", ()) if flag.lower() != rb"\recent"]
                    client.append(name, new_raw, flags=flags, msg_time=found.get(b"INTERNALDATE"))
                client.add_flags([uid], [DELETED], silent=True)
                if "UIDPLUS" in self._capabilities:
                    client.uid_expunge([uid])
                else:
                    client.expunge()
            finally:
                self._select_inbox(client)

        # NOTE: a connection lost between APPEND and EXPUNGE makes the retry append again.
        # The folder may then contain the new copy twice, but the old copy is removed.
        self._call(run)
        logger.info("%s copy %s in folder=%s", "replaced" if new_raw is not None else "deleted", copy.key, folder.value)

    def wait(self, timeout: float) -> bool:
        """Block until new mail may have arrived, ``timeout`` seconds pass or :meth:`interrupt`.

        With IDLE (when configured and offered) the inbox is first searched for UIDs above
        the highest one fetched, then IDLE starts and returns True on EXISTS or RECENT. A
        wait that times out leaves IDLE running for the next call, so callers may wait in
        short slices; the next other command ends it, and it is renewed every
        ``idle_refresh_seconds``. Without IDLE the inbox is searched every
        ``poll_interval_seconds``, counted across calls. After a lost connection the source
        reconnects and returns True, because mail may have come meanwhile.
        """
        deadline = time.monotonic() + timeout
        try:
            if self._client is None:
                self._reconnect()
                return True
            client = self._client
            try:
                if self.config.idle and "IDLE" in self._capabilities:
                    return self._wait_idle(client, deadline)
                return self._wait_poll(client, deadline)
            except CONNECTION_ERRORS as exc:
                logger.warning("IMAP connection lost while waiting (%s); reconnecting", _describe(exc))
                self._reconnect()
                return True
            except IMAPClientError as exc:
                raise MailboxError(f"IMAP サーバーがコマンドを拒否しました: {exc}") from exc
        except MailboxError:
            if self._interrupted.is_set():
                return False
            raise

    # Connection

    def _reconnect(self) -> None:
        """Open a new connection, retrying with exponential backoff until it works.

        Each failure is logged once, with the delay before the next attempt, so a server
        that is down for a day writes a line at most every ``reconnect_max_seconds``.
        """
        self._drop_connection()
        delay = 0.0
        failures = 0
        while True:
            if self._interrupted.is_set():
                raise MailboxError("停止の要求により IMAP への再接続を中止しました")
            try:
                self._open()
            except MailboxError as exc:
                failures += 1
                delay = min(max(1.0, delay * 2), float(self.config.reconnect_max_seconds))
                logger.warning(
                    "IMAP connection to %s:%s failed (attempt %d, next in %.0f s): %s",
                    self.config.host, self.config.port, failures, delay, _describe(exc.__cause__ or exc),
                )
                self._interrupted.wait(delay)
                continue
            if failures:
                logger.info("IMAP connection restored after %d failed attempts", failures)
            return

    def _open(self) -> None:
        """Make one connection attempt; raise MailboxError, with the cause chained, on failure."""
        cfg = self.config
        try:
            client = self._create_client()
        except ssl.SSLCertVerificationError as exc:
            raise MailboxError(
                f"IMAP サーバー {cfg.host} の証明書を検証できません: {exc.verify_message}。"
                "自己署名の場合は mailbox.imap.ca_file にその証明書を指定してください"
            ) from exc
        except (*CONNECTION_ERRORS, IMAPClientError) as exc:
            raise MailboxError(f"IMAP サーバー {cfg.host}:{cfg.port} に接続できません: {exc}") from exc
        try:
            self._authenticate(client)
            self._capabilities = frozenset(c.decode("ascii").upper() for c in client.capabilities())
            self._folders = self._ensure_folders(client)
            self._select_inbox(client)
        except BaseException as exc:
            _shutdown(client)
            if isinstance(exc, (*CONNECTION_ERRORS, IMAPClientError)):
                raise MailboxError(f"IMAP サーバー {cfg.host}:{cfg.port} との通信に失敗しました: {exc}") from exc
            raise
        self._client = client
        logger.info(
            "connected to IMAP server %s:%s (security=%s, uidvalidity=%s)",
            cfg.host, cfg.port, cfg.security, self._uidvalidity,
        )

    def _create_client(self) -> IMAPClient:
        cfg = self.config
        context = self._ssl_context
        if cfg.security == "ssl":
            client = IMAPClient(cfg.host, cfg.port, ssl=True, ssl_context=context, timeout=cfg.timeout_seconds)
        else:
            client = IMAPClient(cfg.host, cfg.port, ssl=False, timeout=cfg.timeout_seconds)
        client.normalise_times = False
        if cfg.security != "starttls":
            return client
        try:
            if not client.has_capability("STARTTLS"):
                raise MailboxError(
                    f"IMAP サーバー {cfg.host}:{cfg.port} は STARTTLS を提供していません。"
                    "平文では接続しません（security = 'ssl' とポート 993 を確認してください）"
                )
            client.starttls(context)
        except BaseException:
            _shutdown(client)
            raise
        return client

    def _authenticate(self, client: IMAPClient) -> None:
        cfg = self.config
        try:
            if cfg.oauth2_command:
                if not client.has_capability("AUTH=XOAUTH2"):
                    raise MailboxError(f"IMAP サーバー {cfg.host} は XOAUTH2 認証を提供していません")
                client.oauth2_login(cfg.username, fetch_access_token(cfg.oauth2_command))
            else:
                if client.has_capability("LOGINDISABLED"):
                    raise MailboxError(f"IMAP サーバー {cfg.host} はこの接続でのログインを禁止しています（LOGINDISABLED）")
                client.login(cfg.username, cfg.password)
        except LoginError as exc:
            # The message is the server's reply, which does not echo the password or token.
            raise MailboxError(
                f"IMAP サーバー {cfg.host} がログインを拒否しました: {exc}。"
                "mailbox.imap の username とパスワード（またはトークン）を確認してください"
            ) from exc
        except TokenCommandError as exc:
            raise MailboxError(exc.message) from exc

    def _ensure_folders(self, client: IMAPClient) -> dict[Folder, str]:
        """Create the root and the three mailflow folders where missing; return their names."""
        prefix, delimiter = _personal_namespace(client)
        # NOTE: a flat server (delimiter NIL) gets names such as "mailflow.processed".
        separator = delimiter or "."
        if prefix and not prefix.endswith(separator):
            prefix += separator
        root = prefix + separator.join(part for part in self.config.root_folder.split("/") if part)
        names = {folder: root + separator + folder.value for folder in Folder}
        for name in (root, *names.values()):
            _create_folder_if_missing(client, name)
        return names

    def _select_inbox(self, client: IMAPClient) -> None:
        response = client.select_folder(self.config.inbox)
        if b"UIDVALIDITY" not in response:
            raise MailboxError(f"IMAP サーバーが {self.config.inbox} の UIDVALIDITY を返しませんでした")
        uidvalidity = int(response[b"UIDVALIDITY"])
        if self._uidvalidity is not None and uidvalidity != self._uidvalidity:
            logger.warning(
                "UIDVALIDITY of the inbox changed from %d to %d: UIDs read before no longer name the same messages",
                self._uidvalidity, uidvalidity,
            )
            self._highest_seen_uid = 0
        self._uidvalidity = uidvalidity
        if "UIDPLUS" in self._capabilities:
            return
        permanent = {flag.lower() for flag in response.get(b"PERMANENTFLAGS", ())}
        if rb"\*" not in permanent and self.config.done_keyword.encode("ascii").lower() not in permanent:
            raise MailboxError(
                f"IMAP サーバーは UIDPLUS も キーワード {self.config.done_keyword} の保存も提供していないため、"
                "処理済みのメールを受信箱で区別できません"
            )

    def _drop_connection(self) -> None:
        client, self._client = self._client, None
        self._idle_started = None
        if client is not None:
            _shutdown(client)

    def _call(self, operation: Callable[[IMAPClient], T]) -> T:
        """Run ``operation`` on the connection, reconnecting and retrying after a lost one.

        A NO or BAD reply becomes MailboxError at once; a lost connection is retried up to
        OPERATION_ATTEMPTS times, each after a reconnect.
        """
        for attempt in range(1, OPERATION_ATTEMPTS + 1):
            if self._client is None:
                self._reconnect()
            assert self._client is not None
            try:
                if self._idle_started is not None:
                    self._end_idle(self._client)
                return operation(self._client)
            except CONNECTION_ERRORS as exc:
                logger.warning("IMAP connection lost (%s); reconnecting (attempt %d)", _describe(exc), attempt)
                self._drop_connection()
                if attempt == OPERATION_ATTEMPTS:
                    raise MailboxError(f"IMAP サーバーとの接続が {attempt} 回続けて切れました: {exc}") from exc
            except IMAPClientError as exc:
                raise MailboxError(f"IMAP サーバーがコマンドを拒否しました: {exc}") from exc
        raise AssertionError("unreachable")

    # Fetching

    def _search_criteria(self) -> list[str]:
        # ASCII criteria without CHARSET: Exchange rejects SEARCH CHARSET.
        criteria = ["NOT", "DELETED"]
        if "UIDPLUS" not in self._capabilities:
            criteria += ["NOT", "KEYWORD", self.config.done_keyword]
        return criteria

    def _search_new(self, client: IMAPClient) -> tuple[list[int], int | None]:
        # SELECT again instead of trusting the open view. A server shows mail delivered
        # by another session only after a command that synchronises the mailbox. Dovecot
        # also keeps serving a deleted and recreated inbox from the old view, with the
        # old UIDVALIDITY, until it is selected again.
        self._select_inbox(client)
        return sorted(client.search(self._search_criteria())), self._uidvalidity

    def _has_new_uids(self, client: IMAPClient) -> bool:
        client.noop()
        # "n:*" always matches the highest UID, even one below n, hence the filter.
        criteria = ["UID", f"{self._highest_seen_uid + 1}:*", *self._search_criteria()]
        return any(uid > self._highest_seen_uid for uid in client.search(criteria))

    def _plan_batches(self, client: IMAPClient, uids: list[int], uidvalidity: int | None) -> list[list[int]]:
        """Split ``uids`` into fetch batches by count and RFC822.SIZE; drop vanished UIDs."""
        self._require_uidvalidity(uidvalidity)
        sizes = client.fetch(uids, ["RFC822.SIZE"])
        batches: list[list[int]] = []
        batch: list[int] = []
        batch_bytes = 0
        for uid in uids:
            if uid not in sizes:
                continue
            size = int(sizes[uid].get(b"RFC822.SIZE", 0))
            if batch and (len(batch) >= FETCH_BATCH_MESSAGES or batch_bytes + size > FETCH_BATCH_BYTES):
                batches.append(batch)
                batch, batch_bytes = [], 0
            batch.append(uid)
            batch_bytes += size
        if batch:
            batches.append(batch)
        return batches

    def _fetch_batch(self, client: IMAPClient, uids: list[int], uidvalidity: int | None) -> list[FetchedMail]:
        self._require_uidvalidity(uidvalidity)
        response = client.fetch(uids, ["BODY.PEEK[]"])
        mails = []
        for uid in uids:
            raw = response.get(uid, {}).get(b"BODY[]")
            if raw is None:
                logger.debug("uid=%s vanished before its body was fetched", uid)
                continue
            mails.append(FetchedMail(key=f"{uidvalidity}:{uid}", uidvalidity=uidvalidity, uid=uid, raw=bytes(raw)))
        return mails

    def _require_uidvalidity(self, uidvalidity: int | None) -> None:
        if uidvalidity != self._uidvalidity:
            raise StaleUidValidityError(
                f"受信箱の UIDVALIDITY が {uidvalidity} から {self._uidvalidity} に変わったため、"
                "以前に読んだ UID は使えません。メールを取得し直してください",
                expected=uidvalidity, actual=self._uidvalidity,
            )

    def _current_uid(self, mail: FetchedMail) -> int:
        if mail.uid is None:
            raise MailboxError(f"IMAP のメールではありません（key {mail.key!r}）")
        self._require_uidvalidity(mail.uidvalidity)
        return mail.uid

    # Waiting

    def _wait_idle(self, client: IMAPClient, deadline: float) -> bool:
        refresh_seconds = float(self.config.idle_refresh_seconds)
        if self._idle_started is None:
            if self._has_new_uids(client):
                return True
            self._start_idle(client)
        while True:
            now = time.monotonic()
            if self._interrupted.is_set() or now >= deadline:
                return False
            renew_at = self._idle_started + refresh_seconds
            if now >= renew_at:
                # RFC 2177 advises re-issuing IDLE at least every 29 minutes, because a
                # server may log out an idle client. NAT devices drop silent connections sooner.
                if self._end_idle(client):
                    return True
                self._start_idle(client)
                continue
            check_seconds = min(IDLE_CHECK_SECONDS, deadline - now, renew_at - now)
            responses = client.idle_check(timeout=check_seconds)
            if _signals_new_mail(responses):
                self._end_idle(client)
                return True
            if not responses and time.monotonic() - now < check_seconds / 2:
                # The socket was readable but held no whole line: either the server closed
                # it or a TLS record came in. Ending IDLE raises on a closed connection.
                if self._end_idle(client):
                    return True
                self._start_idle(client)

    def _start_idle(self, client: IMAPClient) -> None:
        client.idle()
        self._idle_started = time.monotonic()

    def _end_idle(self, client: IMAPClient) -> bool:
        """Send DONE; return True when responses read meanwhile announce new mail."""
        self._idle_started = None
        _, responses = client.idle_done()
        return _signals_new_mail(responses)

    def _wait_poll(self, client: IMAPClient, deadline: float) -> bool:
        poll_seconds = float(self.config.poll_interval_seconds)
        while True:
            now = time.monotonic()
            if self._next_poll is None or now >= self._next_poll:
                self._next_poll = now + poll_seconds
                if self._has_new_uids(client):
                    return True
            if now >= deadline:
                return False
            if self._interrupted.wait(min(deadline, self._next_poll) - now):
                return False


def _personal_namespace(client: IMAPClient) -> tuple[str, str | None]:
    """Return the first personal namespace's prefix and delimiter, e.g. ``('INBOX.', '.')``.

    Servers without NAMESPACE get the delimiter from ``LIST "" ""`` and an empty prefix.
    """
    if client.has_capability("NAMESPACE"):
        personal = client.namespace().personal
        if personal:
            prefix, delimiter = personal[0]
            return prefix or "", delimiter or None
    listing = client.list_folders("", "")
    delimiter = listing[0][1] if listing else None
    if isinstance(delimiter, bytes):
        delimiter = delimiter.decode("ascii")
    return "", delimiter or None


def _create_folder_if_missing(client: IMAPClient, name: str) -> None:
    if client.folder_exists(name):
        return
    try:
        client.create_folder(name)
    except IMAPClientError:
        # A second daemon may have created it between LIST and CREATE.
        if client.folder_exists(name):
            return
        raise
    client.subscribe_folder(name)
    logger.info("created and subscribed IMAP folder %s", name)


def _signals_new_mail(responses: list[tuple]) -> bool:
    """Return True for an EXISTS or a non-zero RECENT response; raise on BYE."""
    for response in responses:
        if response and response[0] == b"BYE":
            raise imaplib.IMAP4.abort("server sent BYE: " + b" ".join(
                part for part in response[1:] if isinstance(part, bytes)
            ).decode("ascii", "replace"))
        if len(response) >= 2 and response[1] == b"EXISTS":
            return True
        if len(response) >= 2 and response[1] == b"RECENT" and response[0]:
            return True
    return False


def _message_id_of(raw: bytes) -> str:
    """Return the Message-ID of ``raw`` without angle brackets, or "" when it has none."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    return str(headers.get("Message-ID", "")).strip().strip("<>").strip()


def _shutdown(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except (OSError, IMAPClientError) as exc:
        logger.debug("closing the IMAP socket failed: %s", _describe(exc))


def _describe(exc: BaseException) -> str:
    """Return ``"ClassName: message"`` for a log line."""
    return f"{type(exc).__name__}: {exc}"
