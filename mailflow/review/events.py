"""Staff review of a host's challenge list: the review item of a draft event and its decisions.

Filing a challenge list creates a draft Event and a review item of kind ``challenge_list``
linked to it (``Event.item_id``), so the event is listed, notified and decided like any
item. 承認 makes the event ``approved``, which lets the event notice planner mail every
active mentor in the notice window. 却下 makes it ``rejected``, and no notice is planned.
What the reader could not read (the event days, the form itself) becomes an attention
reason, so the existing approval guard asks for 「承認 確認済」. So does a notice window
that has ended by the time staff approve. An event with no day in range, or whose Form 3
was not kept, can never have a notice, so it cannot be approved at all. 完了 closes such
an item and sets its event ``closed``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.calendar import (
    BusinessCalendar,
    format_japanese_date,
    load_calendar_rules,
)
from mailflow.config import Config
from mailflow.db.models import AuditEntry, Document, Event, InboundMessage, Mentor, Outbox, ReviewItem
from mailflow.errors import MailflowError
from mailflow.planning.schedule import NoticeWindow, notice_window
from mailflow.review import items as review_items
from mailflow.review.items import event_number
from mailflow.review.mailings import Services

logger = logging.getLogger(__name__)

ITEM_KIND = "challenge_list"
DRAFT = "draft"
APPROVED = "approved"
REJECTED = "rejected"
CLOSED = "closed"
ACTIVE_MENTOR = "active"
# Event days outside these years are typing errors such as 「0001年」 or 「9999年」. The
# notice window of such a day can leave the range of datetime.date, so none is computed.
EARLIEST_EVENT_YEAR = 2000
LATEST_EVENT_YEAR = 2100


class EventReviewError(MailflowError):
    """A decision on a challenge list item whose event cannot be found or is decided already."""


def load_calendar(config: Config) -> BusinessCalendar:
    """Return the business calendar of ``rules/calendar.toml``; raises RulesError when it is invalid."""
    return BusinessCalendar(load_calendar_rules(config.rules_dir))


def split_event_days(days: list[dt.date]) -> tuple[list[dt.date], list[dt.date]]:
    """Split ``days`` into (days from EARLIEST_EVENT_YEAR to LATEST_EVENT_YEAR, days outside), each sorted."""
    inside = sorted(day for day in days if EARLIEST_EVENT_YEAR <= day.year <= LATEST_EVENT_YEAR)
    outside = sorted(day for day in days if not EARLIEST_EVENT_YEAR <= day.year <= LATEST_EVENT_YEAR)
    return inside, outside


def out_of_range_reason(days: list[dt.date]) -> str:
    """Return the event problem for event days outside the years a notice window is computed for."""
    listed = "、".join(f"{day.year}年{day.month}月{day.day}日" for day in days)
    return (f"開催日が範囲外です（{listed}）。{EARLIEST_EVENT_YEAR}年から{LATEST_EVENT_YEAR}年までの日付ではないため、"
            "開催案内を送る期間を計算できません。開催機関に訂正した課題一覧を依頼してください")


def event_window(event: Event, calendar: BusinessCalendar) -> NoticeWindow | None:
    """Return the notice window of ``event``, or None when none of its days could be read or is in range."""
    days, _ = split_event_days([dt.date.fromisoformat(day) for day in event.days or [] if day])
    return notice_window(days, calendar) if days else None


def send_time(config: Config) -> dt.time:
    """Return ``events.send_time`` (an "HH:MM" string the config check validated) as a time."""
    hours, minutes = config.events.send_time.split(":")
    return dt.time(int(hours), int(minutes))


def window_ended_reason(window_end: dt.date) -> str:
    """Return the attention reason of an event whose notice window ended on ``window_end``."""
    return (f"開催案内を送る期間は {format_japanese_date(window_end)} で終わっています。"
            "承認しても、登録メンターへの開催案内は自動では送りません")


def link_event_item(session: Session, config: Config, item: ReviewItem, event: Event,
                    inbound: InboundMessage) -> None:
    """Tie a freshly filed challenge list item to its draft ``event`` and set the item's state.

    The event's problems and an already ended notice window become attention reasons.
    The notice window is stored in ``item.details["event_window"]`` as ISO dates, so that
    the approval guard can tell later whether it has ended.
    """
    event.item_id = item.id
    inbound.item_id = item.id
    review_items.add_thread_ids(item, inbound.message_id)
    details = dict(item.details or {})
    details["event_id"] = event.id
    details["event_days"] = list(event.days or [])
    attention = list(details.get("attention") or [])
    attention.extend(event.problems or [])
    window = event_window(event, load_calendar(config))
    if window is not None:
        details["event_window"] = {"window_start": window.window_start.isoformat(),
                                   "window_end": window.window_end.isoformat(),
                                   "planned_send_date": window.planned_send_date.isoformat()}
        if window.window_end < clock.today():
            attention.append(window_ended_reason(window.window_end))
    details["attention"] = review_items.merge_unique([], attention)
    item.details = details
    review_items.recompute_state(item)
    session.add(AuditEntry(item_id=item.id, actor="mailflow", action="filed", source_message_id=inbound.message_id,
                           detail={"inbound_id": inbound.id, "kind": ITEM_KIND, "event_id": event.id,
                                   "state_to": item.state}))
    logger.info("event item filed item=%s event=%s state=%s", item.id, event.id, item.state)


def show_lines(item: ReviewItem) -> list[str]:
    """Return the event lines of ``mailflow queue show``: the days, the notice window and the planned send date.

    They come from what filing stored on the item, so an item of another kind gets none.
    """
    if item.kind != ITEM_KIND:
        return []
    details = item.details or {}
    days = [format_japanese_date(dt.date.fromisoformat(day)) for day in details.get("event_days") or []]
    lines = [f"開催日: {'、'.join(days) if days else '（読み取れませんでした）'}"]
    window = details.get("event_window")
    if not window:
        lines.append("開催案内を送る期間: （開催日が読み取れないため、ありません）")
        return lines
    start, end, planned = (dt.date.fromisoformat(window[key])
                           for key in ("window_start", "window_end", "planned_send_date"))
    ended = "（終わっています）" if end < clock.today() else ""
    lines.append(f"開催案内を送る期間: {format_japanese_date(start)} 〜 {format_japanese_date(end)}{ended}")
    lines.append(f"送信予定日: {format_japanese_date(planned)}（承認がこの日より後なら、承認後すぐ）")
    return lines


def approval_reasons(item: ReviewItem) -> list[str]:
    """Return the attention reasons a challenge list item gains with time: a notice window that has ended.

    Reasons already recorded on the item are not repeated. Other kinds get none.
    """
    if item.kind != ITEM_KIND:
        return []
    window_end = ((item.details or {}).get("event_window") or {}).get("window_end")
    if not window_end or dt.date.fromisoformat(window_end) >= clock.today():
        return []
    reason = window_ended_reason(dt.date.fromisoformat(window_end))
    return [] if reason in review_items.attention_reasons(item) else [reason]


EVENT_STATE_LABELS = {DRAFT: "審査中", APPROVED: "承認済み", REJECTED: "却下", CLOSED: "完了"}


def event_of(session: Session, item: ReviewItem, state: str = DRAFT) -> Event:
    """Return the event a challenge list item stands for, which must be in ``state``.

    Raises EventReviewError when there is none, or when it is in another state.
    """
    event = session.scalar(select(Event).where(Event.item_id == item.id).order_by(Event.id).limit(1))
    if event is None:
        raise EventReviewError(f"受付番号 {item.number} に対応する交流会の記録がありません。管理者に連絡してください",
                               item_id=item.id)
    if event.state != state:
        label = EVENT_STATE_LABELS.get(event.state, event.state)
        raise EventReviewError(f"この交流会はすでに「{label}」です", item_id=item.id, event_id=event.id)
    return event


def check_approvable(session: Session, config: Config, item: ReviewItem, channel: str) -> None:
    """Raise EventReviewError when the item's event can never have a notice, which 「承認 確認済」 does not lift.

    Such an event has no day in range, so no notice window, or its Form 3 was not kept
    (an individual number was found in it) or is held (macros, external links, a limit
    passed) and so is never forwarded. Approved, it would wait in the digest for
    ever. ``channel`` is ``mail`` or ``cli`` and picks how the closing commands are written.
    """
    event = event_of(session, item)
    document = session.get(Document, event.document_id) if event.document_id else None
    if event_window(event, load_calendar(config)) is None:
        cause = "開催日を読み取れていない"
    elif document is not None and not document.kept:
        cause = "参加企業課題一覧（様式3）のファイルを保存していない"
    elif document is not None and document.held_reason:
        # A held Form 3 (macros, external links, a limit passed) is never forwarded to mentors.
        cause = f"参加企業課題一覧（様式3）のファイルを保留している（{document.held_reason}）"
    else:
        return
    reject, done = ((f"mailflow queue reject {item.number} 理由", f"mailflow queue done {item.number}")
                    if channel == "cli" else ("却下 理由", "完了"))
    raise EventReviewError(
        f"受付番号 {item.number} の交流会は、{cause}ため承認できません（「承認 確認済」でも承認できません）。"
        f"開催機関に訂正した課題一覧を送るよう依頼してください。この案件は「{reject}」か「{done}」で閉じてください",
        item_id=item.id, event_id=event.id)


def close_event(session: Session, item: ReviewItem) -> str:
    """Mark the item's event ``closed`` (no notice is ever planned); return the staff confirmation sentence."""
    event = event_of(session, item)
    event.state = CLOSED
    logger.info("event closed event=%s item=%s", event.id, item.id)
    return f"交流会 {event_number(event)} を完了にしました。登録メンターへの開催案内は送りません"


# The outbox kind of an event notice to a mentor, planned by mailflow.planning.events.
NOTICE_KIND = "event_notice"


def call_off_event(session: Session, item: ReviewItem) -> str:
    """Close an approved event, for example one the host cancelled, and cancel its pending notices.

    Returns the confirmation for staff, which gives how many notices were cancelled and
    how many had been sent already; sent notices cannot be recalled.
    """
    event = event_of(session, item, APPROVED)
    event.state = CLOSED
    # Only the notices count; the host's receipt shares the event id.
    notices = (Outbox.event_id == event.id, Outbox.kind == NOTICE_KIND)
    stopped = session.execute(update(Outbox).where(*notices, Outbox.status == "pending")
                              .values(status="cancelled", last_error="event closed by staff")).rowcount or 0
    sent = session.scalar(select(func.count(Outbox.id)).where(*notices, Outbox.status == "sent")) or 0
    logger.info("approved event closed event=%s item=%s cancelled=%d sent=%d", event.id, item.id, stopped, sent)
    return (f"承認済みの交流会 {event_number(event)} を完了にしました。これから送る予定だった開催案内 {stopped} 通を"
            f"取りやめました（送信済み {sent} 通）")


def active_mentor_count(session: Session) -> int:
    """Return how many active mentors have a mail address: the recipients of a notice planned now."""
    return session.scalar(select(func.count(Mentor.id)).where(Mentor.status == ACTIVE_MENTOR,
                                                              Mentor.email.is_not(None), Mentor.email != "")) or 0


def approve_event(session: Session, services: Services, actor: str, item: ReviewItem) -> tuple[str, dict[str, Any]]:
    """Approve the item's event; return the staff confirmation sentence and the audit details.

    The notices themselves are planned by the event notice planner from the planned send
    date on, so mentors registered after the approval still get one in the window.
    """
    event = event_of(session, item)
    event.state = APPROVED
    window = event_window(event, load_calendar(services.config))
    mentors = active_mentor_count(session)
    detail: dict[str, Any] = {"event_id": event.id, "active_mentors": mentors}
    summary = f"交流会 {event_number(event)} を承認しました。"
    if window is None:
        summary += "開催日が読み取れていないため、開催案内は自動では送りません。"
    elif window.window_end < clock.today():
        summary += f"開催案内を送る期間は {format_japanese_date(window.window_end)} で終わっているため、自動では送りません。"
    else:
        moment = max(dt.datetime.combine(window.planned_send_date, send_time(services.config), tzinfo=clock.TOKYO),
                     clock.now().astimezone(clock.TOKYO))
        summary += (f"開催案内は {format_japanese_date(moment.date())} {moment:%H:%M} から、"
                    f"その時点の登録メンターに1人1通ずつ送ります（現在の登録メンターでメールアドレスのある方は {mentors} 名）。")
        detail["planned_send_date"] = window.planned_send_date.isoformat()
    logger.info("event approved event=%s item=%s mentors=%d", event.id, item.id, mentors)
    return summary, detail


def reject_event(session: Session, item: ReviewItem) -> tuple[str, dict[str, Any]]:
    """Mark the item's event rejected, so that no notice is ever planned; return the sentence and details."""
    event = event_of(session, item)
    event.state = REJECTED
    logger.info("event rejected event=%s item=%s", event.id, item.id)
    return (f"交流会 {event_number(event)} を却下しました。登録メンターへの開催案内は送りません。"
            "開催機関への連絡は担当者から行ってください", {"event_id": event.id})


def notification_values(session: Session, services: Services, item: ReviewItem) -> dict[str, Any]:
    """Return the event as a staff notification shows it: what was read, the window and the recipients now."""
    event = session.scalar(select(Event).where(Event.item_id == item.id).order_by(Event.id).limit(1))
    if event is None:
        return {}
    window = event_window(event, load_calendar(services.config))
    return {
        "number": event_number(event),
        "name": event.name,
        "host": event.host,
        "venue": event.venue,
        "days": [format_japanese_date(dt.date.fromisoformat(day)) for day in event.days or []],
        "company_count": len(event.companies or []),
        "problems": list(event.problems or []),
        "window_start": format_japanese_date(window.window_start) if window else "",
        "window_end": format_japanese_date(window.window_end) if window else "",
        "planned_send_date": format_japanese_date(window.planned_send_date) if window else "",
        "send_time": services.config.events.send_time,
        "active_mentors": active_mentor_count(session),
    }
