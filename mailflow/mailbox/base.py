"""What every mailbox source (IMAP, Maildir) offers the intake service."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterator, Protocol

from mailflow.errors import MailflowError


class Folder(enum.Enum):
    """Where a handled message is moved. The values are the folder names below the root."""

    PROCESSED = "processed"
    QUARANTINE = "quarantine"
    AUTO = "auto"


@dataclass(frozen=True)
class FetchedMail:
    """One message as read from the source, not yet handled.

    ``uidvalidity`` and ``uid`` identify it on an IMAP server; a Maildir source sets
    ``uidvalidity`` to None and ``key`` to the Maildir key. ``key`` is always set and is
    what :meth:`MailboxSource.move` takes.
    """

    key: str
    uidvalidity: int | None
    uid: int | None
    raw: bytes


@dataclass(frozen=True)
class FolderCopy:
    """A message found in one of the mailflow folders: ``key`` locates it there, ``raw`` is its bytes.

    ``key`` is ``"<uidvalidity>:<uid>"`` of that folder on an IMAP server, or the Maildir
    key (file name without the ``:2,`` info) in that Maildir++ folder.
    """

    key: str
    raw: bytes


class MailboxError(MailflowError):
    """The mailbox could not be reached or refused an operation; the watcher retries."""


class MailboxSource(Protocol):
    """A mailbox the daemon watches.

    The intake service stores a message durably before it calls :meth:`move`, so a source
    may deliver the same message again after a crash; the service recognises it.
    """

    name: str

    def connect(self) -> None:
        """Open the connection and create the ``mailflow`` folders if they are missing."""

    def close(self) -> None:
        """Close the connection; safe to call twice."""

    def fetch_new(self, limit: int | None = None) -> Iterator[FetchedMail]:
        """Yield messages in the inbox that have not been moved out yet, oldest first."""

    def move(self, mail: FetchedMail, folder: Folder) -> None:
        """Move ``mail`` out of the inbox into ``folder``."""

    def replace(self, mail: FetchedMail, new_raw: bytes, folder: Folder) -> None:
        """Put ``new_raw`` into ``folder`` and remove ``mail`` from the inbox for good.

        Only used to drop a document that carries an individual number; the caller
        audits it.
        """

    def find_copies(self, folder: Folder, message_id: str) -> list[FolderCopy]:
        """Return the messages in ``folder`` whose Message-ID header is ``message_id``."""

    def replace_copy(self, folder: Folder, copy: FolderCopy, new_raw: bytes | None) -> None:
        """Put ``new_raw`` in place of ``copy`` in ``folder``, or delete ``copy`` when ``new_raw`` is None.

        Only used after an audited purge changed or deleted the stored raw mail.
        """

    def wait(self, timeout: float) -> bool:
        """Block until new mail may have arrived or ``timeout`` seconds passed.

        Returns True when the server signalled new mail.
        """
