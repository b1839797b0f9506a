"""Revoke registrations that expired without a renewal (reason ``not_renewed``) and notify the mentor.

The revocation day is the day after the expiry date. On that day, or on the first run after
it, an active mentor whose period has expired is revoked. The registry row changes status,
and a MentorHistory row and an AuditEntry record the change. Pending mail to the mentor is
cancelled, and a revocation notice is planned (key ``revocation-notice:<mentor id>:<expires_on>``).

An open renewal application puts the revocation on hold: the application was made in time, or
staff took it in late, and their decision settles the matter. A rejection lets the next
run revoke. An approved renewal whose new period is not yet in the registry also holds it.
The staff digest lists every held mentor.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailflow.calendar import format_japanese_date
from mailflow.clock import TOKYO, as_utc
from mailflow.config import Config
from mailflow.db.models import AuditEntry, Lease, Mentor, MentorHistory
from mailflow.db.session import transaction
from mailflow.outbound.compose import AUTO_GENERATED, Draft
from mailflow.outbound.outbox import cancel_pending, enqueue
from mailflow.outbound.templates import Renderer
from mailflow.planning.renewals import (
    ACTIVE,
    Application,
    application_window_start,
    applications_by_mentor,
    for_period,
)
from mailflow.planning.schedule import revocation_date
from mailflow.review import states

logger = logging.getLogger(__name__)

REVOKED = "revoked"
NOT_RENEWED = "not_renewed"
# Audit action and channel of a revocation, as staff revocations are audited too.
AUDIT_ACTION = "revoke"
AUDIT_CHANNEL = "expiry"
NOTICE_KIND = "revocation_notice"
NOTICE_TEMPLATE = "revocation_notice"
ACTOR = "mailflow"

LEASE_NAME = "registry-expiry"
# Longer than any revocation run; a daemon that dies holding the lease frees it after this.
LEASE_SECONDS = 600

HOLD_RENEWAL_OPEN = "renewal_open"
HOLD_RENEWAL_APPROVED = "renewal_approved"


@dataclass
class ExpiryStats:
    """Mentor ids of one expiry run by outcome; ``locked`` is True when another daemon held the lease."""

    revoked: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    locked: bool = False


@dataclass(frozen=True)
class HeldRevocation:
    """An expired mentor left active, and why: ``renewal_open`` or ``renewal_approved``."""

    mentor_id: int
    expires_on: dt.date
    reason: str


def notice_key(mentor_id: int, expires_on: dt.date) -> str:
    """Return the outbox key of a revocation notice, e.g. "revocation-notice:12:2027-03-31"."""
    return f"revocation-notice:{mentor_id}:{expires_on.isoformat()}"


def acquire_lease(sessions: sessionmaker[Session], name: str, holder: str, now: dt.datetime,
                  seconds: int = LEASE_SECONDS) -> bool:
    """Take the lease ``name`` for ``holder`` until ``now + seconds``; return False if another holds it.

    A lease whose time has run out is taken over. Two daemons racing for a free lease both
    insert the row, and the database's primary key lets only one of them commit.
    """
    try:
        with transaction(sessions) as session:
            lease = session.get(Lease, name, with_for_update=True)
            until = now + dt.timedelta(seconds=seconds)
            if lease is None:
                session.add(Lease(name=name, holder=holder, expires_at=until))
            elif lease.holder == holder or as_utc(lease.expires_at) <= now:
                lease.holder = holder
                lease.expires_at = until
            else:
                return False
    except (IntegrityError, OperationalError):
        logger.info("lease busy name=%s", name)
        return False
    return True


def release_lease(sessions: sessionmaker[Session], name: str, holder: str) -> None:
    """Give up the lease ``name`` if ``holder`` still holds it."""
    with transaction(sessions) as session:
        lease = session.get(Lease, name, with_for_update=True)
        if lease is not None and lease.holder == holder:
            session.delete(lease)


def expired_mentor_ids(session: Session, today: dt.date) -> list[int]:
    """Return the ids of active mentors whose revocation day (expiry + 1) is ``today`` or earlier."""
    return list(session.scalars(
        select(Mentor.id)
        .where(Mentor.status == ACTIVE, Mentor.expires_on < today)
        .order_by(Mentor.id)
    ))


def held_revocations(session: Session, today: dt.date) -> list[HeldRevocation]:
    """Return the expired mentors that a renewal application keeps active, for the staff digest."""
    mentors = list(session.scalars(
        select(Mentor).where(Mentor.status == ACTIVE, Mentor.expires_on < today).order_by(Mentor.id)
    ))
    if not mentors:
        return []
    earliest = min(application_window_start(mentor.expires_on) for mentor in mentors)
    applications = applications_by_mentor(session, [mentor.id for mentor in mentors], earliest)
    held = []
    for mentor in mentors:
        reason = _hold_reason(applications.get(mentor.id, []), mentor.expires_on)
        if reason is not None:
            held.append(HeldRevocation(mentor.id, mentor.expires_on, reason))
    return held


def _hold_reason(applications: list[Application], expires_on: dt.date) -> str | None:
    relevant = for_period(applications, expires_on)
    if any(application.state == states.APPROVED for application in relevant):
        return HOLD_RENEWAL_APPROVED
    if any(application.stops_reminders for application in relevant):
        return HOLD_RENEWAL_OPEN
    return None


def revoke_expired(
    sessions: sessionmaker[Session],
    config: Config,
    renderer: Renderer,
    now: dt.datetime,
    holder: str,
    notice_time: dt.time,
) -> ExpiryStats:
    """Revoke every active mentor whose period expired before today without a renewal.

    Runs under the ``registry-expiry`` lease so that one daemon at a time does the work,
    and each mentor in its own transaction so that one failure leaves the others done. The
    notice is due at ``notice_time`` (Asia/Tokyo) on the day of the run, or at once when
    that time has passed. Returns what was revoked, held and failed, by mentor id.
    """
    stats = ExpiryStats()
    if not acquire_lease(sessions, LEASE_NAME, holder, now):
        stats.locked = True
        logger.info("expiry run skipped reason=lease_held_elsewhere")
        return stats
    try:
        today = now.astimezone(TOKYO).date()
        with transaction(sessions) as session:
            candidates = expired_mentor_ids(session, today)
        notice_at = max(now, dt.datetime.combine(today, notice_time, tzinfo=TOKYO))
        for mentor_id in candidates:
            try:
                with transaction(sessions) as session:
                    outcome = _revoke_one(session, config, renderer, mentor_id, now, notice_at)
            except Exception:
                # The mentor stays active and the next run tries again.
                logger.exception("revocation failed mentor=%s", mentor_id)
                stats.failed.append(mentor_id)
                continue
            if outcome == REVOKED:
                stats.revoked.append(mentor_id)
            elif outcome is not None:
                stats.held.append(mentor_id)
    finally:
        release_lease(sessions, LEASE_NAME, holder)
    logger.info("expiry run revoked=%d held=%d failed=%d", len(stats.revoked), len(stats.held), len(stats.failed))
    return stats


def _revoke_one(session: Session, config: Config, renderer: Renderer, mentor_id: int,
                now: dt.datetime, notice_at: dt.datetime) -> str | None:
    """Revoke one mentor; return "revoked", a hold reason, or None when another run got there first."""
    # FOR UPDATE SKIP LOCKED on PostgreSQL: a mentor another daemon is revoking is left to
    # it. SQLite has no row locks and serialises writers instead.
    mentor = session.scalars(
        select(Mentor).where(Mentor.id == mentor_id, Mentor.status == ACTIVE).with_for_update(skip_locked=True)
    ).one_or_none()
    if mentor is None or mentor.expires_on is None:
        return None
    applications = applications_by_mentor(session, [mentor.id], application_window_start(mentor.expires_on))
    hold = _hold_reason(applications.get(mentor.id, []), mentor.expires_on)
    if hold is not None:
        logger.info("revocation held mentor=%s reason=%s", mentor.id, hold)
        return hold

    expires_on = mentor.expires_on
    old_reason = mentor.status_reason
    changed = session.execute(
        update(Mentor)
        .where(Mentor.id == mentor.id, Mentor.status == ACTIVE, Mentor.expires_on == expires_on)
        .values(status=REVOKED, status_reason=NOT_RENEWED, status_changed_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if changed != 1:
        return None
    effective_on = revocation_date(expires_on)
    # The same history row as a revocation by staff (registry.mentors.end_registration).
    session.add(MentorHistory(
        mentor_id=mentor.id, at=now, actor=ACTOR, action=REVOKED,
        changes={"status": {"old": ACTIVE, "new": REVOKED},
                 "status_reason": {"old": old_reason, "new": NOT_RENEWED}},
    ))
    session.add(AuditEntry(
        mentor_id=mentor.id, at=now, actor=ACTOR, action=AUDIT_ACTION,
        detail={"channel": AUDIT_CHANNEL, "reason": NOT_RENEWED, "expires_on": expires_on.isoformat(),
                "effective_on": effective_on.isoformat()},
    ))
    cancelled = cancel_pending(session, "registration revoked", mentor_id=mentor.id)
    _plan_notice(session, config, renderer, mentor, expires_on, notice_at)
    logger.info("mentor revoked mentor=%s reason=%s cancelled_mail=%d", mentor.id, NOT_RENEWED, cancelled)
    return REVOKED


def _plan_notice(session: Session, config: Config, renderer: Renderer, mentor: Mentor,
                 expires_on: dt.date, notice_at: dt.datetime) -> None:
    if not mentor.email:
        logger.warning("revocation notice skipped mentor=%s reason=no_email", mentor.id)
        return
    subject, body = renderer.render(
        NOTICE_TEMPLATE,
        bureau=config.bureau,
        mentor=mentor,
        expires_on=format_japanese_date(expires_on),
        effective_on=format_japanese_date(revocation_date(expires_on)),
    )
    draft = Draft(key=notice_key(mentor.id, expires_on), to=[(mentor.name, mentor.email)],
                  subject=subject, body=body, auto_submitted=AUTO_GENERATED)
    enqueue(session, config, draft, NOTICE_KIND, mentor_id=mentor.id, due_at=notice_at)
