"""Export everything held about one person as a zip file, with a README.txt in Japanese.

Layout of the zip (paths are UTF-8)::

    README.txt                     what the file contains, in Japanese
    registry.json                  registry entries and their history
    items.json                     review items: state, checklist, form values, notes
    documents.json                 every document received, purged ones included
    documents/<receipt no>/<id>-<file name>   the documents still stored (decrypted)
    mails/received/<id>.eml        the stored mails (decrypted), with received.json
    mails/sent/<id>.eml            mail we sent about the person, with sent.json
    audit.json                     audit entries about the person
    addresses.json                 bounce records of their mail addresses

The zip is created with mode 0600 and never overwrites a file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.db.models import AuditEntry, Base
from mailflow.errors import MailflowError
from mailflow.privacy.person import Person
from mailflow.privacy.stored_mail import stored_raw
from mailflow.storage import DocumentStore, StorageError

logger = logging.getLogger(__name__)

_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


class ExportError(MailflowError):
    """The export file could not be written."""


@dataclass(frozen=True)
class ExportSummary:
    """Counts of what one export wrote, and the zip's path."""

    path: Path
    items: int
    documents: int
    documents_purged: int
    mails_received: int
    mails_sent: int
    audit_entries: int


def export_person(session: Session, store: DocumentStore, key: bytes | None, person: Person, path: Path,
                  actor: str) -> ExportSummary:
    """Write the zip for ``person`` to ``path`` and audit the export (without personal values).

    Raises ExportError when ``path`` exists or cannot be created. A document or mail that
    cannot be read (a missing file, a wrong key) is listed in README.txt as unreadable.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ExportError(f"{path} は既にあります。別のファイル名を指定してください", path=str(path)) from None
    except OSError as exc:
        raise ExportError(f"{path} を作成できません（{exc.strerror}）", path=str(path)) from None
    try:
        with os.fdopen(descriptor, "wb") as stream, zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
            summary = _write_archive(archive, store, key, person, path)
    except BaseException:
        # A half-written export would look complete to the person who receives it.
        path.unlink(missing_ok=True)
        raise
    stored, received, sent = summary.documents, summary.mails_received, summary.mails_sent
    session.add(AuditEntry(
        actor=actor, action="person_exported", mentor_id=person.mentors[0].id if person.mentors else None,
        detail={"query_kind": person.query_kind, "items": [item.id for item in person.items],
                "mentors": [mentor.id for mentor in person.mentors], "documents": stored,
                "mails_received": received, "mails_sent": sent},
    ))
    logger.info("person exported mentors=%s items=%s documents=%d mails=%d",
                [mentor.id for mentor in person.mentors], [item.id for item in person.items], stored, received + sent)
    return summary


def _write_archive(archive: zipfile.ZipFile, store: DocumentStore, key: bytes | None, person: Person,
                   path: Path) -> ExportSummary:
    notes: list[str] = []
    write_json(archive, "registry.json", [_registry_entry(person, mentor) for mentor in person.mentors])
    write_json(archive, "items.json", [row_dict(item) for item in person.items])
    stored = _write_documents(archive, store, person, notes)
    received = _write_received(archive, person, key, notes)
    sent = _write_sent(archive, person)
    write_json(archive, "audit.json", [row_dict(entry) for entry in person.audit])
    write_json(archive, "addresses.json", [row_dict(row) for row in person.addresses])
    summary = ExportSummary(path, len(person.items), stored, len(person.documents) - stored, received, sent,
                            len(person.audit))
    archive.writestr("README.txt", readme(person, summary, notes))
    return summary


def row_dict(row: Base, leave_out: tuple[str, ...] = ("raw",)) -> dict[str, Any]:
    """Return the columns of ``row`` as JSON-ready values, without the columns in ``leave_out``."""
    values = {}
    for column in row.__table__.columns:
        if column.key in leave_out:
            continue
        values[column.key] = json_value(getattr(row, column.key))
    return values


def json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return clock.as_utc(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    return value


def write_json(archive: zipfile.ZipFile, name: str, data: Any) -> None:
    archive.writestr(name, json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _registry_entry(person: Person, mentor) -> dict[str, Any]:
    entry = row_dict(mentor)
    entry["history"] = [row_dict(row) for row in person.history if row.mentor_id == mentor.id]
    return entry


def _write_documents(archive: zipfile.ZipFile, store: DocumentStore, person: Person, notes: list[str]) -> int:
    numbers = {item.id: item.number or str(item.id) for item in person.items}
    listing = []
    written = 0
    for document in person.documents:
        entry = row_dict(document)
        if document.storage_id is not None:
            name = f"documents/{numbers.get(document.item_id, 'other')}/{document.id}-{_safe_name(document.filename)}"
            try:
                archive.writestr(name, store.get(document.storage_id))
                entry["file"] = name
                written += 1
            except StorageError as exc:
                notes.append(f"書類 {document.id} は読み出せませんでした（{type(exc).__name__}）")
        listing.append(entry)
    write_json(archive, "documents.json", listing)
    return written


def _write_received(archive: zipfile.ZipFile, person: Person, key: bytes | None, notes: list[str]) -> int:
    listing = []
    written = 0
    for message in person.messages:
        entry = row_dict(message)
        try:
            raw = stored_raw(message, key)
        except (MailflowError, StorageError) as exc:
            notes.append(f"受信メール {message.id} は読み出せませんでした（{type(exc).__name__}）")
            raw = None
        if raw is not None:
            entry["file"] = f"mails/received/{message.id}.eml"
            archive.writestr(entry["file"], raw)
            written += 1
        listing.append(entry)
    write_json(archive, "mails/received.json", listing)
    return written


def _write_sent(archive: zipfile.ZipFile, person: Person) -> int:
    listing = []
    written = 0
    for row in person.outbox:
        entry = row_dict(row)
        if row.raw is not None:
            entry["file"] = f"mails/sent/{row.id}.eml"
            archive.writestr(entry["file"], row.raw)
            written += 1
        listing.append(entry)
    write_json(archive, "mails/sent.json", listing)
    return written


def _safe_name(filename: str | None) -> str:
    cleaned = _UNSAFE_NAME.sub("_", filename or "").strip(". ")
    return cleaned[:120] or "document"


def readme(person: Person, summary: ExportSummary, notes: list[str]) -> str:
    """Return README.txt: what the export contains and what each file is, in Japanese."""
    created = clock.now().astimezone(clock.TOKYO).strftime("%Y年%m月%d日 %H:%M")
    lines = [
        "マネジメントメンター受付システム（mailflow）が保有する個人情報の開示用ファイル",
        f"作成日時: {created}（日本時間）",
        "",
        "■ 内容",
        f"・登録簿の記録: {len(person.mentors)} 件（registry.json。変更の履歴を含みます）",
        f"・申請・届出などの案件: {summary.items} 件（items.json。申請書から読み取った内容を含みます）",
        f"・受け取った書類: {summary.documents} 件（documents フォルダー。一覧は documents.json）",
        f"・保存期間の経過などで削除済みの書類: {summary.documents_purged} 件（documents.json に記録のみ）",
        f"・受信したメール: {summary.mails_received} 通（mails/received フォルダー。一覧は mails/received.json）",
        f"・当方から送ったメール: {summary.mails_sent} 通（mails/sent フォルダー。一覧は mails/sent.json）",
        f"・処理の記録（監査記録）: {summary.audit_entries} 件（audit.json）",
        f"・メールアドレスの配信状況: {len(person.addresses)} 件（addresses.json）",
        "",
        "■ 注意",
        "・.eml ファイルはメールソフトで開けます。.json ファイルはテキストエディターで読めます。",
        "・個人番号（マイナンバー）が写っていた書類と、本文中の個人番号・パスワードは保存していません。",
        "・システムの動作記録（ログ）には、氏名・住所・メールアドレスなどの個人情報を記録していません。",
    ]
    if notes:
        lines += ["", "■ 読み出せなかったもの", *[f"・{note}" for note in notes]]
    return "\r\n".join(lines) + "\r\n"
