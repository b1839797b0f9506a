"""Run the daemon's registry jobs on a simulated clock with the real APScheduler 3 scheduler.

APScheduler's ``_process_jobs`` and ``run_job`` read the time from ``datetime.now`` in their
own modules; :class:`FakeTime` replaces that name with a subclass whose ``now`` returns the
simulated time, and freezes :mod:`mailflow.clock` at the same moment. The scheduler keeps its
real thread and thread pool: each step sets the clock to the earliest next run time, wakes the
scheduler and waits until every job due at that time has finished. After each step the real
:class:`~mailflow.outbound.sender.Sender` delivers what is due to a recording transport, which
records each mail with the simulated time it went out.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import apscheduler.executors.base
import apscheduler.schedulers.base
import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from mailflow import clock, jobs
from mailflow.clock import TOKYO
from mailflow.outbound.sender import Sender
from mailflow.outbound.transport import Delivery
from mailflow.scheduling import build_scheduler

# Real seconds to wait for the jobs of one step before the test fails.
STEP_TIMEOUT_SECONDS = 30.0


class FakeTime:
    """The simulated current time, installed into APScheduler and mailflow.clock."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: dt.datetime) -> None:
        self.current = start
        fake = self

        class SimulatedDatetime(dt.datetime):
            @classmethod
            def now(cls, tz=None):  # type: ignore[override]
                if tz is None:
                    return fake.current.astimezone().replace(tzinfo=None)
                return fake.current.astimezone(tz)

        monkeypatch.setattr(apscheduler.schedulers.base, "datetime", SimulatedDatetime)
        monkeypatch.setattr(apscheduler.executors.base, "datetime", SimulatedDatetime)
        self.set(start)

    def set(self, moment: dt.datetime) -> None:
        self.current = moment
        clock.set_now(moment)


class ErrorLog(logging.Handler):
    """Collect the errors mailflow logs; the jobs log their failures instead of raising."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


@dataclass
class Sent:
    """One delivered mail: its outbox key and the simulated Tokyo time it went out."""

    key: str
    at: dt.datetime


class RecordingTransport:
    """A transport that accepts every message and records it with the simulated time."""

    def __init__(self, keys_by_label: Callable[[str], str]) -> None:
        self.sent: list[Sent] = []
        self.keys_by_label = keys_by_label

    async def open(self) -> None:
        return None

    async def deliver(self, sender: str, recipients: list[str], raw: bytes, label: str) -> Delivery:
        self.sent.append(Sent(self.keys_by_label(label), clock.now().astimezone(TOKYO)))
        return Delivery(ok=True, code=250, reply="250 2.0.0 OK")

    async def close(self) -> None:
        return None


@dataclass
class Simulation:
    """One or more daemon lifetimes on a simulated clock; ``actions`` run at given times."""

    context: jobs.JobContext
    time: FakeTime
    transport: RecordingTransport
    sender: Sender
    scheduler: BackgroundScheduler | None = None
    finished: int = 0
    errors: list[str] = field(default_factory=list)
    # (job id, simulated time of the run) of every job run, in order.
    runs: list[tuple[str, dt.datetime]] = field(default_factory=list)
    error_log: ErrorLog = field(default_factory=ErrorLog)
    condition: threading.Condition = field(default_factory=threading.Condition)

    def start_daemon(self) -> None:
        """Start a daemon as ``mailflow run`` would: every job runs once, then on its trigger."""
        scheduler = build_scheduler()
        added = jobs.add_registry_jobs(scheduler, self.context, threading.Event())
        scheduler.add_listener(self._record, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        target = self.finished + len(added)
        self.scheduler = scheduler
        scheduler.start()
        self._wait_for(target)
        self._send()

    def stop_daemon(self) -> None:
        """Stop the daemon; its in-memory job store goes with it."""
        assert self.scheduler is not None
        self.scheduler.shutdown(wait=True)
        self.scheduler = None

    def suspend_until(self, moment: dt.datetime) -> None:
        """Move the clock to ``moment`` with the scheduler running but unable to fire, as when the
        process or its machine is suspended; each job late by then runs once, coalesced."""
        self._fire(moment)

    def run_until(self, end: dt.datetime, actions: list[tuple[dt.datetime, Callable[[], None]]]) -> None:
        """Fire every job due up to ``end``, running each action at its time between the steps."""
        pending = sorted(actions, key=lambda action: action[0])
        while True:
            next_fire = self._next_fire_time()
            if pending and (next_fire is None or pending[0][0] <= next_fire) and pending[0][0] <= end:
                moment, action = pending.pop(0)
                self.time.set(moment)
                action()
                continue
            if next_fire is None or next_fire > end:
                break
            self._fire(next_fire)
        self.time.set(end)

    def _next_fire_time(self) -> dt.datetime | None:
        if self.scheduler is None:
            return None
        times = [job.next_run_time for job in self.scheduler.get_jobs() if job.next_run_time is not None]
        return min(times) if times else None

    def _fire(self, moment: dt.datetime) -> None:
        assert self.scheduler is not None
        due = [job for job in self.scheduler.get_jobs() if job.next_run_time <= moment]
        target = self.finished + len(due)
        self.time.set(moment)
        self.scheduler.wakeup()
        self._wait_for(target)
        self._send()

    def _wait_for(self, target: int) -> None:
        with self.condition:
            done = self.condition.wait_for(lambda: self.finished >= target, timeout=STEP_TIMEOUT_SECONDS)
        assert done, f"jobs did not finish at {self.time.current.isoformat()}"
        assert not self.errors, self.errors
        assert not self.error_log.messages, self.error_log.messages

    def _record(self, event: JobExecutionEvent) -> None:
        with self.condition:
            if event.code != EVENT_JOB_EXECUTED:
                self.errors.append(f"{event.job_id} at {event.scheduled_run_time}: {event.exception!r}")
            self.runs.append((event.job_id, self.time.current))
            self.finished += 1
            self.condition.notify_all()

    def _send(self) -> None:
        jobs.run_send_guard(self.context, clock.now())
        self.sender.run_once()
