"""Print, as JSON, what mailflow's scheduler helpers do on this host; the case-22 test runs it with TZ=UTC.

Usage: python case22_probe.py REFERENCE_TIME (ISO 8601 with offset, e.g. 2024-04-26T12:00+09:00)
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from typing import Any

from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from mailflow import clock
from mailflow.calendar import BusinessCalendar
from mailflow.clock import TOKYO
from mailflow.scheduling import add_business_day_job, build_scheduler, next_fire_times

# How long to wait for the catch-up run, and then for a second run that must not come.
FIRST_RUN_TIMEOUT_SECONDS = 5.0
SECOND_RUN_WAIT_SECONDS = 0.5


def count_runs_after_downtime(scheduler: BackgroundScheduler) -> dict[str, int]:
    """Start ``scheduler`` with an hourly job whose last three runs were missed; count the outcomes."""
    events: list[str] = []

    def record(event: JobExecutionEvent) -> None:
        events.append("missed" if event.code == EVENT_JOB_MISSED else "ran")

    scheduler.add_listener(record, EVENT_JOB_MISSED | EVENT_JOB_EXECUTED)
    now = dt.datetime.now(TOKYO)
    # The daemon was down while the runs of 145, 85 and 25 minutes ago were due.
    scheduler.add_job(lambda: None, "interval", hours=1, next_run_time=now - dt.timedelta(minutes=145), id="poll")
    scheduler.start()
    give_up = time.monotonic() + FIRST_RUN_TIMEOUT_SECONDS
    while not events and time.monotonic() < give_up:
        time.sleep(0.02)
    time.sleep(SECOND_RUN_WAIT_SECONDS)
    scheduler.shutdown(wait=True)
    return {"ran": events.count("ran"), "missed": events.count("missed")}


def weekday_mailing(reference: dt.datetime) -> dict[str, Any]:
    """Add the 09:00 business-day job as the daemon would, and run it at its next fire times."""
    scheduler = build_scheduler()
    job = add_business_day_job(scheduler, lambda now: now, BusinessCalendar(), job_id="mailing", at="09:00")
    runs = []
    try:
        for fire_time in next_fire_times(job.trigger, reference, 3):
            clock.set_now(fire_time)
            result = job.func()
            runs.append({"fire_time": fire_time.isoformat(), "worked_at": result.isoformat() if result else None})
    finally:
        clock.set_now(None)
    return {"trigger_timezone": str(job.trigger.timezone), "runs": runs}


def library_crontab(reference: dt.datetime) -> dict[str, str]:
    """Return what APScheduler 3 itself makes of crontab's numeric "0 9 * * 1-5"."""
    host_zone = CronTrigger.from_crontab("0 9 * * 1-5")
    tokyo = CronTrigger.from_crontab("0 9 * * 1-5", timezone=TOKYO)
    return {
        "without_timezone": host_zone.get_next_fire_time(None, reference).astimezone(TOKYO).isoformat(),
        "with_timezone": tokyo.get_next_fire_time(None, reference).astimezone(TOKYO).isoformat(),
    }


def main() -> None:
    reference = dt.datetime.fromisoformat(sys.argv[1])
    report = {
        "host_utc_offset_seconds": dt.datetime.now().astimezone().utcoffset().total_seconds(),
        "downtime_mailflow": count_runs_after_downtime(build_scheduler()),
        "downtime_library_defaults": count_runs_after_downtime(BackgroundScheduler(timezone=TOKYO)),
        "weekday_mailing": weekday_mailing(reference),
        "library_crontab": library_crontab(reference),
    }
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
