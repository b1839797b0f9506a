"""The registry jobs of the daemon: their triggers, the digest time and the retry on a locked database."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailflow import clock, jobs
from mailflow.clock import TOKYO
from mailflow.config import Config
from mailflow.db.models import Outbox
from mailflow.db.session import transaction
from mailflow.outbound.templates import Renderer
from mailflow.scheduling import build_scheduler, next_fire_times
from tests.planning.database import add_mentor, run_together

# From Friday 2027-04-30 12:00 the weekend follows, then the Golden Week holidays from
# Monday 05-03 (憲法記念日) to Wednesday 05-05 (こどもの日). So the first weekday 09:00
# trigger time is 05-03, which the business-day check skips at run time.
REFERENCE = dt.datetime(2027, 4, 30, 12, 0, tzinfo=TOKYO)


def tokyo(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TOKYO)


@pytest.fixture
def context(sessions: sessionmaker[Session], config: Config) -> jobs.JobContext:
    return jobs.JobContext.load(config, sessions, Renderer(config.templates_dir))


@pytest.fixture
def registry_jobs(context: jobs.JobContext):
    clock.set_now(REFERENCE)
    try:
        scheduler = build_scheduler()
        yield {job.id: job for job in jobs.add_registry_jobs(scheduler, context, threading.Event())}
    finally:
        clock.set_now(None)


def fire_times(job, count: int) -> list[str]:
    return [moment.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") for moment in next_fire_times(job.trigger, REFERENCE, count)]


def test_jobs_run_at_start_up(registry_jobs) -> None:
    assert {job_id: job.next_run_time for job_id, job in registry_jobs.items()} == {
        jobs.REMINDERS_JOB: REFERENCE, jobs.EXPIRY_JOB: REFERENCE, jobs.DIGEST_JOB: REFERENCE}


def test_reminder_job_daily(registry_jobs) -> None:
    assert fire_times(registry_jobs[jobs.REMINDERS_JOB], 3) == ["2027-05-01 09:00", "2027-05-02 09:00", "2027-05-03 09:00"]


def test_expiry_job_after_midnight(registry_jobs) -> None:
    assert fire_times(registry_jobs[jobs.EXPIRY_JOB], 2) == ["2027-05-01 00:10", "2027-05-02 00:10"]


def test_digest_job_weekdays(registry_jobs) -> None:
    assert fire_times(registry_jobs[jobs.DIGEST_JOB], 2) == ["2027-05-03 09:00", "2027-05-04 09:00"]


def test_digest_job_skips_holiday(registry_jobs, sessions) -> None:
    add_mentor(sessions, "MM-1", dt.date(2027, 3, 31))
    clock.set_now(tokyo("2027-05-03 09:00"))
    assert registry_jobs[jobs.DIGEST_JOB].func() is None


def test_digest_waits_for_its_time(context, sessions) -> None:
    add_mentor(sessions, "MM-1", dt.date(2027, 3, 31))
    assert jobs.run_digest(context, tokyo("2027-03-10 08:59")) is False


def test_digest_at_its_time(context, sessions) -> None:
    add_mentor(sessions, "MM-1", dt.date(2027, 3, 31))
    assert jobs.run_digest(context, tokyo("2027-03-10 09:00")) is True


@pytest.mark.parametrize("moment", ["2027-03-13 09:30", "2027-03-22 09:30"])
def test_digest_none_on_non_business_day(context, sessions, moment) -> None:
    # A Saturday, and Monday 22 March 2027, the substitute holiday for Vernal Equinox Day.
    add_mentor(sessions, "MM-1", dt.date(2027, 3, 31))
    assert jobs.run_digest(context, tokyo(moment)) is False


def test_locked_database_retried(monkeypatch) -> None:
    monkeypatch.setattr(jobs, "JOB_RETRY_SECONDS", 0)
    failures = [OperationalError("BEGIN", {}, Exception("database is locked"))] * 2

    def flaky(now: dt.datetime) -> str:
        if failures:
            raise failures.pop()
        return "done"

    guarded = jobs._guarded("flaky", threading.Event(), flaky)
    assert guarded(REFERENCE) == "done"


def test_stopping_daemon_skips_job() -> None:
    stopping = threading.Event()
    stopping.set()
    guarded = jobs._guarded("never", stopping, lambda now: "ran")
    assert guarded(REFERENCE) is None


def test_two_daemons_plan_once(sessions, config, monkeypatch) -> None:
    monkeypatch.setattr(jobs, "JOB_RETRY_SECONDS", 0)
    mentors = [add_mentor(sessions, f"MM-{index}", dt.date(2027, 3, 31)) for index in range(10)]
    contexts = [jobs.JobContext.load(config, sessions, Renderer(config.templates_dir)) for _ in range(2)]
    guarded = [jobs._guarded("reminders", threading.Event(), lambda now, c=context: jobs.run_reminders(c, now))
               for context in contexts]
    run_together(*[lambda job=job: job(tokyo("2026-11-02 09:00")) for job in guarded])
    with transaction(sessions) as session:
        planned = session.scalars(select(Outbox.mentor_id).order_by(Outbox.mentor_id)).all()
    assert planned == mentors


@pytest.fixture
def event_jobs(context: jobs.JobContext, tmp_path):
    from mailflow.app import App

    context.config.database.url = f"sqlite:///{tmp_path / 'events.db'}"
    clock.set_now(REFERENCE)
    try:
        scheduler = build_scheduler()
        app = App(context.config)
        yield {job.id: job for job in jobs.add_event_jobs(scheduler, app, context.calendar, threading.Event())}
    finally:
        clock.set_now(None)


def test_event_job_daily_from_start_up(event_jobs) -> None:
    job = event_jobs[jobs.EVENTS_JOB]
    assert job.next_run_time == REFERENCE
    assert fire_times(job, 2) == ["2027-05-01 09:00", "2027-05-02 09:00"]


def test_event_job_on_interval(event_jobs) -> None:
    # The interval counts from the real time the job was added, so only the spacing is fixed.
    times = next_fire_times(event_jobs[jobs.EVENTS_INTERVAL_JOB].trigger, REFERENCE, 3)
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert gaps == [dt.timedelta(minutes=jobs.EVENTS_INTERVAL_MINUTES)] * 2
