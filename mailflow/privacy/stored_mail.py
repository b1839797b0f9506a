"""The stored raw mail of a message: read it in clear, replace or delete it, and mark its mailbox copy."""

from __future__ import annotations

import hashlib
import re

from mailflow import clock
from mailflow.db.models import InboundMessage
from mailflow.errors import MailflowError
from mailflow.storage import decrypt_blob, encrypt_blob

_LINE_END = re.compile(rb"\r?\n")


class StoredMailError(MailflowError):
    """The stored raw mail is encrypted and no key was configured."""


def mailbox_digest(raw: bytes) -> str:
    """Return the SHA-256 of ``raw`` with CRLF line ends, as an IMAP server returns any stored mail."""
    return hashlib.sha256(_LINE_END.sub(b"\r\n", raw)).hexdigest()


def stored_raw(inbound: InboundMessage, key: bytes | None) -> bytes | None:
    """Return the stored raw mail of ``inbound`` in clear, or None when it was deleted.

    Raises StoredMailError when it is encrypted and ``key`` is None, and the errors of
    :func:`mailflow.storage.decrypt_blob` when ``key`` cannot open it.
    """
    if inbound.raw is None:
        return None
    if not inbound.raw_encrypted:
        return inbound.raw
    if key is None:
        raise StoredMailError(f"受信メール {inbound.id} は暗号化されていますが、鍵が設定されていません"
                              "（privacy.encryption_key_file を設定してください）", inbound_id=inbound.id)
    return decrypt_blob(inbound.raw, key)


def replace_stored_raw(inbound: InboundMessage, new_raw: bytes | None, key: bytes | None) -> None:
    """Store ``new_raw`` (None deletes it) and mark the mailbox copy for the same change.

    Once a message was moved, its folder contains the stored raw until the first purge
    changes it, so the digest of the old raw identifies the copy. A message still in the
    inbox keeps ``mailbox_sha256`` None: its copy is the original as received.
    """
    old_raw = stored_raw(inbound, key)
    if inbound.moved_at is not None and not inbound.mailbox_update_due and old_raw is not None:
        inbound.mailbox_sha256 = mailbox_digest(old_raw)
    inbound.mailbox_update_due = True
    inbound.redacted = True
    if new_raw is None:
        inbound.raw = None
        inbound.raw_purged_at = clock.now()
        return
    inbound.raw = encrypt_blob(new_raw, key) if key is not None else new_raw
    inbound.raw_encrypted = key is not None
