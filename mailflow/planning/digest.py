"""Plan the staff digest: one mail a business day listing what waits for staff.

The digest lists open review items with their age against the review target (overdue
first), items needing attention, expired mentors whose revocation is held, registrations
ending this month, failed mailings, quarantined messages and the mentors revoked since the
previous digest. It also lists approved events whose notices wait for their send date,
and events whose notice window ended with no notice planned. A day with nothing to
report gets no digest. The key ``staff-digest:<date>`` keeps it to one a day.
"""

from __future__ import annotations

import calendar as month_calendar
import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.calendar import format_japanese_date
from mailflow.clock import TOKYO, as_utc
from mailflow.config import Config
from mailflow.db.models import InboundMessage, Mentor, MentorHistory, Outbox, ReviewItem
from mailflow.outbound.compose import AUTO_GENERATED, Draft
from mailflow.outbound.outbox import enqueue
from mailflow.outbound.templates import Renderer
from mailflow.planning.events import EventLine, digest_lines
from mailflow.planning.expiry import HOLD_RENEWAL_APPROVED, REVOKED, held_revocations
from mailflow.planning.renewals import ACTIVE, applications_by_mentor, application_window_start, for_period
from mailflow.registry.mentors import reason_wording
from mailflow.review import events as event_review
from mailflow.review import states
from mailflow.review.mailings import KIND_LABELS

logger = logging.getLogger(__name__)

DIGEST_KIND = "staff_digest"
DIGEST_TEMPLATE = "staff_digest"
# Failed mailings stay in the digest for this many days after they were planned, so staff
# see each failure on several days without the list growing for ever.
FAILED_LOOKBACK_DAYS = 30
# With no earlier digest, revocations of this many days back are listed.
FIRST_DIGEST_LOOKBACK_DAYS = 30


@dataclass(frozen=True)
class WaitingItem:
    """An open review item; ``since`` is the day all documents were in, or the day it arrived."""

    number: str
    kind: str
    state: str
    since: dt.date
    age_days: int
    target_days: int | None
    complete: bool

    @property
    def overdue_days(self) -> int:
        """Return the days past the review target; 0 when within it or without one."""
        if self.target_days is None or not self.complete:
            return 0
        return max(0, self.age_days - self.target_days)


@dataclass(frozen=True)
class MentorLine:
    """A mentor as the digest names one, with a note such as 「更新申請中」."""

    mentor_id: int
    registration_number: str | None
    name: str
    expires_on: dt.date | None
    note: str = ""


@dataclass(frozen=True)
class FailedMail:
    """A mailing the sender gave up on."""

    outbox_id: int
    kind: str
    planned_on: dt.date
    smtp_code: int | None
    error: str


@dataclass(frozen=True)
class QuarantinedMessage:
    """A received message set aside for a person."""

    inbound_id: int
    received_on: dt.date
    reason: str


@dataclass(frozen=True)
class UnfiledMessage:
    """A message filed under no item: not an application, notice or question (advertising,
    a thank-you, a stray reply). Listed so that a person sees every message once."""

    inbound_id: int
    received_on: dt.date
    sender: str
    subject: str


@dataclass
class Digest:
    """Everything one digest reports; each list is in the order the mail shows it."""

    day: dt.date
    waiting: list[WaitingItem] = field(default_factory=list)
    attention: list[WaitingItem] = field(default_factory=list)
    held: list[MentorLine] = field(default_factory=list)
    ending: list[MentorLine] = field(default_factory=list)
    failed: list[FailedMail] = field(default_factory=list)
    quarantined: list[QuarantinedMessage] = field(default_factory=list)
    revoked: list[MentorLine] = field(default_factory=list)
    unfiled: list[UnfiledMessage] = field(default_factory=list)
    events_waiting: list[EventLine] = field(default_factory=list)
    events_missed: list[EventLine] = field(default_factory=list)

    def is_empty(self) -> bool:
        """Return whether there is nothing to report."""
        return not (self.waiting or self.attention or self.held or self.ending or self.failed
                    or self.quarantined or self.revoked or self.unfiled or self.events_waiting
                    or self.events_missed)


def digest_key(day: dt.date) -> str:
    """Return the outbox key of the digest for ``day``, e.g. "staff-digest:2027-01-29"."""
    return f"staff-digest:{day.isoformat()}"


def plan_staff_digest(session: Session, config: Config, renderer: Renderer, now: dt.datetime) -> Outbox | None:
    """Plan today's digest to ``config.notify_addresses``, due at once; return its row or None.

    Returns None when today's digest exists already, when no staff address is configured
    and when there is nothing to report. Whether today is a business day and the digest
    time has come is for the caller (the scheduled job) to decide.
    """
    today = now.astimezone(TOKYO).date()
    key = digest_key(today)
    if session.scalar(select(Outbox.id).where(Outbox.key == key)) is not None:
        return None
    recipients = config.notify_addresses
    if not recipients:
        logger.warning("staff digest skipped reason=no_notify_address")
        return None
    digest = collect_digest(session, config, now, previous_digest_at(session, now))
    if digest.is_empty():
        logger.info("staff digest skipped date=%s reason=nothing_to_report", today.isoformat())
        return None
    subject, body = renderer.render(DIGEST_TEMPLATE, bureau=config.bureau, digest=digest,
                                    day=format_japanese_date(today), kind_labels=KIND_LABELS,
                                    state_labels=states.LABELS, japanese_date=format_japanese_date)
    draft = Draft(key=key, to=[("", address) for address in recipients], subject=subject, body=body,
                  auto_submitted=AUTO_GENERATED)
    row = enqueue(session, config, draft, DIGEST_KIND, due_at=now)
    logger.info("staff digest planned date=%s waiting=%d attention=%d revoked=%d", today.isoformat(),
                len(digest.waiting), len(digest.attention), len(digest.revoked))
    return row


def previous_digest_at(session: Session, now: dt.datetime) -> dt.datetime:
    """Return when the last digest before today was planned, or a lookback when there was none."""
    today_key = digest_key(now.astimezone(TOKYO).date())
    last = session.scalar(
        select(Outbox.created_at)
        .where(Outbox.kind == DIGEST_KIND, Outbox.key != today_key, Outbox.created_at <= now)
        .order_by(Outbox.created_at.desc())
        .limit(1)
    )
    return as_utc(last) if last is not None else now - dt.timedelta(days=FIRST_DIGEST_LOOKBACK_DAYS)


def collect_digest(session: Session, config: Config, now: dt.datetime, since: dt.datetime) -> Digest:
    """Gather the digest's contents at ``now``; revocations count from ``since``."""
    today = now.astimezone(TOKYO).date()
    digest = Digest(day=today)
    open_items = session.scalars(
        select(ReviewItem).where(ReviewItem.state.in_(sorted(states.OPEN))).order_by(ReviewItem.id)
    )
    for item in open_items:
        line = _waiting_item(config, item, today)
        target = digest.attention if item.state == states.NEEDS_ATTENTION else digest.waiting
        target.append(line)
    digest.waiting.sort(key=lambda line: (-line.overdue_days, not line.complete, -line.age_days))
    digest.attention.sort(key=lambda line: -line.age_days)
    digest.held = _held_mentors(session, today)
    digest.ending = _ending_this_month(session, today)
    digest.failed = _failed_mail(session, now)
    digest.quarantined = [
        QuarantinedMessage(row.id, _tokyo_date(row.received_at), row.error or "")
        for row in session.scalars(
            select(InboundMessage).where(InboundMessage.state == "quarantined").order_by(InboundMessage.id)
        )
    ]
    digest.revoked = _revoked_since(session, since, now)
    digest.events_waiting, digest.events_missed = digest_lines(session, config, event_review.load_calendar(config),
                                                               today)
    digest.unfiled = [
        UnfiledMessage(row.id, _tokyo_date(row.received_at), row.sender_address or "", (row.subject or "")[:80])
        for row in session.scalars(
            select(InboundMessage)
            .where(InboundMessage.state == "processed", InboundMessage.item_id.is_(None),
                   InboundMessage.kind.not_in(("staff_reply", "challenge_list")),
                   InboundMessage.received_at > since, InboundMessage.received_at <= now)
            .order_by(InboundMessage.id)
        )
    ]
    return digest


def _waiting_item(config: Config, item: ReviewItem, today: dt.date) -> WaitingItem:
    complete_at = as_utc(item.complete_at)
    since = _tokyo_date(complete_at or item.created_at)
    target = None
    if item.kind == "registration":
        target = config.intake.review_days_registration
    elif item.kind == "renewal":
        target = config.intake.review_days_renewal
    return WaitingItem(
        number=item.number or str(item.id),
        kind=item.kind,
        state=item.state,
        since=since,
        age_days=(today - since).days,
        target_days=target,
        complete=complete_at is not None,
    )


def _held_mentors(session: Session, today: dt.date) -> list[MentorLine]:
    held = held_revocations(session, today)
    mentors = {m.id: m for m in session.scalars(select(Mentor).where(Mentor.id.in_([h.mentor_id for h in held])))}
    notes = {
        HOLD_RENEWAL_APPROVED: "更新は承認済みですが、登録簿の満了日が更新されていません",
    }
    default_note = "満了日を過ぎましたが、更新申請の審査中のため登録を取り消していません"
    return [_mentor_line(mentors[h.mentor_id], notes.get(h.reason, default_note)) for h in held]


def _ending_this_month(session: Session, today: dt.date) -> list[MentorLine]:
    first = today.replace(day=1)
    last = today.replace(day=month_calendar.monthrange(today.year, today.month)[1])
    mentors = list(session.scalars(
        select(Mentor)
        .where(Mentor.status == ACTIVE, Mentor.expires_on >= first, Mentor.expires_on <= last)
        .order_by(Mentor.expires_on, Mentor.id)
    ))
    if not mentors:
        return []
    applications = applications_by_mentor(session, [m.id for m in mentors], application_window_start(first))
    lines = []
    for mentor in mentors:
        relevant = for_period(applications.get(mentor.id, []), mentor.expires_on)
        note = "更新申請なし"
        if any(a.state == states.APPROVED for a in relevant):
            note = "更新承認済み"
        elif any(a.stops_reminders for a in relevant):
            note = "更新申請の審査中"
        lines.append(_mentor_line(mentor, note))
    return lines


def _failed_mail(session: Session, now: dt.datetime) -> list[FailedMail]:
    rows = session.scalars(
        select(Outbox)
        .where(Outbox.status == "failed", Outbox.created_at >= now - dt.timedelta(days=FAILED_LOOKBACK_DAYS))
        .order_by(Outbox.id)
    )
    return [
        FailedMail(row.id, row.kind, _tokyo_date(row.created_at), row.smtp_code, (row.last_error or "")[:200])
        for row in rows
    ]


def _revoked_since(session: Session, since: dt.datetime, now: dt.datetime) -> list[MentorLine]:
    """Return the mentors revoked after ``since``, at expiry or by staff, from their history rows."""
    entries = list(session.scalars(
        select(MentorHistory)
        .where(MentorHistory.action == REVOKED, MentorHistory.at > since, MentorHistory.at <= now)
        .order_by(MentorHistory.at, MentorHistory.id)
    ))
    mentors = {m.id: m for m in session.scalars(select(Mentor).where(Mentor.id.in_([e.mentor_id for e in entries])))}
    lines = []
    for entry in entries:
        reason = ((entry.changes or {}).get("status_reason") or {}).get("new")
        lines.append(_mentor_line(mentors[entry.mentor_id], reason_wording(reason)))
    return lines


def _mentor_line(mentor: Mentor, note: str) -> MentorLine:
    return MentorLine(mentor.id, mentor.registration_number, mentor.name, mentor.expires_on, note)


def _tokyo_date(moment: dt.datetime) -> dt.date:
    return as_utc(moment).astimezone(TOKYO).date()
