"""Maildir watcher: the embedded default mailbox, a local Maildir++ folder tree.

New mail sits in ``new/`` (just delivered) or ``cur/`` (seen by a mail client). Handled
mail moves to the Maildir++ subfolders ``.mailflow.processed``, ``.mailflow.quarantine``
and ``.mailflow.auto``, each with its own ``cur/``, ``new/`` and ``tmp/``. A move is one
``rename(2)`` within the tree, so a crash at any moment leaves the message in exactly one
place.
"""

from __future__ import annotations

import email.parser
import email.policy
import glob
import hashlib
import logging
import mailbox
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from mailflow.config import Config
from mailflow.mailbox.base import FetchedMail, Folder, FolderCopy, MailboxError

logger = logging.getLogger(__name__)

HANDLED_FLAG = "H"
"""Maildir info flag of mail in ``cur/`` that intake must leave alone.

mailflow itself never needs it, because it moves every message it handles out of the
inbox. An operator or a tool that shares the Maildir can set it to keep a message in the
inbox without it being taken in. NOTE: "H" is not among the flags that the Maildir
specification defines (D, F, P, R, S, T).
"""

FOLDER_PREFIX = "mailflow."
REPLACED_SUFFIX = ",replaced"
"""Appended to the original's key to name its replacement, so a second run overwrites it."""

MTIME_RESOLUTION_NS = 1_000_000_000
"""Minimum age of a directory's last change, in nanoseconds, for its mtime to be trusted.

Kernels stamp mtimes from a coarse clock and some filesystems keep whole seconds, so a
delivery right after a snapshot can leave the mtime unchanged.
"""

SUBDIRS = ("new", "cur")


class MaildirSource:
    """A local Maildir watched as a :class:`~mailflow.mailbox.base.MailboxSource`.

    ``FetchedMail.key`` is the Maildir key (the file name without the ``:2,`` info), and
    ``uidvalidity`` and ``uid`` are None. :meth:`wait` polls the mtimes of ``new/`` and
    ``cur/`` every ``poll_interval_seconds``.
    """

    name = "maildir"

    def __init__(self, path: str | Path, poll_interval_seconds: float = 30.0) -> None:
        self.path = Path(path)
        self.poll_interval_seconds = poll_interval_seconds
        self._folders: dict[Folder, Path] = {}
        self._locations: dict[str, Path] = {}
        self._baseline: tuple[int, ...] | None = None
        self._baseline_names: set[str] = set()
        self._baseline_ambiguous = False
        self._interrupted = threading.Event()

    @classmethod
    def from_config(cls, config: Config) -> MaildirSource:
        """Build the source from ``[mailbox]``; a relative ``maildir`` is taken from the config file's folder."""
        return cls(config.resolve(config.mailbox.maildir), float(config.mailbox.poll_interval_seconds))

    @property
    def folders(self) -> dict[Folder, Path]:
        """Paths of the mailflow subfolders, e.g. ``{Folder.AUTO: Path('data/maildir/.mailflow.auto')}``."""
        return dict(self._folders)

    def connect(self) -> None:
        """Create the Maildir (mode 0700) and the mailflow subfolders where missing.

        Raises MailboxError when the path exists but is no Maildir, so that a mistyped
        path never gets ``cur/``, ``new/`` and ``tmp/`` created in an unrelated folder.
        """
        self._interrupted.clear()
        if self.path.exists() and not all((self.path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            raise MailboxError(
                f"mailbox.maildir = {str(self.path)!r} は Maildir ではありません（cur、new、tmp がありません）。"
                "新しい空のフォルダーか既存の Maildir を指定してください"
            )
        try:
            maildir = mailbox.Maildir(self.path, factory=None, create=True)
            existing = set(maildir.list_folders())
            for folder in Folder:
                name = FOLDER_PREFIX + folder.value
                if name not in existing:
                    maildir.add_folder(name)
                    logger.info("created Maildir folder .%s", name)
                self._folders[folder] = self.path / f".{name}"
        except OSError as exc:
            raise MailboxError(f"Maildir {str(self.path)!r} を作成できません: {exc}") from exc

    def close(self) -> None:
        """Forget the cached file locations; safe to call twice."""
        self._locations.clear()

    def interrupt(self) -> None:
        """Make a blocked :meth:`wait` return False; thread-safe."""
        self._interrupted.set()

    def fetch_new(self, limit: int | None = None) -> Iterator[FetchedMail]:
        """Yield mail in ``new/`` and ``cur/`` (except HANDLED_FLAG), oldest mtime first.

        Connects first when :meth:`connect` was not called yet.
        """
        if not self._folders:
            self.connect()
        self._take_baseline()
        entries = sorted(self._scan())
        if limit is not None:
            entries = entries[:limit]
        for _, path, key in entries:
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                logger.debug("key=%s vanished before it was read", key)
                continue
            self._locations[key] = path
            yield FetchedMail(key=key, uidvalidity=None, uid=None, raw=raw)

    def move(self, mail: FetchedMail, folder: Folder) -> None:
        """Move ``mail`` into ``folder`` with one rename, keeping its file name and subfolder.

        A message already in ``folder`` (moved before a crash) is no error. Raises
        MailboxError when the message is neither in the inbox nor in ``folder``.
        """
        target = self._folder_path(folder)
        for _ in range(2):  # a mail client may rename the file (new/ -> cur/) meanwhile
            source = self._locate(mail.key)
            if source is None:
                break
            try:
                os.rename(source, target / source.parent.name / source.name)
            except FileNotFoundError:
                self._locations.pop(mail.key, None)
                continue
            self._locations.pop(mail.key, None)
            logger.debug("moved key=%s to folder=%s", mail.key, folder.value)
            return
        if _find(target, mail.key) is not None:
            logger.debug("key=%s is already in folder=%s", mail.key, folder.value)
            return
        raise MailboxError(f"Maildir のメール {mail.key} が受信箱にも {folder.value} にもありません", key=mail.key)

    def replace(self, mail: FetchedMail, new_raw: bytes, folder: Folder) -> None:
        """Write ``new_raw`` durably into ``folder``'s ``new/``, then delete the original.

        The copy is named after the original's key, so running this again after a crash
        between the two steps overwrites the copy instead of adding a second one. Raises
        MailboxError when the original is gone and no copy exists either.
        """
        target = self._folder_path(folder)
        copy_name = mail.key + REPLACED_SUFFIX
        source = self._locate(mail.key)
        if source is None:
            if _find(target, copy_name) is not None:
                return
            raise MailboxError(f"置き換える元のメール {mail.key} が受信箱にありません", key=mail.key)
        _write_durably(target, copy_name, new_raw)
        try:
            source.unlink()
        except FileNotFoundError:
            logger.debug("original key=%s was removed meanwhile", mail.key)
        _fsync_directory(source.parent)
        self._locations.pop(mail.key, None)
        logger.info("replaced key=%s with a new copy in folder=%s", mail.key, folder.value)

    def find_copies(self, folder: Folder, message_id: str) -> list[FolderCopy]:
        """Return the messages in ``folder`` whose Message-ID is ``message_id`` (angle brackets optional)."""
        wanted = _bare_message_id(message_id)
        copies = []
        for sub in SUBDIRS:
            for path in sorted((self._folder_path(folder) / sub).iterdir()):
                if path.name.startswith(".") or not path.is_file():
                    continue
                with open(path, "rb") as stream:
                    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parse(stream)
                if _bare_message_id(str(headers.get("Message-ID", ""))) == wanted:
                    key = path.name.partition(mailbox.Maildir.colon)[0]
                    copies.append(FolderCopy(key=key, raw=path.read_bytes()))
        return copies

    def replace_copy(self, folder: Folder, copy: FolderCopy, new_raw: bytes | None) -> None:
        """Write ``new_raw`` into ``folder`` durably, then delete ``copy``; only delete it when ``new_raw`` is None.

        The new file is named after the copy's key and the new content's digest, so
        running this again after a crash overwrites it instead of adding another.
        """
        target = self._folder_path(folder)
        source = _find(target, copy.key)
        if new_raw is not None:
            base = copy.key.partition(REPLACED_SUFFIX)[0]
            name = f"{base}{REPLACED_SUFFIX}-{hashlib.sha256(new_raw).hexdigest()[:12]}"
            if name == copy.key:
                return
            _write_durably(target, name, new_raw)
        if source is not None:
            source.unlink(missing_ok=True)
            _fsync_directory(source.parent)
        logger.info("%s key=%s in folder=%s", "replaced" if new_raw is not None else "deleted", copy.key, folder.value)

    def wait(self, timeout: float) -> bool:
        """Block until ``new/`` or ``cur/`` changed since the last fetch, ``timeout`` or :meth:`interrupt`.

        Returns True before the first fetch and after a change. This source's own moves
        count as a change too, which costs the caller one empty fetch.
        """
        if self._baseline is None:
            return True
        deadline = time.monotonic() + timeout
        while True:
            if self._changed():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._interrupted.wait(min(self.poll_interval_seconds, remaining)):
                return False

    def _folder_path(self, folder: Folder) -> Path:
        if not self._folders:
            self.connect()
        return self._folders[folder]

    def _scan(self) -> Iterator[tuple[int, Path, str]]:
        """Yield ``(mtime_ns, path, key)`` of every message waiting in the inbox."""
        for sub in SUBDIRS:
            with os.scandir(self.path / sub) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or not entry.is_file():
                        continue
                    key, _, info = entry.name.partition(mailbox.Maildir.colon)
                    if sub == "cur" and HANDLED_FLAG in _flags(info):
                        continue
                    try:
                        mtime = entry.stat().st_mtime_ns
                    except FileNotFoundError:
                        continue
                    yield mtime, Path(entry.path), key

    def _locate(self, key: str) -> Path | None:
        cached = self._locations.get(key)
        if cached is not None and cached.exists():
            return cached
        return _find(self.path, key)

    def _snapshot(self) -> tuple[int, ...]:
        return tuple(os.stat(self.path / sub).st_mtime_ns for sub in SUBDIRS)

    def _take_baseline(self) -> None:
        taken_at = time.time_ns()
        self._baseline = self._snapshot()
        self._baseline_names = {name for sub in SUBDIRS for name in os.listdir(self.path / sub)}
        self._baseline_ambiguous = any(taken_at - mtime < MTIME_RESOLUTION_NS for mtime in self._baseline)

    def _changed(self) -> bool:
        if self._snapshot() != self._baseline:
            return True
        if not self._baseline_ambiguous:
            return False
        # Equal mtimes next to a recent change prove nothing: compare the file names.
        names = {name for sub in SUBDIRS for name in os.listdir(self.path / sub)}
        return bool(names - self._baseline_names)


def _flags(info: str) -> str:
    """Return the flags of a Maildir info string such as ``"2,FS"``."""
    return info[2:] if info.startswith("2,") else ""


def _bare_message_id(value: str) -> str:
    return value.strip().strip("<>").strip()


def _find(root: Path, key: str) -> Path | None:
    """Return the file of ``key`` in ``root``'s ``new/`` or ``cur/``, whatever its info."""
    for sub in SUBDIRS:
        folder = root / sub
        plain = folder / key
        if plain.exists():
            return plain
        for path in folder.glob(f"{glob.escape(key)}{mailbox.Maildir.colon}*"):
            return path
    return None


def _write_durably(folder: Path, name: str, data: bytes) -> None:
    """Write ``data`` to ``folder/tmp/name``, fsync it, and rename it into ``folder/new``.

    The stdlib's ``Maildir.add`` neither fsyncs nor lets the caller choose the name;
    here the copy must be on disk before the original is deleted.
    """
    temporary = folder / "tmp" / name
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.rename(temporary, folder / "new" / name)
    _fsync_directory(folder / "new")


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
