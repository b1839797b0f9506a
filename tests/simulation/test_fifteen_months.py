"""Fifteen months of the daemon's registry jobs on a simulated clock, on a host whose zone is UTC.

From 2026-10-01 to 2027-12-31 four mentors go through their renewal reminders, the staff
digest and the revocation at expiry. The daemon is down for a week over the new year. The
expected mails below are computed by hand from the rules, the national holidays and the
staff actions of ``staff_actions``. The rules send reminders 90, 60, 30, 14 and 0 days
before the 31 January deadline at 09:00, moved to the business day before.

Mentors:

- A expires 2027-03-31 and never applies.
- B expires 2027-03-31, applies on 2026-12-10 10:00, approved 2026-12-16 15:00 with the
  new expiry 2031-03-31.
- C expires 2027-03-31, applies on 2026-12-24 10:00, rejected 2027-01-06 15:00.
- D expires 2028-03-31.

Deadline 2027-01-31 (Sunday): 90 days before is Mon 2026-11-02, 60 is Wed 2026-12-02,
30 is Fri 2027-01-01 (元日) so Thu 2026-12-31, 14 is Sun 2027-01-17 so Fri 2027-01-15,
0 is Sun 2027-01-31 so Fri 2027-01-29. Deadline 2028-01-31 (Monday): 90 is Tue
2027-11-02, 60 is Thu 2027-12-02, 30 is Sat 2028-01-01 so Fri 2027-12-31.

The daemon stops on Mon 2026-12-28 12:00 and starts again on Mon 2027-01-04 12:00, so
A's reminder of 2026-12-31 goes out at the restart. C's is skipped, because C's
application was open on 2026-12-31; after the rejection C gets the 14- and 0-day ones.
Later the process is suspended from Mon 2027-11-29 12:00 to Mon 2027-12-06 12:00, so D's
reminder of 2027-12-02 goes out once when it resumes.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailflow import clock, jobs
from mailflow.clock import TOKYO
from mailflow.config import Config
from mailflow.db.models import Base, Mentor, Outbox, ReviewItem
from mailflow.db.session import make_engine, make_session_factory, transaction
from mailflow.outbound.sender import Sender
from mailflow.outbound.templates import Renderer
from tests.planning.database import STAFF_ADDRESS, add_mentor
from tests.simulation.harness import FakeTime, RecordingTransport, Sent, Simulation


def tokyo(text: str) -> dt.datetime:
    """Return the Asia/Tokyo time written as "2026-11-02 09:00"."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=TOKYO)


START = tokyo("2026-10-01 08:00")
END = tokyo("2027-12-31 23:59")
DOWN_AT = tokyo("2026-12-28 12:00")
UP_AT = tokyo("2027-01-04 12:00")
SUSPENDED_AT = tokyo("2027-11-29 12:00")
RESUMED_AT = tokyo("2027-12-06 12:00")

# (mentor, outbox key suffix, Tokyo time the mail went out). The key's mentor id is filled in.
EXPECTED_MENTOR_MAIL = [
    ("A", "renewal-reminder:{id}:2027-03-31:90", "2026-11-02 09:00"),
    ("B", "renewal-reminder:{id}:2027-03-31:90", "2026-11-02 09:00"),
    ("C", "renewal-reminder:{id}:2027-03-31:90", "2026-11-02 09:00"),
    ("A", "renewal-reminder:{id}:2027-03-31:60", "2026-12-02 09:00"),
    ("B", "renewal-reminder:{id}:2027-03-31:60", "2026-12-02 09:00"),
    ("C", "renewal-reminder:{id}:2027-03-31:60", "2026-12-02 09:00"),
    ("A", "renewal-reminder:{id}:2027-03-31:30", "2027-01-04 12:00"),
    ("A", "renewal-reminder:{id}:2027-03-31:14", "2027-01-15 09:00"),
    ("C", "renewal-reminder:{id}:2027-03-31:14", "2027-01-15 09:00"),
    ("A", "renewal-reminder:{id}:2027-03-31:0", "2027-01-29 09:00"),
    ("C", "renewal-reminder:{id}:2027-03-31:0", "2027-01-29 09:00"),
    ("A", "revocation-notice:{id}:2027-03-31", "2027-04-01 09:00"),
    ("C", "revocation-notice:{id}:2027-03-31", "2027-04-01 09:00"),
    ("D", "renewal-reminder:{id}:2028-03-31:90", "2027-11-02 09:00"),
    ("D", "renewal-reminder:{id}:2028-03-31:60", "2027-12-06 12:00"),
    ("D", "renewal-reminder:{id}:2028-03-31:30", "2027-12-31 09:00"),
]

# Business days with something to report, and when the digest went out. B's application
# is open at 09:00 on 12-11..12-16 and C's on 12-25..01-06. The daemon is down from 12-28
# 12:00 and sends the digest of 01-04 at the restart. In March A and C end their
# registrations, and on 04-01 both were revoked. In March 2027 the 22nd is 振替休日,
# because 春分の日 falls on Sunday the 21st.
MARCH_BUSINESS_DAYS = [1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 15, 16, 17, 18, 19, 23, 24, 25, 26, 29, 30, 31]
EXPECTED_DIGESTS = [
    "2026-12-11 09:00", "2026-12-14 09:00", "2026-12-15 09:00", "2026-12-16 09:00",
    "2026-12-25 09:00", "2026-12-28 09:00", "2027-01-04 12:00", "2027-01-05 09:00",
    "2027-01-06 09:00",
    *[f"2027-03-{day:02d} 09:00" for day in MARCH_BUSINESS_DAYS],
    "2027-04-01 09:00",
]

# When the two registrations without a renewal are revoked: the day after expiry, at the
# expiry job's time.
EXPECTED_REVOCATION = "2027-04-01 00:10"


@dataclass
class Outcome:
    """What fifteen simulated months left behind."""

    ids: dict[str, int]
    sent: list[Sent]
    statuses: dict[str, str]
    revoked_at: dict[str, str]
    reasons: dict[str, str | None]
    pending: list[str]
    utc_offset_seconds: int
    runs: list[tuple[str, dt.datetime]]


@contextmanager
def utc_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Set the process's zone to UTC, as in most containers, and restore it afterwards."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


def simulate(url: str, data_dir: Path) -> Outcome:
    """Run the scenario on an empty database at ``url`` and return what it left."""
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    config = Config()
    config.paths.data_dir = str(data_dir)
    config.bureau.staff_addresses = [STAFF_ADDRESS]
    config.outbound.rate_per_minute = 100_000
    mailflow_logger = logging.getLogger("mailflow")
    with pytest.MonkeyPatch.context() as monkeypatch, utc_host(monkeypatch):
        utc_offset = time.localtime().tm_gmtoff
        fake_time = FakeTime(monkeypatch, START)
        context = jobs.JobContext.load(config, sessions, Renderer(config.templates_dir))
        transport = RecordingTransport(lambda label: outbox_key(sessions, label))
        sender = Sender(config, sessions, transport=transport)
        simulation = Simulation(context, fake_time, transport, sender)
        mailflow_logger.addHandler(simulation.error_log)
        try:
            ids = run_scenario(simulation, sessions)
        finally:
            if simulation.scheduler is not None:
                simulation.stop_daemon()
            mailflow_logger.removeHandler(simulation.error_log)
            sender.close()
            clock.set_now(None)
    try:
        return collect_outcome(sessions, ids, transport.sent, utc_offset, simulation.runs)
    finally:
        engine.dispose()


def collect_outcome(sessions: sessionmaker[Session], ids: dict[str, int], sent: list[Sent],
                    utc_offset: int, runs: list[tuple[str, dt.datetime]]) -> Outcome:
    with transaction(sessions) as session:
        mentors = {name: session.get(Mentor, mentor_id) for name, mentor_id in ids.items()}
        revoked = {name: mentor for name, mentor in mentors.items() if mentor.status == "revoked"}
        return Outcome(
            ids=ids,
            sent=sent,
            statuses={name: mentor.status for name, mentor in mentors.items()},
            revoked_at={
                name: clock.as_utc(mentor.status_changed_at).astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")
                for name, mentor in revoked.items()
            },
            reasons={name: mentor.status_reason for name, mentor in revoked.items()},
            pending=list(session.scalars(select(Outbox.key).where(Outbox.status == "pending"))),
            utc_offset_seconds=utc_offset,
            runs=runs,
        )


@pytest.fixture(scope="module")
def outcome(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    return simulate(sqlite_url, tmp_path_factory.mktemp("data"))


def outbox_key(sessions: sessionmaker[Session], label: str) -> str:
    """Return the key of the outbox row the sender labels "<id>-<kind>"."""
    with transaction(sessions) as session:
        return session.get(Outbox, int(label.split("-", 1)[0])).key


def add_mentors(sessions: sessionmaker[Session]) -> dict[str, int]:
    return {
        "A": add_mentor(sessions, "MM-A", dt.date(2027, 3, 31)),
        "B": add_mentor(sessions, "MM-B", dt.date(2027, 3, 31)),
        "C": add_mentor(sessions, "MM-C", dt.date(2027, 3, 31)),
        "D": add_mentor(sessions, "MM-D", dt.date(2028, 3, 31)),
    }


def staff_actions(sessions: sessionmaker[Session], ids: dict[str, int],
                  simulation: Simulation) -> list[tuple[dt.datetime, Callable[[], None]]]:
    """Return the renewal applications and decisions of the scenario, and the downtime."""
    items: dict[str, int] = {}

    def apply(mentor: str) -> Callable[[], None]:
        def run() -> None:
            with transaction(sessions) as session:
                item = ReviewItem(kind="renewal", state="ready", mentor_id=ids[mentor], complete_at=clock.now())
                session.add(item)
                session.flush()
                items[mentor] = item.id
        return run

    def decide(mentor: str, state: str, new_expiry: dt.date | None = None) -> Callable[[], None]:
        def run() -> None:
            with transaction(sessions) as session:
                item = session.get(ReviewItem, items[mentor])
                item.state = state
                item.decided_at = clock.now()
                if new_expiry is not None:
                    session.get(Mentor, ids[mentor]).expires_on = new_expiry
        return run

    def restart() -> None:
        simulation.start_daemon()

    return [
        (tokyo("2026-12-10 10:00"), apply("B")),
        (tokyo("2026-12-16 15:00"), decide("B", "approved", dt.date(2031, 3, 31))),
        (tokyo("2026-12-24 10:00"), apply("C")),
        (DOWN_AT, simulation.stop_daemon),
        (UP_AT, restart),
        (tokyo("2027-01-06 15:00"), decide("C", "rejected")),
        (SUSPENDED_AT, lambda: simulation.suspend_until(RESUMED_AT)),
    ]


def run_scenario(simulation: Simulation, sessions: sessionmaker[Session]) -> dict[str, int]:
    ids = add_mentors(sessions)
    simulation.start_daemon()
    simulation.run_until(END, staff_actions(sessions, ids, simulation))
    return ids


def mentor_mail(sent: list[Sent]) -> list[tuple[str, str]]:
    return sorted((mail.key, mail.at.strftime("%Y-%m-%d %H:%M")) for mail in sent
                  if not mail.key.startswith("staff-digest:"))


def expected_mentor_mail(ids: dict[str, int]) -> list[tuple[str, str]]:
    return sorted((key.format(id=ids[mentor]), at) for mentor, key, at in EXPECTED_MENTOR_MAIL)


def digest_times(sent: list[Sent]) -> list[str]:
    return [mail.at.strftime("%Y-%m-%d %H:%M") for mail in sent if mail.key.startswith("staff-digest:")]


def test_simulation_host_is_utc(outcome: Outcome) -> None:
    assert outcome.utc_offset_seconds == 0


def test_simulation_mentor_mail(outcome: Outcome) -> None:
    assert mentor_mail(outcome.sent) == expected_mentor_mail(outcome.ids)


def test_simulation_digest_days(outcome: Outcome) -> None:
    assert digest_times(outcome.sent) == EXPECTED_DIGESTS


def test_simulation_digest_keys(outcome: Outcome) -> None:
    keys = [mail.key for mail in outcome.sent if mail.key.startswith("staff-digest:")]
    assert keys == [f"staff-digest:{at[:10]}" for at in EXPECTED_DIGESTS]


def test_simulation_statuses(outcome: Outcome) -> None:
    assert outcome.statuses == {"A": "revoked", "B": "active", "C": "revoked", "D": "active"}


def test_simulation_revocation_time(outcome: Outcome) -> None:
    assert outcome.revoked_at == {"A": EXPECTED_REVOCATION, "C": EXPECTED_REVOCATION}


def test_simulation_revocation_reason(outcome: Outcome) -> None:
    assert outcome.reasons == {"A": "not_renewed", "C": "not_renewed"}


def test_simulation_restart_runs_once(outcome: Outcome) -> None:
    # A restarted daemon runs each job once at start-up.
    assert sorted(job for job, at in outcome.runs if at == UP_AT) == sorted(
        [jobs.REMINDERS_JOB, jobs.EXPIRY_JOB, jobs.DIGEST_JOB])


def test_simulation_resume_runs_once(outcome: Outcome) -> None:
    # A week of suspension misses seven runs of each daily job; each runs once on resuming.
    assert sorted(job for job, at in outcome.runs if at == RESUMED_AT) == sorted(
        [jobs.REMINDERS_JOB, jobs.EXPIRY_JOB, jobs.DIGEST_JOB])


def test_simulation_nothing_pending(outcome: Outcome) -> None:
    assert outcome.pending == []


@pytest.mark.slow
def test_simulation_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    result = simulate(postgres_url, tmp_path / "data")
    assert mentor_mail(result.sent) == expected_mentor_mail(result.ids)
    assert digest_times(result.sent) == EXPECTED_DIGESTS
    assert result.statuses == {"A": "revoked", "B": "active", "C": "revoked", "D": "active"}
    assert result.revoked_at == {"A": EXPECTED_REVOCATION, "C": EXPECTED_REVOCATION}
    assert result.pending == []
