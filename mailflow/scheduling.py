"""APScheduler 3 building blocks: a Tokyo-time scheduler, weekday triggers and business-day jobs.

Three traps of APScheduler 3.x shape this module. A trigger built without a timezone uses
the host's (UTC in most containers), so every trigger here gets Asia/Tokyo. The default
misfire grace time of 1 second drops a run that was due while the process was suspended or
busy. And CronTrigger numbers weekdays from Monday = 0, so crontab's ``1-5`` means Tuesday to
Saturday: weekdays are therefore written as names (``mon-fri``) and numbers are rejected.
Cron cannot know national holidays, so jobs that must run only on business days are wrapped
with :func:`business_day_job`, which checks the calendar at run time.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Callable
from typing import TypeVar

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from mailflow import clock
from mailflow.calendar import MAX_SEARCH_DAYS, BusinessCalendar
from mailflow.clock import TOKYO
from mailflow.errors import MailflowError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Size of the job thread pool: one thread each for the planner, sender and digest jobs,
# and one spare.
DEFAULT_MAX_WORKERS = 4
# None removes the limit, so a run that is late by any amount still happens, and coalescing
# makes several missed runs one. A late run is harmless because mailflow's jobs plan only
# what is due at the time they run.
DEFAULT_MISFIRE_GRACE_SECONDS: int | None = None

_DAY_NAME = r"(mon|tue|wed|thu|fri|sat|sun)"
_DAY_OF_WEEK_ITEM = re.compile(rf"(\*|{_DAY_NAME}(-{_DAY_NAME})?)(/\d+)?")
_TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class SchedulingError(MailflowError):
    """A trigger or job definition is invalid; the message names the value and the fix."""


def build_scheduler(
    *,
    max_workers: int = DEFAULT_MAX_WORKERS,
    misfire_grace_seconds: int | None = DEFAULT_MISFIRE_GRACE_SECONDS,
) -> BackgroundScheduler:
    """Return a BackgroundScheduler (not started) that runs in Asia/Tokyo whatever the host's zone.

    Jobs live in an in-memory job store, because APScheduler 3 job stores must not be shared
    between schedulers and every daemon re-adds its jobs at start-up. The job defaults are
    ``coalesce=True`` and ``misfire_grace_time=misfire_grace_seconds``, so a run missed
    during downtime or a stall is caught up exactly once. ``max_instances=1`` keeps the next
    run from starting while a slow one is still going.
    """
    return BackgroundScheduler(
        timezone=TOKYO,
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers)},
        job_defaults={
            "coalesce": True,
            "misfire_grace_time": misfire_grace_seconds,
            "max_instances": 1,
        },
    )


def parse_time_of_day(value: str | dt.time) -> dt.time:
    """Return ``value`` ("09:00" or a naive time) as a time; raise SchedulingError when invalid."""
    if isinstance(value, dt.time) and value.tzinfo is None:
        return value
    match = _TIME_OF_DAY.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise SchedulingError(f"時刻 {value!r} は HH:MM の形（例 09:00）で指定してください", value=repr(value))
    return dt.time(int(match.group(1)), int(match.group(2)))


def check_day_of_week(day_of_week: str) -> str:
    """Return ``day_of_week`` if it uses day names only; raise SchedulingError otherwise.

    Accepted: ``*``, names, ranges and lists of them, with an optional step, e.g.
    ``mon-fri``, ``sat,sun``, ``mon,wed-fri``. Numbers are rejected, because APScheduler 3
    counts Monday as 0 where crontab counts Sunday as 0.
    """
    items = day_of_week.lower().split(",")
    if not all(_DAY_OF_WEEK_ITEM.fullmatch(item) for item in items):
        raise SchedulingError(
            f"曜日 {day_of_week!r} は曜日名（例 mon-fri、sat,sun）で指定してください。"
            "APScheduler 3 は月曜を 0 と数えるため、crontab の数字（1-5）は火曜から土曜になります",
            day_of_week=day_of_week,
        )
    return day_of_week.lower()


def weekday_trigger(at: str | dt.time, day_of_week: str = "mon-fri") -> CronTrigger:
    """Return a cron trigger that fires at ``at`` Asia/Tokyo time on the named weekdays.

    Raises SchedulingError for a bad time or a numeric weekday.
    """
    time_of_day = parse_time_of_day(at)
    return CronTrigger(
        day_of_week=check_day_of_week(day_of_week),
        hour=time_of_day.hour,
        minute=time_of_day.minute,
        second=time_of_day.second,
        timezone=TOKYO,
    )


def crontab_trigger(expression: str) -> CronTrigger:
    """Return a trigger for a five-field crontab ``expression``, in Asia/Tokyo time.

    The day-of-week field must use names (``0 9 * * mon-fri``). Raises SchedulingError for a
    wrong number of fields, a numeric weekday or a field APScheduler rejects.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise SchedulingError(
            f"crontab 式 {expression!r} は 5 項目（分 時 日 月 曜日）で指定してください", expression=expression
        )
    check_day_of_week(fields[4])
    try:
        return CronTrigger.from_crontab(expression.lower(), timezone=TOKYO)
    except ValueError as exc:
        raise SchedulingError(f"crontab 式 {expression!r} が不正です: {exc}", expression=expression) from exc


def clocked_job(func: Callable[[dt.datetime], T]) -> Callable[[], T]:
    """Wrap ``func`` so that each run receives the current time from :func:`mailflow.clock.now`.

    The scheduler fires on the real clock, but the job reads the time the simulation set,
    so a frozen clock decides what is due.
    """

    @functools.wraps(func)
    def run() -> T:
        return func(clock.now())

    return run


def business_day_job(func: Callable[[dt.datetime], T], calendar: BusinessCalendar) -> Callable[[], T | None]:
    """Wrap ``func`` so that it runs only when today (Asia/Tokyo, from the clock) is a business day.

    On other days the wrapper logs the skip and returns None. A run is judged by the day it
    actually runs: a Friday run caught up after midnight counts as Saturday and is skipped,
    which is safe because the next business-day run plans whatever is still due.
    """
    name = getattr(func, "__qualname__", repr(func))

    @functools.wraps(func)
    def run() -> T | None:
        now = clock.now()
        today = now.astimezone(TOKYO).date()
        if not calendar.is_business_day(today):
            logger.info("job skipped: job=%s date=%s reason=non_business_day", name, today.isoformat())
            return None
        return func(now)

    return run


def add_business_day_job(
    scheduler: BackgroundScheduler,
    func: Callable[[dt.datetime], object],
    calendar: BusinessCalendar,
    *,
    job_id: str,
    at: str | dt.time,
    day_of_week: str = "mon-fri",
) -> Job:
    """Add ``func`` to run at ``at`` Asia/Tokyo on business days, replacing a job with ``job_id``."""
    return scheduler.add_job(
        business_day_job(func, calendar),
        weekday_trigger(at, day_of_week),
        id=job_id,
        name=job_id,
        replace_existing=True,
    )


def next_fire_times(trigger: BaseTrigger, after: dt.datetime, count: int) -> list[dt.datetime]:
    """Return the next ``count`` fire times of ``trigger`` at or after the aware ``after``."""
    times: list[dt.datetime] = []
    previous: dt.datetime | None = None
    now = after
    while len(times) < count:
        fire_time = trigger.get_next_fire_time(previous, now)
        if fire_time is None:
            break
        times.append(fire_time)
        previous = fire_time
        now = fire_time + dt.timedelta(microseconds=1)
    return times


def next_business_fire_time(trigger: BaseTrigger, calendar: BusinessCalendar, after: dt.datetime) -> dt.datetime:
    """Return the first fire time at or after ``after`` on which a business-day job does work.

    For example from Friday 2024-04-26 12:00 a ``mon-fri`` 09:00 trigger next fires on
    Monday 2024-04-29, 昭和の日, so this returns Tuesday 2024-04-30 09:00. Raises
    SchedulingError when the trigger has no fire time on a business day within
    MAX_SEARCH_DAYS days.
    """
    limit = after + dt.timedelta(days=MAX_SEARCH_DAYS)
    now = after
    while True:
        fire_time = trigger.get_next_fire_time(None, now)
        if fire_time is None or fire_time > limit:
            break
        day = fire_time.astimezone(TOKYO).date()
        if calendar.is_business_day(day):
            return fire_time
        # Skip the rest of a closed day at once, so a trigger that fires every minute costs
        # one step per day, not one per minute.
        now = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=TOKYO)
    raise SchedulingError(
        f"{after.isoformat()} から {MAX_SEARCH_DAYS} 日以内に、営業日の実行予定がありません。"
        "曜日の指定と rules/calendar.toml を確認してください",
        after=after.isoformat(),
    )
