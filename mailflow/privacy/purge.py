"""Purge stored documents: delete the file, empty the row, strip the part from every stored mail.

A purge removes the content and every trace of it that the row or a stored mail kept.
That is the file name, hash and notes in the row, and the MIME part in the stored raw
mail it came in. It is also the attachment and its file name in the outbox mails that
forwarded it to staff, including the .eml files the file transport wrote. The row stays as a tombstone that
records what kind of document arrived, when, and why and when it was purged, so the
item's history still adds up. Every purge writes an AuditEntry without any content.

The file is deleted before the database rows change. When the transaction fails after
that, the document is gone but the row still names it, and the next purge of the same
document completes it. The opposite order could leave content behind.
"""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.db.models import AuditEntry, Document, InboundMessage, Outbox
from mailflow.errors import MailflowError
from mailflow.intake.parse import parse_message
from mailflow.intake.redact import RedactError, mask_text_parts, remove_parts
from mailflow.privacy.stored_mail import replace_stored_raw, stored_raw
from mailflow.storage import DocumentStore

logger = logging.getLogger(__name__)

# Purge reasons, as stored in Document.purge_reason and audit entries.
IDENTITY_RETENTION = "identity_retention"
DOCUMENT_RETENTION = "document_retention"
RESUBMISSION_REQUESTED = "resubmission_requested"
ERASURE = "erasure"

# Reason sentences of the notice that replaces the part in the stored raw mail (staff read it).
REASON_NOTES = {
    IDENTITY_RETENTION: "本人確認書類の保存期間が過ぎたため、この書類は削除しました。",
    DOCUMENT_RETENTION: "書類の保存期間が過ぎたため、この書類は削除しました。",
    RESUBMISSION_REQUESTED: "担当者が再提出を依頼したため、この書類は削除しました。",
    ERASURE: "本人からの削除の求めにより、この書類は削除しました。",
}
DEFAULT_NOTE = "この書類は削除しました。"
PURGED_NAME = "（削除した書類）"
# The file transport records "written to <file name>" as the delivery reply.
WRITTEN_FILE = re.compile(r"written to (\S+\.eml)")


class PurgeError(MailflowError):
    """A document to purge does not exist, or its stored mail cannot be read."""


@dataclass(frozen=True)
class PurgeResult:
    """Outcome of one purge, e.g. ``PurgeResult(document_id=7, inbound_id=3, file_deleted=True,
    raw_part="4", already_purged=False)``.

    ``raw_part`` is the MIME part replaced in the stored raw mail, or None when the mail
    no longer kept it (or was deleted).
    """

    document_id: int
    inbound_id: int | None
    file_deleted: bool
    raw_part: str | None
    already_purged: bool


def purge_document(session: Session, store: DocumentStore, document_id: int, reason: str, actor: str,
                   key: bytes | None, outbox_dir: Path | None = None) -> PurgeResult:
    """Purge one document in the caller's transaction and audit it with ``actor``.

    ``reason`` is one of the reason constants of this module (the staff command 再提出
    passes RESUBMISSION_REQUESTED). ``key`` decrypts and re-encrypts the stored raw mail.
    ``outbox_dir`` is the folder of the file transport (``outbound.directory`` when
    ``outbound.type`` is files): its .eml copies of staff mails are rewritten too. Purging
    a purged document again finishes what a failed purge left and is otherwise harmless.
    Raises PurgeError when no document has ``document_id``, and the storage errors when
    the stored mail is encrypted and ``key`` cannot open it.
    """
    document = session.get(Document, document_id)
    if document is None:
        raise PurgeError(f"書類 {document_id} が見つかりません（書類IDを確認してください）", document_id=document_id)
    return purge_documents(session, store, [document], reason, actor, key, outbox_dir)[0]


def purge_documents(session: Session, store: DocumentStore, documents: list[Document], reason: str, actor: str,
                    key: bytes | None, outbox_dir: Path | None = None) -> list[PurgeResult]:
    """Purge ``documents`` as :func:`purge_document` does, rewriting each stored mail once."""
    by_message: dict[int | None, list[Document]] = defaultdict(list)
    for document in documents:
        by_message[document.inbound_message_id].append(document)
    results = []
    for inbound_id, group in by_message.items():
        inbound = session.get(InboundMessage, inbound_id) if inbound_id is not None else None
        deleted = {document.id: _delete_file(store, document) for document in group}
        stripped = _strip_parts(inbound, [document.part_id for document in group], reason, key)
        strip_outbox(session, group, REASON_NOTES.get(reason, DEFAULT_NOTE), outbox_dir)
        for document in group:
            already = document.purged_at is not None and document.storage_id is None
            part = _top_part(document.part_id)
            _empty_row(document, reason)
            result = PurgeResult(document.id, inbound_id, deleted[document.id], part if part in stripped else None,
                                 already)
            _audit(session, document, result, reason, actor)
            results.append(result)
    session.flush()
    return results


def strip_outbox(session: Session, documents: list[Document], note: str, outbox_dir: Path | None) -> list[int]:
    """Remove ``documents`` from the outbox mails of their items: the attachment, and the file name in the text.

    Attachments are recognised by their SHA-256, so this must run before the rows are
    emptied. Returns the ids of the outbox rows that changed.
    """
    hashes = {document.sha256 for document in documents if document.sha256}
    names = sorted({document.filename for document in documents if document.filename}, key=len, reverse=True)
    item_ids = sorted({document.item_id for document in documents if document.item_id is not None})
    if not item_ids or not (hashes or names):
        return []
    changed = []
    query = select(Outbox).where(Outbox.item_id.in_(item_ids), Outbox.raw.is_not(None))
    for row in session.scalars(query):
        attachments = parse_message(row.raw).all_attachments()
        parts = sorted({attachment.part_id.split("/", 1)[0] for attachment in attachments if attachment.sha256 in hashes})
        new_raw = remove_parts(row.raw, parts, note, record_digest=False) if parts else row.raw
        new_raw = mask_text_parts(new_raw, _name_masker(names)) if names else new_raw
        if new_raw == row.raw:
            continue
        row.raw = new_raw
        changed.append(row.id)
        written = WRITTEN_FILE.search(row.smtp_reply or "")
        if outbox_dir is not None and written:
            _rewrite_if_present(outbox_dir / Path(written.group(1)).name, new_raw)
    if changed:
        logger.info("outbox mails stripped outbox=%s", ",".join(map(str, changed)))
    return changed


def _name_masker(names: list[str]):
    def mask(text: str) -> str:
        for name in names:
            text = text.replace(name, PURGED_NAME)
        return text

    return mask


def _rewrite_if_present(path: Path, data: bytes) -> None:
    """Replace the file at ``path`` (if it exists) with ``data``: mode 0600, fsynced, renamed into place."""
    if not path.is_file():
        return
    temporary = path.with_name(f".{path.name}.purge.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)


def _strip_parts(inbound: InboundMessage | None, part_ids: list[str], reason: str, key: bytes | None) -> set[str]:
    if inbound is None or inbound.raw is None:
        return set()
    raw = stored_raw(inbound, key)
    assert raw is not None
    parts = sorted({_top_part(part_id) for part_id in part_ids})
    try:
        new_raw = remove_parts(raw, parts, REASON_NOTES.get(reason, DEFAULT_NOTE), record_digest=False)
    except RedactError:
        # The stored mail must still be parseable by the same rules that assigned the id.
        logger.error("stored mail part not found inbound=%s parts=%s", inbound.id, ",".join(parts))
        return set()
    if new_raw != raw:
        replace_stored_raw(inbound, new_raw, key)
    return set(parts)


def _delete_file(store: DocumentStore, document: Document) -> bool:
    if document.storage_id is None:
        return False
    return store.delete(document.storage_id)


def _empty_row(document: Document, reason: str) -> None:
    """Clear every value the row kept about the content; role, sizes and dates stay."""
    document.storage_id = None
    document.kept = False
    document.filename = None
    document.sha256 = ""
    document.notes = []
    if document.purged_at is None:
        document.purged_at = clock.now()
        document.purge_reason = reason


def _audit(session: Session, document: Document, result: PurgeResult, reason: str, actor: str) -> None:
    session.add(AuditEntry(
        item_id=document.item_id, actor=actor, action="document_purged",
        outcome="repeated" if result.already_purged else "applied",
        detail={"document_id": document.id, "inbound_id": result.inbound_id, "role": document.role,
                "identity_type": document.identity_type, "reason": reason, "file_deleted": result.file_deleted,
                "raw_part": result.raw_part},
    ))
    logger.info("document purged document=%s item=%s reason=%s file_deleted=%s raw_part=%s",
                document.id, document.item_id, reason, result.file_deleted, result.raw_part)


def _top_part(part_id: str) -> str:
    """Return the MIME part that carries ``part_id``: a zip member is removed with its zip."""
    return part_id.split("/", 1)[0]
