"""Plan renewal reminders: for each active mentor, the latest reminder that is due, once.

The reminder dates come from :func:`mailflow.planning.schedule.reminder_dates`. A run plans
only what is due at the time it runs, so a run after downtime plans just the latest missed
reminder, and the outbox key ``renewal-reminder:<mentor id>:<expires_on>:<offset>`` makes a
second run (or a second daemon) harmless.

A renewal application (a review item of kind ``renewal`` linked to the mentor) stops the
reminders while it is open or approved. When staff reject it, the reminders resume: a
reminder whose time fell while the application was open is skipped, and the next one goes out.
An open application counts only when it came from the mentor's registered address (or
from no mail at all); one from another address counts once staff approve it, because
anyone can write a mentor's registration number in a mail.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailflow.calendar import BusinessCalendar, format_japanese_date
from mailflow.clock import TOKYO, as_utc
from mailflow.config import Config
from mailflow.db.models import Mentor, Outbox, ReviewItem
from mailflow.intake.findings import DOCUMENT_LABELS, DOCUMENT_ROLES
from mailflow.outbound.compose import AUTO_GENERATED, Draft
from mailflow.outbound.outbox import enqueue
from mailflow.outbound.templates import Renderer
from mailflow.planning.schedule import Reminder, RenewalRules, due_reminder
from mailflow.registry.period import PeriodError, corresponding_day, renewal_deadline
from mailflow.review import states
from mailflow.review.items import same_address

logger = logging.getLogger(__name__)

REMINDER_KIND = "renewal_reminder"
REMINDER_TEMPLATE = "renewal_reminder"
RENEWAL_ITEM_KIND = "renewal"
ACTIVE = "active"

# Every registration period lasts at least three years, so a renewal application made
# earlier than three years before the expiry date belongs to an earlier period.
APPLICATION_LOOKBACK_YEARS = 3
# Candidates for a reminder expire within this many days: the largest offset allowed in
# renewal.toml (365), the two months from the deadline to the expiry date, and a margin
# for a reminder moved back over a run of closed days.
CANDIDATE_HORIZON_DAYS = 365 + 62 + 31


@dataclass
class ReminderStats:
    """Counts of one reminder run; ``planned`` counts rows that did not exist before."""

    planned: int = 0
    stopped_by_application: int = 0
    no_email: int = 0
    invalid_expiry: int = 0
    cancelled: int = 0


@dataclass(frozen=True)
class Application:
    """A renewal application as the reminders see it: when it was open and how it ended."""

    item_id: int
    state: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None

    @property
    def stops_reminders(self) -> bool:
        """Return whether the application stops all reminders: open or approved, not rejected."""
        return self.state != states.REJECTED

    def was_open_at(self, moment: dt.datetime) -> bool:
        """Return whether the application was open at ``moment``."""
        if moment < self.opened_at:
            return False
        return self.closed_at is None or moment < self.closed_at


def reminder_key(mentor_id: int, expires_on: dt.date, offset: int) -> str:
    """Return the outbox key of one reminder, e.g. "renewal-reminder:12:2027-03-31:30"."""
    return f"renewal-reminder:{mentor_id}:{expires_on.isoformat()}:{offset}"


def deadline_end(expires_on: dt.date) -> dt.datetime:
    """Return the first moment (Asia/Tokyo midnight) after the renewal deadline day of ``expires_on``."""
    return dt.datetime.combine(renewal_deadline(expires_on) + dt.timedelta(days=1), dt.time(0), tzinfo=TOKYO)


def applications_by_mentor(
    session: Session, mentor_ids: Iterable[int], since: dt.date
) -> dict[int, list[Application]]:
    """Return the renewal applications of ``mentor_ids`` opened on or after ``since`` (Tokyo date).

    An application from an address other than the mentor's registered one is left out
    until it is approved, so it neither stops reminders nor holds a revocation.
    """
    ids = sorted(set(mentor_ids))
    found: dict[int, list[Application]] = defaultdict(list)
    if not ids:
        return found
    since_at = dt.datetime.combine(since, dt.time(0), tzinfo=TOKYO)
    query = select(ReviewItem, Mentor.email).join(Mentor, Mentor.id == ReviewItem.mentor_id).where(
        ReviewItem.kind == RENEWAL_ITEM_KIND,
        ReviewItem.mentor_id.in_(ids),
        ReviewItem.created_at >= since_at,
    )
    for item, registered_email in session.execute(query.order_by(ReviewItem.id)).all():
        if not _from_mentor(item, registered_email):
            continue
        closed_at = None
        if item.state == states.REJECTED:
            # A rejection without a decision time counts from the item's last change.
            closed_at = as_utc(item.decided_at) or as_utc(item.updated_at)
        found[item.mentor_id].append(Application(item.id, item.state, as_utc(item.created_at), closed_at))
    return found


def _from_mentor(item: ReviewItem, registered_email: str | None) -> bool:
    """Tell whether a renewal item may speak for its mentor: approved, from no mail, or from the registered address."""
    if item.state == states.APPROVED or item.sender_address is None:
        return True
    return same_address(item.sender_address, registered_email)


def application_window_start(expires_on: dt.date) -> dt.date:
    """Return the first day on which a renewal application counts for the period ending ``expires_on``."""
    earlier = corresponding_day(expires_on, -APPLICATION_LOOKBACK_YEARS)
    if earlier is None:
        # Only 29 February lacks a corresponding day, so 28 February of that year is used instead.
        earlier = dt.date(expires_on.year - APPLICATION_LOOKBACK_YEARS, 2, 28)
    return earlier + dt.timedelta(days=1)


def plan_renewal_reminders(
    session: Session,
    config: Config,
    renderer: Renderer,
    calendar: BusinessCalendar,
    rules: RenewalRules,
    now: dt.datetime,
) -> ReminderStats:
    """Plan the reminder due at ``now`` for every active mentor, and cancel reminders now void.

    Each mentor gets at most one new outbox row per run, with kind ``renewal_reminder``,
    ``due_at`` at the reminder's send time and ``deadline_at`` at the end of the renewal
    deadline day. A mentor whose expiry date is not 31 March is skipped with a warning in
    the log. Returns the counts of what the run did.
    """
    stats = ReminderStats(cancelled=cancel_void_reminders(session, now))
    today = now.astimezone(TOKYO).date()
    mentors = list(session.scalars(
        select(Mentor)
        .where(
            Mentor.status == ACTIVE,
            Mentor.expires_on >= today,
            Mentor.expires_on <= today + dt.timedelta(days=CANDIDATE_HORIZON_DAYS),
        )
        .order_by(Mentor.id)
    ))
    # Every candidate expires today or later, so no window starts before this day.
    since = application_window_start(today)
    applications = applications_by_mentor(session, [mentor.id for mentor in mentors], since)
    for mentor in mentors:
        try:
            reminder = due_reminder(mentor.expires_on, rules, calendar, today)
        except PeriodError:
            stats.invalid_expiry += 1
            logger.warning("renewal reminder skipped mentor=%s reason=expiry_not_march_31", mentor.id)
            continue
        if reminder is None:
            continue
        if _stopped(applications.get(mentor.id, []), mentor.expires_on, reminder):
            stats.stopped_by_application += 1
            continue
        if not mentor.email:
            stats.no_email += 1
            # The same reminder stays due until the next one, so warn on its own day only.
            level = logging.WARNING if reminder.send_on == today else logging.DEBUG
            logger.log(level, "renewal reminder skipped mentor=%s offset=%d reason=no_email", mentor.id, reminder.offset)
            continue
        if _plan_one(session, config, renderer, mentor, reminder, today):
            stats.planned += 1
    logger.info(
        "renewal reminders planned=%d stopped=%d no_email=%d invalid_expiry=%d cancelled=%d",
        stats.planned, stats.stopped_by_application, stats.no_email, stats.invalid_expiry, stats.cancelled,
    )
    return stats


def for_period(applications: Iterable[Application], expires_on: dt.date | None) -> list[Application]:
    """Return the applications that renew the period ending ``expires_on``; all of them when it is None."""
    if expires_on is None:
        return list(applications)
    window_start = application_window_start(expires_on)
    return [a for a in applications if a.opened_at.astimezone(TOKYO).date() >= window_start]


def _stopped(applications: list[Application], expires_on: dt.date, reminder: Reminder) -> bool:
    """Return whether a renewal application for this period stops ``reminder``."""
    relevant = for_period(applications, expires_on)
    if any(application.stops_reminders for application in relevant):
        return True
    return any(application.was_open_at(reminder.send_at) for application in relevant)


def _plan_one(
    session: Session, config: Config, renderer: Renderer, mentor: Mentor, reminder: Reminder, today: dt.date
) -> bool:
    key = reminder_key(mentor.id, mentor.expires_on, reminder.offset)
    if session.scalar(select(Outbox.id).where(Outbox.key == key)) is not None:
        return False
    deadline = renewal_deadline(mentor.expires_on)
    subject, body = renderer.render(
        REMINDER_TEMPLATE,
        bureau=config.bureau,
        mentor=mentor,
        expires_on=format_japanese_date(mentor.expires_on),
        deadline=format_japanese_date(deadline),
        days_left=(deadline - today).days,
        documents=[DOCUMENT_LABELS[role] for role in DOCUMENT_ROLES],
        review_days=config.intake.review_days_renewal,
    )
    draft = Draft(key=key, to=[(mentor.name, mentor.email)], subject=subject, body=body,
                  auto_submitted=AUTO_GENERATED)
    enqueue(session, config, draft, REMINDER_KIND, mentor_id=mentor.id,
            due_at=reminder.send_at, deadline_at=deadline_end(mentor.expires_on))
    return True


def cancel_void_reminders(session: Session, now: dt.datetime) -> int:
    """Cancel pending reminders that must not go out any more; return how many were cancelled.

    A pending reminder is void once the end of its renewal deadline day has passed (its
    ``deadline_at``), once its mentor is no longer active, or once a renewal application
    for the mentor is open or approved. The daemon calls this before each send, so a
    reminder held back by SMTP retries or downtime is cancelled rather than sent late.
    """
    pending = list(session.scalars(
        select(Outbox).where(Outbox.kind == REMINDER_KIND, Outbox.status == "pending").order_by(Outbox.id)
    ))
    if not pending:
        return 0
    mentors = {
        mentor.id: mentor
        for mentor in session.scalars(select(Mentor).where(Mentor.id.in_({row.mentor_id for row in pending})))
    }
    # A pending reminder belongs to a period that has not expired yet, as above.
    since = application_window_start(now.astimezone(TOKYO).date())
    applications = applications_by_mentor(session, mentors, since)
    cancelled = 0
    for row in pending:
        reason = _void_reason(row, mentors.get(row.mentor_id), applications, now)
        if reason is not None:
            cancelled += _cancel(session, row.id, reason)
    return cancelled


def _void_reason(row: Outbox, mentor: Mentor | None, applications: dict[int, list[Application]],
                 now: dt.datetime) -> str | None:
    if row.deadline_at is not None and as_utc(row.deadline_at) <= now:
        return "renewal deadline passed"
    if mentor is None or mentor.status != ACTIVE:
        return "mentor no longer active"
    if any(a.stops_reminders for a in for_period(applications.get(mentor.id, []), mentor.expires_on)):
        return "renewal application received"
    return None


def stop_reminders(session: Session, mentor_id: int) -> int:
    """Cancel the pending reminders of ``mentor_id``, for the review stage to call when a renewal opens.

    Call it only for a renewal that counts for the mentor (see ``applications_by_mentor``),
    because the next run plans no reminder again once one is cancelled.

    Returns how many rows were cancelled. The next reminder run would cancel them as well;
    calling this closes the gap of up to one sender interval.
    """
    rows = session.scalars(
        select(Outbox.id).where(Outbox.kind == REMINDER_KIND, Outbox.status == "pending",
                                Outbox.mentor_id == mentor_id)
    ).all()
    return sum(_cancel(session, row_id, "renewal application received") for row_id in rows)


def _cancel(session: Session, row_id: int, reason: str) -> int:
    """Cancel one row if it is still pending; the status check keeps a row being sent safe."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.id == row_id, Outbox.status == "pending")
        .values(status="cancelled", last_error=reason)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        logger.info("renewal reminder cancelled outbox=%s reason=%s", row_id, reason.replace(" ", "_"))
    return result.rowcount or 0
