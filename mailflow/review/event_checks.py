"""Checks on a host's Form 3 that become attention reasons: an event filed twice, macros and external links."""

from __future__ import annotations

import io
import logging
import zipfile

import olefile
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.db.models import Document, Event, ReviewItem
from mailflow.review import events as event_review
from mailflow.review.items import event_number

logger = logging.getLogger(__name__)

MACRO = "macro"
EXTERNAL_LINK = "external_link"
_CONTENT_LABELS = {MACRO: "マクロ（VBA）", EXTERNAL_LINK: "外部ファイルへのリンク"}
# The end of the relationship type by which a workbook links to a part naming another file.
_EXTERNAL_LINK_TYPE = b"/relationships/externalLink"
# A workbook's relationship parts are a few kilobytes. A larger one is read only this far.
_RELS_READ_LIMIT = 1 << 20

# A draft event may still be approved, and an approved one may still be announced.
LIVE_STATES = (event_review.DRAFT, event_review.APPROVED)


def duplicate_reasons(session: Session, event: Event, form3_sha256: str | None) -> list[str]:
    """Return one attention reason per other draft or approved event that looks like ``event`` again.

    Another event looks the same when its stored Form 3 has the same SHA-256, or when it has
    the same host and first day. Approving both would mail every mentor twice.
    """
    others: dict[int, Event] = {}
    if form3_sha256:
        same_form = (select(Event).join(Document, Event.document_id == Document.id)
                     .where(Document.sha256 == form3_sha256, Event.id != event.id, Event.state.in_(LIVE_STATES)))
        others.update((other.id, other) for other in session.scalars(same_form))
    if event.host and event.first_day:
        same_day = select(Event).where(Event.host == event.host, Event.first_day == event.first_day,
                                       Event.id != event.id, Event.state.in_(LIVE_STATES))
        others.update((other.id, other) for other in session.scalars(same_day))
    return [_duplicate_reason(session, other) for _, other in sorted(others.items())]


def _duplicate_reason(session: Session, other: Event) -> str:
    item = session.get(ReviewItem, other.item_id) if other.item_id else None
    receipt = f"（受付番号 {item.number}）" if item is not None else ""
    state = "承認済み" if other.state == event_review.APPROVED else "審査中"
    return (f"同じ交流会とみられる{state}の交流会 {event_number(other)}{receipt}があります"
            "（同じ課題一覧のファイル、または同じ主催と開催初日）。二重に登録していないか確かめ、"
            "重複なら一方を「却下」か「完了」で閉じてください")


def active_content(payload: bytes) -> list[str]:
    """Return what in a workbook must never reach mentors: ``MACRO``, ``EXTERNAL_LINK``, or nothing.

    An .xlsx or .xlsm has a macro when it contains a ``vbaProject.bin`` part, and an external
    link when it contains ``xl/externalLinks/`` parts or a workbook relationship of that type.
    An .xls has a macro when it contains a ``_VBA_PROJECT_CUR`` or ``Macros`` storage.
    """
    # NOTE: external links of an .xls (SUPBOOK records in the BIFF stream) are not looked for.
    if zipfile.is_zipfile(io.BytesIO(payload)):
        return _zip_active_content(payload)
    if olefile.isOleFile(data=payload):
        try:
            with olefile.OleFileIO(io.BytesIO(payload)) as ole:
                return [MACRO] if ole.exists("_VBA_PROJECT_CUR") or ole.exists("Macros") else []
        except (OSError, ValueError):
            logger.warning("workbook check failed: OLE2 file could not be opened")
            return []
    return []


def _zip_active_content(payload: bytes) -> list[str]:
    found: list[str] = []
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            names = [name.lower() for name in archive.namelist()]
            if any(name.endswith("vbaproject.bin") for name in names):
                found.append(MACRO)
            linked = any(name.startswith("xl/externallinks/") for name in names)
            for name in archive.namelist():
                if linked:
                    break
                if name.lower().startswith("xl/") and name.lower().endswith(".rels"):
                    with archive.open(name) as part:
                        linked = _EXTERNAL_LINK_TYPE.lower() in part.read(_RELS_READ_LIMIT).lower()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        logger.warning("workbook check failed: zip could not be read error=%s", type(error).__name__)
        return found
    if linked:
        found.append(EXTERNAL_LINK)
    return found


def active_content_reason(found: list[str]) -> str:
    """Return the attention reason, and the held reason of the file, for a Form 3 with ``found`` content."""
    labels = "と".join(_CONTENT_LABELS[kind] for kind in found)
    return (f"参加企業課題一覧（様式3）に{labels}が含まれているため、このファイルはメンターに転送しません。"
            "開催機関に、マクロや外部リンクのない通常の .xlsx で送り直すよう依頼してください")
