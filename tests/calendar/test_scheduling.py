"""Tests of the APScheduler helpers: scheduler settings, triggers and the clocked job wrappers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from mailflow import clock
from mailflow.calendar import BusinessCalendar, CalendarRules
from mailflow.clock import TOKYO
from mailflow.scheduling import (
    SchedulingError,
    add_business_day_job,
    build_scheduler,
    business_day_job,
    check_day_of_week,
    clocked_job,
    crontab_trigger,
    next_business_fire_time,
    next_fire_times,
    parse_time_of_day,
    weekday_trigger,
)


def tokyo(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=TOKYO)


@pytest.fixture
def frozen_clock() -> Iterator[None]:
    yield
    clock.set_now(None)


def test_scheduler_tokyo_timezone() -> None:
    assert str(build_scheduler().timezone) == "Asia/Tokyo"


def test_scheduler_job_defaults() -> None:
    scheduler = build_scheduler()
    scheduler.start(paused=True)
    try:
        job = scheduler.add_job(lambda: None, weekday_trigger("09:00"), id="digest")
        assert job.coalesce is True
        assert job.misfire_grace_time is None
        assert job.max_instances == 1
    finally:
        scheduler.shutdown(wait=False)


def test_scheduler_grace_setting() -> None:
    scheduler = build_scheduler(misfire_grace_seconds=3600)
    scheduler.start(paused=True)
    try:
        job = scheduler.add_job(lambda: None, weekday_trigger("09:00"), id="digest")
        assert job.misfire_grace_time == 3600
    finally:
        scheduler.shutdown(wait=False)


def test_weekday_trigger_fires() -> None:
    trigger = weekday_trigger("09:30")
    assert next_fire_times(trigger, tokyo(2024, 4, 26, 12, 0), 2) == [tokyo(2024, 4, 29, 9, 30), tokyo(2024, 4, 30, 9, 30)]


def test_weekday_trigger_weekend_names() -> None:
    trigger = weekday_trigger(dt.time(7, 0), "sat,sun")
    assert next_fire_times(trigger, tokyo(2024, 4, 26, 12, 0), 2) == [tokyo(2024, 4, 27, 7, 0), tokyo(2024, 4, 28, 7, 0)]


@pytest.mark.parametrize("value", ["mon-fri", "MON-FRI", "sat,sun", "mon,wed-fri", "*", "mon-fri/2"])
def test_day_names_accepted(value: str) -> None:
    assert check_day_of_week(value) == value.lower()


@pytest.mark.parametrize("value", ["1-5", "0", "mon-5", "1,2", "monday", "", "mon fri"])
def test_day_numbers_rejected(value: str) -> None:
    with pytest.raises(SchedulingError):
        check_day_of_week(value)


@pytest.mark.parametrize("value", ["9:00", "24:00", "09:60", "0900", 900])
def test_time_of_day_rejected(value: object) -> None:
    with pytest.raises(SchedulingError):
        parse_time_of_day(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("expression", ["0 9 * * 1-5", "0 9 * *", "61 9 * * mon-fri"])
def test_crontab_rejected(expression: str) -> None:
    with pytest.raises(SchedulingError):
        crontab_trigger(expression)


def test_crontab_tokyo_time() -> None:
    trigger = crontab_trigger("15 8 * * sun")
    assert trigger.get_next_fire_time(None, tokyo(2024, 4, 26, 12, 0)) == tokyo(2024, 4, 28, 8, 15)


def test_clocked_job_reads_clock(frozen_clock: None) -> None:
    clock.set_now(tokyo(2030, 1, 2, 3, 4))
    assert clocked_job(lambda now: now)() == tokyo(2030, 1, 2, 3, 4)


@pytest.mark.parametrize(
    ("now", "runs"),
    [
        (tokyo(2024, 4, 26, 9, 0), True),  # Friday
        (tokyo(2024, 4, 29, 9, 0), False),  # 昭和の日
        (tokyo(2024, 4, 27, 9, 0), False),  # Saturday
        (dt.datetime(2024, 4, 28, 23, 30, tzinfo=clock.UTC), False),  # 08:30 on 昭和の日 in Tokyo
        (dt.datetime(2024, 4, 29, 15, 30, tzinfo=clock.UTC), True),  # 00:30 on 4/30 in Tokyo
    ],
)
def test_business_day_job(frozen_clock: None, now: dt.datetime, runs: bool) -> None:
    clock.set_now(now)
    calls: list[dt.datetime] = []
    result = business_day_job(lambda current: calls.append(current) or "done", BusinessCalendar())()
    assert (result == "done") is runs
    assert calls == ([now] if runs else [])


def test_business_day_job_open_date(frozen_clock: None) -> None:
    calendar = BusinessCalendar(CalendarRules(open_dates=frozenset({dt.date(2024, 4, 27)})))
    clock.set_now(tokyo(2024, 4, 27, 9, 0))
    assert business_day_job(lambda now: "done", calendar)() == "done"


def test_next_business_fire_golden_week() -> None:
    # 5/3 to 5/6 2024 are holidays, so after Thursday 5/2 the next working run is Tuesday 5/7.
    trigger = weekday_trigger("09:00")
    assert next_business_fire_time(trigger, BusinessCalendar(), tokyo(2024, 5, 2, 12, 0)) == tokyo(2024, 5, 7, 9, 0)


def test_next_business_fire_weekend_only() -> None:
    weekend_trigger = weekday_trigger("09:00", "sat,sun")
    with pytest.raises(SchedulingError):
        next_business_fire_time(weekend_trigger, BusinessCalendar(), tokyo(2024, 4, 26, 12, 0))


def test_next_business_fire_minutely() -> None:
    trigger = crontab_trigger("* * * * *")
    assert next_business_fire_time(trigger, BusinessCalendar(), tokyo(2024, 5, 3, 0, 0)) == tokyo(2024, 5, 7, 0, 0)


def test_add_business_day_job_replaces() -> None:
    scheduler = build_scheduler()
    scheduler.start(paused=True)
    calendar = BusinessCalendar()
    try:
        add_business_day_job(scheduler, lambda now: None, calendar, job_id="reminders", at="08:00")
        add_business_day_job(scheduler, lambda now: None, calendar, job_id="reminders", at="09:00")
        jobs = scheduler.get_jobs()
        assert [job.id for job in jobs] == ["reminders"]
        assert jobs[0].trigger.get_next_fire_time(None, tokyo(2024, 4, 26, 12, 0)) == tokyo(2024, 4, 29, 9, 0)
    finally:
        scheduler.shutdown(wait=False)
