"""Benchmark 4: the sender against aiosmtpd and against the .eml file transport.

Each round plans a batch of ``--batch`` receipts as outbox rows (untimed, the body is a
golden receipt of the test fixtures) for every alternative and times one
``Sender.run_once()``, which claims the rows, delivers them and records each result:

- SMTP to aiosmtpd on 127.0.0.1, one connection for the batch (what the sender does);
- the same, with the connection closed after every message;
- SMTP submission with STARTTLS and AUTH PLAIN, one connection for the batch;
- the same as the first, with the rate limiter replaced by one that never waits;
- .eml files written with fsync (the embedded default).

The rate limiter is set to 1,000,000 per minute. Its effect at the configured default
of 30 per minute is modelled with mailflow's own RateLimiter on a virtual clock.

    .venv/bin/python bench/sending.py [--quick] [--rounds N] [--batch N] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from harness import FIXTURES, StageClock, Summary, paired_ratios, parse_arguments, positive_int, run_interleaved, timed
from report import Report, fmt, fmt_range, package_version

from mailflow.config import Config
from mailflow.db import migrate
from mailflow.db.session import make_engine, make_session_factory, transaction
from mailflow.outbound.compose import AUTO_REPLIED, Draft
from mailflow.outbound.outbox import enqueue
from mailflow.outbound.sender import RateLimiter, Sender
from mailflow.outbound.transport import Delivery, SmtpTransport

from tests.servers import SmtpServer, make_certificate

FULL_ROUNDS, QUICK_ROUNDS = 15, 2
FULL_BATCH, QUICK_BATCH = 200, 20
UNLIMITED_RATE_PER_MINUTE = 1_000_000
GOLDEN_RECEIPT = FIXTURES / "golden" / "receipts" / "01-registration-complete.reply.txt"
ONE_CONNECTION = "SMTP, one connection per batch"


class ConnectionPerMessage(SmtpTransport):
    """SmtpTransport that quits after every message, so each message pays for a new connection."""

    async def deliver(self, sender: str, recipients: list[str], raw: bytes, label: str) -> Delivery:
        delivery = await super().deliver(sender, recipients, raw, label)
        await self.close()
        return delivery


class NoLimit:
    """Stands in for RateLimiter to measure what the limiter itself costs."""

    async def acquire(self) -> None:
        return None


@dataclass
class Alternative:
    """One way to send: its sender, its SMTP server (None for files) and what it sent."""

    name: str
    sender: Sender
    server: SmtpServer | None
    sent: list[int] = field(default_factory=list)
    received: list[int] = field(default_factory=list)
    stages: StageClock = field(default_factory=StageClock)
    batches: int = 0


def receipt_draft(key: str, index: int) -> Draft:
    """Return a receipt with the subject and body of a golden receipt and its own recipient."""
    headers, _, body = GOLDEN_RECEIPT.read_text(encoding="utf-8").partition("\n\n")
    subject = next(line.split(": ", 1)[1] for line in headers.splitlines() if line.startswith("Subject: "))
    return Draft(key=key, to=[("山田 太郎", f"applicant{index}@example.jp")], subject=subject, body=body,
                 auto_submitted=AUTO_REPLIED)


def make_alternative(name: str, workdir: Path, server: SmtpServer | None, transport_class=None,
                     security: str = "plain", limiter=None) -> Alternative:
    """Build a Sender on a new SQLite database that sends to ``server``, or writes files when it is None."""
    folder = Path(tempfile.mkdtemp(prefix="sender-", dir=workdir))
    config = Config()
    config.outbound.rate_per_minute = UNLIMITED_RATE_PER_MINUTE
    config.outbound.directory = str(folder / "outbox")
    if server is not None:
        config.outbound.type = "smtp"
        smtp = config.outbound.smtp
        smtp.host, smtp.port, smtp.security = server.host, server.port, security
        if server.users:
            # NOTE: "auto" (aiosmtplib's login()) is the only AUTH setting that sends EHLO again
            # after STARTTLS; with auth = "plain" or "login" the server replies 503 and every
            # message fails.
            smtp.auth, smtp.username = "auto", next(iter(server.users))
            smtp.password, smtp.ca_file = server.users[smtp.username], str(server.certificate.cert_path)
        else:
            smtp.auth = "none"
    engine = make_engine(f"sqlite:///{folder / 'mailflow.db'}")
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    transport = transport_class(config) if transport_class is not None else None
    sender = Sender(config, sessions, transport)
    if limiter is not None:
        sender.limiter = limiter
    alternative = Alternative(name, sender, server)
    stages = alternative.stages
    sender._claim = stages.wrap("claim rows (database)", sender._claim)
    sender._record = stages.wrap("record results (database)", sender._record)
    sender.transport.deliver = stages.wrap_async("deliver (transport)", sender.transport.deliver)
    sender.limiter.acquire = stages.wrap_async("rate limiter", sender.limiter.acquire)
    return alternative


def send_batch(alternative: Alternative, batch: int) -> float:
    """Plan ``batch`` rows, close any open connection, then time one ``run_once``."""
    sender = alternative.sender
    alternative.batches += 1
    with transaction(sender.sessions) as session:
        for index in range(batch):
            enqueue(session, sender.config, receipt_draft(f"bench:{alternative.batches}:{index}", index), "receipt")
    sender.loop.run_until_complete(sender.transport.close())
    before = len(alternative.server.messages) if alternative.server else 0
    outcome = []
    seconds = timed(lambda: outcome.append(sender.run_once(limit=batch)))
    stats = outcome[0]
    alternative.sent.append(stats.sent)
    alternative.received.append(len(alternative.server.messages) - before if alternative.server else stats.sent)
    return seconds


def modelled_burst(count: int, per_minute: int, seconds_per_message: float) -> tuple[float, float]:
    """Return the total and the waiting seconds of sending ``count`` mails through RateLimiter on a virtual clock.

    The clock counts in exact fractions: with floats, ``now + wait`` can land a rounding
    error short of the 60-second window, and the limiter would then wait forever.
    """
    now = waited = Fraction(0)

    def monotonic() -> Fraction:
        return now

    async def sleep(seconds: Fraction) -> None:
        nonlocal now, waited
        now += seconds
        waited += seconds

    async def send_all() -> None:
        nonlocal now
        limiter = RateLimiter(per_minute, monotonic=monotonic, sleep=sleep)
        for _ in range(count):
            await limiter.acquire()
            now += Fraction(seconds_per_message)

    asyncio.run(send_all())
    return float(now), float(waited)


def report_results(report: Report, alternatives: list[Alternative], seconds: dict[str, list[float]], batch: int) -> None:
    table = report.table(f"Sender.run_once on {batch} receipts per round",
                         ["transport", "mails/s median", "min–max", "ms per mail", "time vs one connection",
                          "min–max", "sent / planned"])
    baseline = seconds[ONE_CONNECTION]
    for alternative in alternatives:
        values = seconds[alternative.name]
        rate = Summary.of(values).rate(batch)
        ratio = paired_ratios(values, baseline)
        table.add(alternative.name, fmt(rate.median), fmt_range(rate), fmt(1000 / rate.median, 2),
                  f"{ratio.median:.2f}×", f"{ratio.low:.2f}–{ratio.high:.2f}",
                  f"{sum(alternative.sent)} / {batch * len(values)}")
    labels = list(dict.fromkeys(label for a in alternatives for label in a.stages.totals))
    stages = report.table("Where the time goes, ms per mail, mean of the rounds", ["stage", *seconds])
    for label in [*labels, "rest (loading rows, event loop)"]:
        cells = []
        for alternative in alternatives:
            total = sum(seconds[alternative.name])
            totals = alternative.stages.totals
            spent = total - sum(totals.values()) if label.startswith("rest") else totals.get(label, 0.0)
            cells.append(fmt(1000 * spent / (len(seconds[alternative.name]) * batch), 3))
        stages.add(label, *cells)
    per_message = Summary.of(baseline).median / batch
    limits = report.table("Rate limiter on a burst, modelled: an estimate from mailflow's RateLimiter on a virtual "
                          "clock and the measured time per mail of one connection",
                          ["mails in the burst", "limit per minute", "time to send all", "of which waiting"])
    for count in (50, 200):
        for per_minute in (30, UNLIMITED_RATE_PER_MINUTE):
            total, waited = modelled_burst(count, per_minute, per_message)
            limits.add(count, f"{per_minute:,}", f"{fmt(total, 1)} s", f"{fmt(waited, 1)} s")
    report.checks["alternatives"] = {
        a.name: {"sent": a.sent, "received": a.received,
                 "mails_per_second": Summary.of(seconds[a.name]).rate(batch).as_dict()}
        for a in alternatives
    }


def add_batch_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=positive_int, default=None, metavar="N",
                        help=f"outbox rows sent per round (default {FULL_BATCH}, or {QUICK_BATCH} with --quick)")


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(__doc__.splitlines()[0], FULL_ROUNDS, QUICK_ROUNDS, argv, add_batch_option)
    batch = args.batch or (QUICK_BATCH if args.quick else FULL_BATCH)
    # aiosmtpd warns on every AUTH that its own Session.login_data is deprecated.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    report = Report("Sending", args, versions={
        name: package_version(name) for name in ("aiosmtplib", "aiosmtpd", "SQLAlchemy")})
    report.checks["batch"] = batch
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mailflow-bench-sending-")))
        (workdir / "tls").mkdir()
        plain = SmtpServer()
        submission = SmtpServer(users={"sender": "bench-password"}, certificate=make_certificate(workdir / "tls"))
        for server in (plain, submission):
            server.start()
            stack.callback(server.stop)
        alternatives = [
            make_alternative(ONE_CONNECTION, workdir, plain),
            make_alternative("SMTP, a new connection per message", workdir, plain, ConnectionPerMessage),
            make_alternative("SMTP with STARTTLS and AUTH, one connection", workdir, submission, security="starttls"),
            make_alternative("SMTP, one connection, rate limiter removed", workdir, plain, limiter=NoLimit()),
            make_alternative(".eml files (fsync each)", workdir, None),
        ]
        for alternative in alternatives:
            stack.callback(alternative.sender.close)
        seconds = run_interleaved(
            {a.name: (lambda a=a: send_batch(a, batch)) for a in alternatives}, args.rounds)
    report.record_rounds(seconds)
    report_results(report, alternatives, seconds, batch)
    report.notes.append(
        "aiosmtpd runs in a thread of this process and shares the interpreter with the sender, so "
        "SMTP numbers include the server's own work. Each round opens one connection at its start.")
    report.finish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
