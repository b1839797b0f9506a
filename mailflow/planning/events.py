"""Plan event notices: for each approved event, one mail per active mentor inside the notice window.

The window comes from :func:`mailflow.planning.schedule.notice_window`: 7 to 5 weeks
before the first event day, each end moved back to a business day. From the planned send
date at ``events.send_time`` (Asia/Tokyo) until the end of the window's last day, every
run plans a notice for each active mentor with a mail address who has none yet. So a
mentor registered later in the window gets one at the next run. The outbox key
``event-notice:<event id>:<mentor id>`` makes a second run (or a second daemon) harmless.
Each mail has one recipient, so no mentor sees another's address. Pending notices of a
mentor who is revoked or withdraws are cancelled by the registry code (``cancel_pending``
by mentor id).

A notice carries the host's Form 3 as stored and the blank Form 4 of
``events.attendance_form``. An event whose Form 3 cannot be attached (purged, held as
unreadable, missing) gets no notice, and the staff digest says why.
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailflow.calendar import BusinessCalendar, format_japanese_date
from mailflow.clock import TOKYO
from mailflow.config import Config
from mailflow.db.models import Document, Event, Mentor, Outbox
from mailflow.outbound.compose import AUTO_GENERATED, Draft, OutgoingAttachment
from mailflow.outbound.outbox import enqueue
from mailflow.planning.schedule import NoticeWindow
from mailflow.review import event_checks
from mailflow.review import events as event_review
from mailflow.review.items import event_number
from mailflow.review.mailings import Services
from mailflow.storage import StorageError

logger = logging.getLogger(__name__)

NOTICE_KIND = event_review.NOTICE_KIND
NOTICE_TEMPLATE = "event_notice"
DEFAULT_ATTENDANCE_FORM = Path(__file__).resolve().parent.parent / "data" / "yoshiki4_template.xlsx"
# The attached Form 4 is named for the mentor who opens it, whatever the file is called on disk.
ATTENDANCE_FORM_NAME = "新現役交流会出席希望登録票（様式4）"

NO_FORM3 = "参加企業課題一覧（様式3）のファイルを添付できないため、開催案内を送れません"
NO_DAYS = "開催日が読み取れていないため、開催案内を自動では送れません"
NOT_PLANNED_YET = "送信予定日を過ぎましたが、開催案内はまだ作成されていません"


@dataclass(frozen=True)
class NoticeSchedule:
    """When the notices of one event go out.

    ``send_at`` is the planned send date at the send time (Asia/Tokyo). ``deadline_at`` is
    the first moment after the window's last day, and no notice is sent after it.
    ``reply_by`` is the reply deadline written in the notice, a business day.
    """

    window: NoticeWindow
    send_at: dt.datetime
    deadline_at: dt.datetime
    reply_by: dt.date


@dataclass
class NoticeStats:
    """Counts of one planner run; ``planned`` counts outbox rows that did not exist before."""

    planned: int = 0
    events_due: int = 0
    blocked: int = 0
    no_email: int = 0


def notice_key(event_id: int, mentor_id: int) -> str:
    """Return the outbox key of one notice, e.g. ``"event-notice:3:12"``."""
    return f"event-notice:{event_id}:{mentor_id}"


def notice_schedule(event: Event, config: Config, calendar: BusinessCalendar) -> NoticeSchedule | None:
    """Return the schedule of ``event``'s notices, or None when none of its days could be read."""
    window = event_review.event_window(event, calendar)
    if window is None:
        return None
    send_at = dt.datetime.combine(window.planned_send_date, event_review.send_time(config), tzinfo=TOKYO)
    deadline_at = dt.datetime.combine(window.window_end + dt.timedelta(days=1), dt.time(0), tzinfo=TOKYO)
    reply_by = calendar.previous_business_day(window.first_day - dt.timedelta(days=config.events.reply_days_before))
    return NoticeSchedule(window, send_at, deadline_at, reply_by)


# NOTE: privacy.document_retention_days counts from the item's decision, so a short setting
# can purge Form 3 before the notice window opens. The digest then names the event.
def attachable_form3(session: Session, event: Event) -> Document | None:
    """Return the stored Form 3 of ``event`` when it may be attached: kept, not empty, not held as unreadable."""
    document = session.get(Document, event.document_id) if event.document_id else None
    if document is None or document.storage_id is None or document.held_reason or not document.size:
        return None
    return document


def attendance_form_path(config: Config) -> Path:
    """Return the Form 4 file to attach: ``events.attendance_form``, else the blank form shipped with mailflow."""
    setting = config.events.attendance_form
    return config.resolve(setting) if setting else DEFAULT_ATTENDANCE_FORM


def notice_attachments(session: Session, services: Services, event: Event) -> list[OutgoingAttachment] | None:
    """Return Form 3 (decrypted from the document store) and Form 4, or None when either cannot be read."""
    document = attachable_form3(session, event)
    if document is None:
        logger.warning("event notices blocked event=%s reason=form3_not_attachable", event.id)
        return None
    try:
        form3 = services.store.get(document.storage_id)
    except StorageError:
        logger.exception("event notices blocked event=%s document=%s reason=form3_unreadable", event.id, document.id)
        return None
    if event_checks.active_content(form3):
        # Filing holds such a file already. This catches a Form 3 filed before that check.
        logger.warning("event notices blocked event=%s document=%s reason=form3_active_content", event.id, document.id)
        return None
    path = attendance_form_path(services.config)
    try:
        form4 = path.read_bytes()
    except OSError as error:
        logger.error("event notices blocked event=%s reason=form4_unreadable error=%s", event.id, type(error).__name__)
        return None
    form4_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return [
        OutgoingAttachment(document.filename or f"様式3-{event_number(event)}.xlsx", form3,
                           document.content_type or "application/octet-stream"),
        OutgoingAttachment(ATTENDANCE_FORM_NAME + path.suffix, form4, form4_type),
    ]


def plan_event_notices(session: Session, services: Services, calendar: BusinessCalendar,
                       now: dt.datetime) -> NoticeStats:
    """Plan the notices due at ``now`` for every approved event; return the counts of the run.

    A notice is due from the event's ``send_at`` until its ``deadline_at``. Each row has
    kind ``event_notice``, ``due_at`` at ``send_at`` (or ``now`` when later) and
    ``deadline_at`` at the end of the window's last day.
    """
    stats = NoticeStats()
    events = session.scalars(select(Event).where(Event.state == event_review.APPROVED).order_by(Event.id))
    for event in events:
        schedule = notice_schedule(event, services.config, calendar)
        if schedule is None or not schedule.send_at <= now < schedule.deadline_at:
            continue
        stats.events_due += 1
        attachments = notice_attachments(session, services, event)
        if attachments is None:
            stats.blocked += 1
            continue
        _plan_for_mentors(session, services, event, schedule, attachments, now, stats)
    logger.info("event notices planned=%d events_due=%d blocked=%d no_email=%d",
                stats.planned, stats.events_due, stats.blocked, stats.no_email)
    return stats


def mentors_sent_same_form3(session: Session, event: Event) -> set[int]:
    """Return the mentors who have a notice of another event whose Form 3 has the same SHA-256 as ``event``'s.

    A host who sends the same Form 3 twice makes two events. If staff approve both, each
    mentor still gets one notice.
    """
    document = session.get(Document, event.document_id) if event.document_id else None
    if document is None or not document.sha256:
        return set()
    twins = (select(Event.id).join(Document, Event.document_id == Document.id)
             .where(Document.sha256 == document.sha256, Event.id != event.id))
    return set(session.scalars(select(Outbox.mentor_id).where(Outbox.kind == NOTICE_KIND,
                                                              Outbox.event_id.in_(twins),
                                                              Outbox.mentor_id.is_not(None))))


def _plan_for_mentors(session: Session, services: Services, event: Event, schedule: NoticeSchedule,
                      attachments: list[OutgoingAttachment], now: dt.datetime, stats: NoticeStats) -> None:
    planned_keys = set(session.scalars(select(Outbox.key).where(Outbox.event_id == event.id,
                                                                Outbox.kind == NOTICE_KIND)))
    sent_twin = mentors_sent_same_form3(session, event)
    mentors = session.scalars(select(Mentor).where(Mentor.status == event_review.ACTIVE_MENTOR).order_by(Mentor.id))
    for mentor in mentors:
        if not mentor.email:
            stats.no_email += 1
            continue
        key = notice_key(event.id, mentor.id)
        if key in planned_keys or mentor.id in sent_twin:
            continue
        subject, body = services.renderer.render(
            NOTICE_TEMPLATE, bureau=services.config.bureau, mentor=mentor, event=event, number=event_number(event),
            event_days=[format_japanese_date(dt.date.fromisoformat(day)) for day in event.days or []],
            reply_by=format_japanese_date(schedule.reply_by), attachment_names=[a.filename for a in attachments])
        draft = Draft(key=key, to=[(mentor.name, mentor.email)], subject=subject, body=body,
                      auto_submitted=AUTO_GENERATED, attachments=list(attachments))
        enqueue(session, services.config, draft, NOTICE_KIND, mentor_id=mentor.id, event_id=event.id,
                due_at=max(schedule.send_at, now), deadline_at=schedule.deadline_at)
        stats.planned += 1


@dataclass(frozen=True)
class EventLine:
    """An approved event as the staff digest lists it; ``note`` gives the reason it waits or was missed."""

    event_id: int
    number: str
    name: str
    first_day: dt.date | None
    planned_send_date: dt.date | None
    window_end: dt.date | None
    note: str = ""


def digest_lines(session: Session, config: Config, calendar: BusinessCalendar,
                 today: dt.date) -> tuple[list[EventLine], list[EventLine]]:
    """Return the approved events whose notices were not planned: (waiting, missed) on ``today``.

    An event waits until its window ends: before its send date, or after it with no notice
    planned yet (the note gives the reason). An event whose mentors got the notice of another
    event with the same Form 3 is not listed. It is missed when its window ended with no notice
    planned, and it is listed as missed until its first day.
    """
    waiting: list[EventLine] = []
    missed: list[EventLine] = []
    planned = dict(session.execute(
        select(Outbox.event_id, func.count(Outbox.id)).where(Outbox.kind == NOTICE_KIND).group_by(Outbox.event_id)
    ).all())
    events = session.scalars(select(Event).where(Event.state == event_review.APPROVED).order_by(Event.id))
    for event in events:
        if planned.get(event.id) or mentors_sent_same_form3(session, event):
            continue
        schedule = notice_schedule(event, config, calendar)
        if schedule is None:
            waiting.append(_line(event, None, NO_DAYS))
            continue
        window = schedule.window
        note = NO_FORM3 if attachable_form3(session, event) is None else ""
        if today > window.window_end:
            if today < window.first_day:
                missed.append(_line(event, window, note))
            continue
        if not note and today >= window.planned_send_date:
            note = NOT_PLANNED_YET
        waiting.append(_line(event, window, note))
    return waiting, missed


def _line(event: Event, window: NoticeWindow | None, note: str) -> EventLine:
    return EventLine(event.id, event_number(event), event.name or "（名称不明）", event.first_day,
                     window.planned_send_date if window else None, window.window_end if window else None, note)
