"""The files an item holds, as a staff notification attaches and lists them.

A mail can carry hundreds of files, such as an archive of empty members. The notification
therefore attaches at most ``MAX_ATTACHED_FILES`` within ``staff.attach_budget_bytes`` and
never an empty file. Each of its file lists names at most ``MAX_LISTED_FILES`` files and
counts the rest as 「ほか N 件」. ``mailflow queue show`` lists every file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.db.models import Document, ReviewItem
from mailflow.intake.findings import DOCUMENT_LABELS
from mailflow.outbound.compose import OutgoingAttachment
from mailflow.review.mailings import Services
from mailflow.storage import StorageError

logger = logging.getLogger(__name__)

# More attachments make a notification hard to read. Ten leave room for the three
# checklist documents and several pages or scans of each.
MAX_ATTACHED_FILES = 10
# Lines of each file list before the rest is summed up as 「ほか N 件」.
MAX_LISTED_FILES = 5

FILE_LABELS = {
    **DOCUMENT_LABELS,
    "challenge_list": "参加企業課題一覧（様式3）",
    "attendance_form": "出席希望登録票（様式4）",
}
OTHER_FILE_LABEL = "その他のファイル"

EMPTY = "空のファイル"
OVER_BUDGET = "添付できる容量を超えるため"
OVER_COUNT = f"添付は {MAX_ATTACHED_FILES} 件までのため"
UNREADABLE = "保存した内容を読み出せないため"
HELD = "自動で読めなかったファイルのため添付していません"


def file_label(role: str | None) -> str:
    """Return the Japanese name of a file's role; roles without one are 「その他のファイル」."""
    return FILE_LABELS.get(role or "", OTHER_FILE_LABEL)


def describe_file(document: Document) -> str:
    """Return 「登録申請書（様式1）: 申請書.xlsx（8,609 バイト）」 for a document."""
    name = document.filename or f"document-{document.id}"
    return f"{file_label(document.role)}: {name}（{document.size:,} バイト）"


@dataclass
class HeldFiles:
    """What a notification attaches and what it only names.

    ``attached`` and ``not_attached`` keep every line; :meth:`listing` shortens them.
    A line of ``not_attached`` ends with the reason, e.g. 「…（0 バイト）: 空のファイル」.
    """

    attachments: list[OutgoingAttachment] = field(default_factory=list)
    attached: list[str] = field(default_factory=list)
    not_attached: list[str] = field(default_factory=list)

    def listing(self) -> dict[str, object]:
        """Return the template values: at most ``MAX_LISTED_FILES`` lines per list and the count left."""
        return {
            "attached": self.attached[:MAX_LISTED_FILES],
            "attached_more": max(0, len(self.attached) - MAX_LISTED_FILES),
            "not_attached": self.not_attached[:MAX_LISTED_FILES],
            "not_attached_more": max(0, len(self.not_attached) - MAX_LISTED_FILES),
        }


def held_files(session: Session, services: Services, item: ReviewItem) -> HeldFiles:
    """Collect the item's kept files, attaching them oldest first within the budget and the count limit."""
    budget = services.config.staff.attach_budget_bytes
    held = HeldFiles()
    used = 0
    documents = session.scalars(select(Document).where(Document.item_id == item.id).order_by(Document.id))
    for document in documents:
        if document.storage_id is None:
            continue
        label = describe_file(document)
        reason = _reason_not_attached(document, used, budget, len(held.attachments))
        if reason is None:
            try:
                content = services.store.get(document.storage_id)
            except StorageError:
                logger.exception("document unreadable for notification document=%s item=%s", document.id, item.id)
                reason = UNREADABLE
        if reason is not None:
            held.not_attached.append(f"{label}: {reason}")
            continue
        used += document.size
        held.attachments.append(OutgoingAttachment(document.filename or f"document-{document.id}", content,
                                                   document.content_type or "application/octet-stream"))
        held.attached.append(label)
    return held


def _reason_not_attached(document: Document, used: int, budget: int, count: int) -> str | None:
    if document.size == 0:
        return EMPTY
    if document.held_reason:
        # A file intake could not or would not read (over a limit, damaged, encrypted) may be
        # hostile; staff open it deliberately from the store, never from their inbox.
        return f"{HELD}（{document.held_reason}）"
    if count >= MAX_ATTACHED_FILES:
        return OVER_COUNT
    if used + document.size > budget:
        return OVER_BUDGET
    return None
