"""The daemon's scheduled jobs; each is idempotent and recomputes what is due.

Every job also runs once at start-up, so downtime is caught up without a persistent job
store. Jobs read the current time from :func:`mailflow.clock.now`, so a simulation moves
them with a frozen clock. Two daemons may run the same jobs: outbox keys make double
planning harmless, and the revocation step runs under a database lease.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailflow import clock
from mailflow.calendar import BusinessCalendar, load_calendar_rules
from mailflow.clock import TOKYO
from mailflow.config import Config
from mailflow.db.session import transaction
from mailflow.outbound.templates import Renderer
from mailflow.planning.digest import plan_staff_digest
from mailflow.planning.events import NoticeStats, plan_event_notices
from mailflow.planning.expiry import ExpiryStats, revoke_expired
from mailflow.planning.renewals import ReminderStats, cancel_void_reminders, plan_renewal_reminders
from mailflow.planning.schedule import RenewalRules, load_renewal_rules
from mailflow.scheduling import build_scheduler as build_tokyo_scheduler
from mailflow.scheduling import business_day_job, clocked_job, parse_time_of_day, weekday_trigger

if TYPE_CHECKING:
    from mailflow.app import App

logger = logging.getLogger(__name__)

# The expiry job runs just after midnight, so that a revocation made on the revocation
# day is in that morning's digest. The notice itself waits for the reminder send time.
EXPIRY_TIME = dt.time(0, 10)

# Attempts of a job whose database work failed with an OperationalError, and the pause
# before the second attempt in seconds (doubled for the third).
JOB_ATTEMPTS = 3
JOB_RETRY_SECONDS = 1.0

REMINDERS_JOB = "renewal_reminders"
EXPIRY_JOB = "registry_expiry"
DIGEST_JOB = "staff_digest"
PLAN_AND_SEND_JOB = "plan_and_send"
RETENTION_JOB = "retention_purge"
EVENTS_JOB = "event_notices"
EVENTS_INTERVAL_JOB = "event_notices_interval"
# Approval of an event inside its notice window leads to notices within this many minutes,
# also on the window's last day. The daily run at events.send_time keeps the planned time.
EVENTS_INTERVAL_MINUTES = 5
# Purges run at night, when staff are not reading the documents they remove.
RETENTION_TIME = dt.time(2, 30)


@dataclass
class JobContext:
    """Dependencies of the registry jobs: the config, a session factory, templates, calendar and rules.

    ``holder`` names this daemon in database leases.
    """

    config: Config
    sessions: sessionmaker[Session]
    renderer: Renderer
    calendar: BusinessCalendar
    renewal_rules: RenewalRules
    holder: str

    @classmethod
    def load(cls, config: Config, sessions: sessionmaker[Session], renderer: Renderer) -> JobContext:
        """Build the context, reading rules/calendar.toml and rules/renewal.toml.

        Raises RulesError when a rule file is invalid.
        """
        return cls(
            config=config,
            sessions=sessions,
            renderer=renderer,
            calendar=BusinessCalendar(load_calendar_rules(config.rules_dir)),
            renewal_rules=load_renewal_rules(config.rules_dir),
            holder=f"daemon-{uuid.uuid4().hex[:12]}",
        )


def run_reminders(context: JobContext, now: dt.datetime) -> ReminderStats:
    """Plan the renewal reminders due at ``now`` and cancel the ones now void."""
    with transaction(context.sessions) as session:
        return plan_renewal_reminders(session, context.config, context.renderer, context.calendar,
                                      context.renewal_rules, now)


def run_expiry(context: JobContext, now: dt.datetime) -> ExpiryStats:
    """Revoke the registrations that expired without a renewal; notices go out at the reminder time."""
    return revoke_expired(context.sessions, context.config, context.renderer, now, context.holder,
                          context.renewal_rules.send_time)


def run_digest(context: JobContext, now: dt.datetime) -> bool:
    """Plan today's staff digest once the digest time has come; return whether a row was planned.

    A start-up before the digest time leaves the digest to the scheduled run, so that the
    digest reports the state at the digest time. On a day that is not a business day
    (Tokyo) there is no digest, also when ``run --once`` calls this.
    """
    digest_time = parse_time_of_day(context.config.scheduler.digest_time)
    local = now.astimezone(TOKYO)
    if local.time() < digest_time or not context.calendar.is_business_day(local.date()):
        return False
    with transaction(context.sessions) as session:
        return plan_staff_digest(session, context.config, context.renderer, now) is not None


def run_event_notices(app: App, calendar: BusinessCalendar, now: dt.datetime) -> NoticeStats:
    """Plan the event notices due at ``now``: at start-up, daily at ``events.send_time`` and every EVENTS_INTERVAL_MINUTES minutes."""
    with transaction(app.sessions) as session:
        return plan_event_notices(session, app, calendar, now)


def add_event_jobs(scheduler: BackgroundScheduler, app: App, calendar: BusinessCalendar,
                   stopping: threading.Event) -> list[Job]:
    """Add the event notice planner to ``scheduler``: daily at ``events.send_time`` from start-up, and on an interval.

    The interval run plans the notices of an event approved after the send time, which
    the daily run would reach only the next day, or never on the window's last day.
    """
    planner = clocked_job(_guarded(EVENTS_JOB, stopping, lambda now: run_event_notices(app, calendar, now)))
    return [
        scheduler.add_job(planner, weekday_trigger(app.config.events.send_time, "*"), id=EVENTS_JOB, name=EVENTS_JOB,
                          next_run_time=clock.now(), replace_existing=True),
        scheduler.add_job(planner, "interval", minutes=EVENTS_INTERVAL_MINUTES, id=EVENTS_INTERVAL_JOB,
                          name=EVENTS_INTERVAL_JOB, replace_existing=True),
    ]


def run_send_guard(context: JobContext, now: dt.datetime) -> int:
    """Cancel pending reminders that must not go out any more; the daemon runs it before each send."""
    with transaction(context.sessions) as session:
        return cancel_void_reminders(session, now)


def add_registry_jobs(scheduler: BackgroundScheduler, context: JobContext, stopping: threading.Event) -> list[Job]:
    """Add the reminder, expiry and digest jobs to ``scheduler``, each also due once at start-up.

    Reminders run daily at the send time of rules/renewal.toml, expiry daily at
    EXPIRY_TIME and the digest at ``scheduler.digest_time`` on business days, all Asia/Tokyo.
    """
    start_up = clock.now()
    send_time = context.renewal_rules.send_time
    digest_time = parse_time_of_day(context.config.scheduler.digest_time)
    jobs = [
        (REMINDERS_JOB, clocked_job(_guarded(REMINDERS_JOB, stopping, lambda now: run_reminders(context, now))),
         weekday_trigger(send_time, "*")),
        (EXPIRY_JOB, clocked_job(_guarded(EXPIRY_JOB, stopping, lambda now: run_expiry(context, now))),
         weekday_trigger(EXPIRY_TIME, "*")),
        (DIGEST_JOB, business_day_job(_guarded(DIGEST_JOB, stopping, lambda now: run_digest(context, now)),
                                      context.calendar),
         weekday_trigger(digest_time, "mon-fri")),
    ]
    return [
        scheduler.add_job(func, trigger, id=job_id, name=job_id, next_run_time=start_up, replace_existing=True)
        for job_id, func, trigger in jobs
    ]


def _guarded(name: str, stopping: threading.Event, func: Callable[[dt.datetime], Any]) -> Callable[[dt.datetime], Any]:
    """Wrap ``func`` to do nothing once the daemon is stopping, and to log instead of raising.

    A database error such as SQLite's "database is locked", which a deferred transaction
    gets when another thread wrote first, is retried JOB_ATTEMPTS times in all. Any other
    error is logged, and the next run retries whatever failed, because every job
    recomputes what is due.
    """

    def run(now: dt.datetime) -> Any:
        for attempt in range(1, JOB_ATTEMPTS + 1):
            if stopping.is_set():
                return None
            try:
                return func(now)
            except OperationalError as exc:
                if attempt == JOB_ATTEMPTS:
                    logger.exception("job failed job=%s attempts=%d", name, attempt)
                    return None
                logger.warning("job retry job=%s attempt=%d error=%s", name, attempt, type(exc.orig).__name__)
                stopping.wait(JOB_RETRY_SECONDS * attempt)
            except Exception:
                logger.exception("job failed job=%s", name)
                return None
        return None

    run.__qualname__ = name
    return run


def run_registry_planners(app: App) -> None:
    """Run the reminder, event notice, expiry, digest, retention and send-guard planners once, at ``clock.now()``."""
    context = JobContext.load(app.config, app.sessions, app.renderer)
    now = clock.now()
    run_reminders(context, now)
    run_event_notices(app, context.calendar, now)
    run_expiry(context, now)
    run_digest(context, now)
    run_retention_job(app, now)
    run_send_guard(context, now)


def run_retention_job(app: App, now: dt.datetime) -> None:
    """Purge what the retention settings say is due; mailbox copies follow at the next sync."""
    from mailflow.privacy.retention import apply_retention

    report = apply_retention(app.sessions, app.config, app.store, app.key, now)
    logger.info("retention run documents=%d messages=%d failed=%d", len(report.purged_documents),
                len(report.purged_messages), len(report.failed_documents) + len(report.failed_messages))


def build_scheduler(app: App, stopping: threading.Event) -> BackgroundScheduler:
    """Return a scheduler (not started) with the planner, sender and registry jobs of ``app``."""
    scheduler = build_tokyo_scheduler()
    context = JobContext.load(app.config, app.sessions, app.renderer)

    def plan_and_send(now: dt.datetime) -> None:
        app.plan()
        run_send_guard(context, now)
        app.send()

    scheduler.add_job(
        clocked_job(_guarded(PLAN_AND_SEND_JOB, stopping, plan_and_send)),
        "interval",
        seconds=app.config.scheduler.sender_interval_seconds,
        id=PLAN_AND_SEND_JOB,
        name=PLAN_AND_SEND_JOB,
        next_run_time=clock.now(),
    )
    add_registry_jobs(scheduler, context, stopping)
    add_event_jobs(scheduler, app, context.calendar, stopping)
    scheduler.add_job(
        clocked_job(_guarded(RETENTION_JOB, stopping, lambda now: run_retention_job(app, now))),
        weekday_trigger(RETENTION_TIME, "*"), id=RETENTION_JOB, name=RETENTION_JOB, next_run_time=clock.now(),
    )
    return scheduler
