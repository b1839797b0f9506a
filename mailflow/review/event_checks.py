"""Checks on a host's Form 3 at filing that become attention reasons: an event filed twice."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.db.models import Document, Event, ReviewItem
from mailflow.review import events as event_review
from mailflow.review.items import event_number

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
