"""case-22-apscheduler-misfire-timezone: the scheduler helpers on a host whose zone is UTC.

The probe script runs in a subprocess with TZ=UTC, as in many containers, and its output is
compared with the values in the case's expected.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mailflow.calendar import BusinessCalendar
from mailflow.clock import TOKYO
from mailflow.scheduling import SchedulingError, crontab_trigger

CASE = "case-22-apscheduler-misfire-timezone"
CASE_DIR = Path(__file__).parent.parent / "fixtures" / "cases" / CASE
PROBE = Path(__file__).parent / "case22_probe.py"
NEXT_FIRE_PREFIX = "next_fire_from_"
ISO_DATETIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}"
COUNT_WORDS = {"zero": 0, "one": 1, "two": 2, "three": 3}


@pytest.fixture(scope="module")
def expected() -> dict[str, str]:
    return json.loads((CASE_DIR / "expected.json").read_text(encoding="utf-8"))["expected"]


@pytest.fixture(scope="module")
def reference(expected: dict[str, str]) -> dt.datetime:
    key = next(key for key in expected if key.startswith(NEXT_FIRE_PREFIX))
    return dt.datetime.fromisoformat(key[len(NEXT_FIRE_PREFIX):])


@pytest.fixture(scope="module")
def next_fire_text(expected: dict[str, str]) -> str:
    return next(value for key, value in expected.items() if key.startswith(NEXT_FIRE_PREFIX))


@pytest.fixture(scope="module")
def probe(reference: dt.datetime) -> dict[str, Any]:
    environment = {**os.environ, "TZ": "UTC"}
    completed = subprocess.run(
        [sys.executable, str(PROBE), reference.isoformat()],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(completed.stdout)


def search(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text)
    assert match is not None, f"expected.json no longer contains {pattern!r}: {text!r}"
    return match


def test_probe_host_is_utc(probe: dict[str, Any]) -> None:
    assert probe["host_utc_offset_seconds"] == 0


def test_downtime_one_catch_up(probe: dict[str, Any], expected: dict[str, str]) -> None:
    count = COUNT_WORDS[search(r"exactly (\w+) catch-up", expected["after_downtime"]).group(1).lower()]
    assert probe["downtime_mailflow"]["ran"] == count
    assert probe["downtime_mailflow"]["missed"] == 0


def test_downtime_library_defaults_drop(probe: dict[str, Any], expected: dict[str, str]) -> None:
    # The reason for the job defaults: APScheduler's own defaults drop the missed run.
    search(r"defaults the missed run is dropped", expected["after_downtime"])
    assert probe["downtime_library_defaults"]["ran"] == 0
    assert probe["downtime_library_defaults"]["missed"] == 1


def test_mailing_fires_tokyo_time(probe: dict[str, Any], expected: dict[str, str]) -> None:
    match = search(r"fires at (\d{2}):(\d{2}) ([\w/]+)", expected["timezone"])
    first_fire = dt.datetime.fromisoformat(probe["weekday_mailing"]["runs"][0]["fire_time"])
    assert probe["weekday_mailing"]["trigger_timezone"] == match.group(3)
    assert first_fire.utcoffset() == dt.datetime(2024, 4, 26, tzinfo=TOKYO).utcoffset()
    assert (first_fire.hour, first_fire.minute) == (int(match.group(1)), int(match.group(2)))


def test_next_fire_by_cron(probe: dict[str, Any], next_fire_text: str) -> None:
    expected_fire = dt.datetime.fromisoformat(search(ISO_DATETIME, next_fire_text).group(0))
    first_fire = dt.datetime.fromisoformat(probe["weekday_mailing"]["runs"][0]["fire_time"])
    assert first_fire == expected_fire


def test_holiday_run_skipped(probe: dict[str, Any], next_fire_text: str) -> None:
    match = search(r"(\d{4}-\d{2}-\d{2}) (\S+) is a holiday", next_fire_text)
    holiday = dt.date.fromisoformat(match.group(1))
    skipped = probe["weekday_mailing"]["runs"][0]
    assert BusinessCalendar().holiday_name(holiday) == match.group(2)
    assert dt.datetime.fromisoformat(skipped["fire_time"]).date() == holiday
    assert skipped["worked_at"] is None


def test_first_working_run(probe: dict[str, Any], next_fire_text: str) -> None:
    first_business_day = dt.date.fromisoformat(search(r"first business day (\d{4}-\d{2}-\d{2})", next_fire_text).group(1))
    worked = [run for run in probe["weekday_mailing"]["runs"] if run["worked_at"] is not None]
    assert dt.datetime.fromisoformat(worked[0]["fire_time"]).date() == first_business_day


def test_job_reads_clock(probe: dict[str, Any]) -> None:
    # The job received the time the simulation set, not the real time.
    for run in probe["weekday_mailing"]["runs"]:
        if run["worked_at"] is not None:
            assert dt.datetime.fromisoformat(run["worked_at"]) == dt.datetime.fromisoformat(run["fire_time"])


def test_library_numeric_weekdays(probe: dict[str, Any], expected: dict[str, str]) -> None:
    # APScheduler 3 itself: host zone without a timezone, and 1-5 shifted to Tuesday-Saturday.
    text = expected["apscheduler_3x_today"]
    without = search(r"without timezone on a UTC host -> next (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) JST", text).group(1)
    with_zone = search(r"with timezone -> (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) JST, a (\w+)", text)
    with_fire = dt.datetime.fromisoformat(probe["library_crontab"]["with_timezone"])
    assert dt.datetime.fromisoformat(probe["library_crontab"]["without_timezone"]).strftime("%Y-%m-%d %H:%M") == without
    assert with_fire.strftime("%Y-%m-%d %H:%M") == with_zone.group(1)
    assert with_fire.strftime("%A").upper() == with_zone.group(2).upper()


def test_numeric_crontab_rejected(expected: dict[str, str]) -> None:
    expression = search(r"from_crontab\('([^']+)'\)", expected["apscheduler_3x_today"]).group(1)
    with pytest.raises(SchedulingError):
        crontab_trigger(expression)


def test_named_crontab_fires_like_cron(reference: dt.datetime, next_fire_text: str) -> None:
    expected_fire = dt.datetime.fromisoformat(search(ISO_DATETIME, next_fire_text).group(0))
    trigger = crontab_trigger("0 9 * * mon-fri")
    assert trigger.get_next_fire_time(None, reference) == expected_fire
