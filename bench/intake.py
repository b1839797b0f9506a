"""Benchmark 3: intake end to end, App.run_once on copies of the sample mailbox.

Two set-ups are measured in alternating rounds:

- the embedded defaults: a Maildir in, .eml files out, SQLite;
- real servers on 127.0.0.1: Dovecot (IMAP) in, aiosmtpd (SMTP) out, PostgreSQL,
  started with the launchers of ``tests/servers.py`` and stopped at the end.

Each round loads a fresh mailbox with ``--copies`` copies of the sample mailbox (own
Message-IDs, senders and bytes, see ``corpus_copies``) and a fresh database, untimed,
and then times one ``App.run_once()``: take in, analyse, store, file, move, plan the
replies and send them. The rate limiter is set to 1,000,000 per minute so that it never
waits. The clock is frozen after the newest sample mail, as in the integration tests.

    .venv/bin/python bench/intake.py [--quick] [--rounds N] [--copies N] [--json FILE]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from harness import StageClock, Summary, paired_ratios, parse_arguments, positive_int, run_interleaved, timed
from report import Report, fmt, fmt_range, package_version

from mailflow import clock
from mailflow.app import App
from mailflow.config import Config
from mailflow.mailbox.factory import make_source

from corpus_copies import deliver_to_maildir, sample_copies
from live_servers import ServerSet, start_servers
from tests.integration.harness import FROZEN_NOW, base_config

FULL_ROUNDS, QUICK_ROUNDS = 7, 1
FULL_COPIES, QUICK_COPIES = 4, 1
UNLIMITED_RATE_PER_MINUTE = 1_000_000
MAILDIR_SETUP = "Maildir + files + SQLite"
SERVER_SETUP = "Dovecot + aiosmtpd + PostgreSQL"


@dataclass
class SetupResult:
    """Per-round counts of one set-up (new, quarantined, not moved, sent) and its time per stage over all rounds."""

    new: list[int] = field(default_factory=list)
    quarantined: list[int] = field(default_factory=list)
    failed_moves: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    stages: StageClock = field(default_factory=StageClock)


def instrument(app: App, stages: StageClock) -> None:
    """Wrap the stage functions of ``app``, its mailbox and its sender so ``stages`` collects their time."""
    source = app.source  # connects now, so that the round does not time the login
    source.fetch_new = stages.wrap_iterator("fetch from mailbox", source.fetch_new)
    source.move = stages.wrap("move in mailbox", source.move)
    source.replace = stages.wrap("move in mailbox", source.replace)
    app.handle = stages.wrap("store and file (database)", app.handle)
    app._analyse = stages.wrap("analyse", app._analyse)
    app.plan = stages.wrap("plan replies (database, templates)", app.plan)
    app.send = stages.wrap("send: outbox bookkeeping", app.send)
    transport = app.sender.transport
    transport.deliver = stages.wrap_async("send: transport", transport.deliver)


def run_round(config: Config, result: SetupResult) -> float:
    """Time one ``run_once`` of a fresh App on ``config`` and record what it did."""
    app = App(config, source=make_source(config))
    outcome = []
    try:
        instrument(app, result.stages)
        seconds = timed(lambda: outcome.append(app.run_once()))
    finally:
        app.close()
    intake_stats, send_stats = outcome[0]
    result.new.append(intake_stats.new)
    result.quarantined.append(intake_stats.quarantined)
    result.failed_moves.append(intake_stats.failed_moves)
    result.sent.append(send_stats.sent)
    return seconds


def maildir_round(workdir: Path, copies: int, round_index: int, result: SetupResult) -> float:
    folder = Path(tempfile.mkdtemp(prefix=f"maildir-{round_index}-", dir=workdir))
    config = base_config(folder)
    config.outbound.rate_per_minute = UNLIMITED_RATE_PER_MINUTE
    deliver_to_maildir(Path(config.mailbox.maildir), sample_copies(copies, f"m{round_index}"))
    try:
        return run_round(config, result)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def server_round(servers: ServerSet, workdir: Path, copies: int, round_index: int, result: SetupResult) -> float:
    folder = Path(tempfile.mkdtemp(prefix=f"servers-{round_index}-", dir=workdir))
    config = servers.app_config(folder)
    config.outbound.rate_per_minute = UNLIMITED_RATE_PER_MINUTE
    servers.load_inbox(sample_copies(copies, f"s{round_index}"))
    try:
        return run_round(config, result)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report_results(report: Report, seconds: dict[str, list[float]], results: dict[str, SetupResult], mails: int) -> None:
    throughput = report.table(f"run_once on {mails} mails per round",
                              ["set-up", "mails/s median", "min–max", "s per round", "time vs Maildir", "min–max",
                               "replies sent per round"])
    baseline = seconds[MAILDIR_SETUP]
    for name, values in seconds.items():
        rate = Summary.of(values).rate(mails)
        ratio = paired_ratios(values, baseline)
        throughput.add(name, fmt(rate.median), fmt_range(rate), fmt(Summary.of(values).median, 2),
                       f"{ratio.median:.2f}×", f"{ratio.low:.2f}–{ratio.high:.2f}", min(results[name].sent))
    rounds = len(baseline)
    labels = list(dict.fromkeys(label for result in results.values() for label in result.stages.totals))
    stages = report.table("Where the time goes, ms per mail (share of run_once), mean of the rounds",
                          ["stage", *seconds])
    for label in [*labels, "rest of run_once"]:
        cells = []
        for name, result in results.items():
            total = sum(seconds[name])
            spent = total - sum(result.stages.totals.values()) if label == "rest of run_once" else result.stages.totals.get(label, 0.0)
            cells.append(f"{fmt(1000 * spent / (rounds * mails), 2)} ({100 * spent / total:.0f}%)")
        stages.add(label, *cells)
    report.checks["setups"] = {
        name: {"new": r.new, "quarantined": r.quarantined, "failed_moves": r.failed_moves, "sent": r.sent,
               "mails_per_second": Summary.of(seconds[name]).rate(mails).as_dict()}
        for name, r in results.items()
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(__doc__.splitlines()[0], FULL_ROUNDS, QUICK_ROUNDS, argv, add_copies_option)
    copies = args.copies or (QUICK_COPIES if args.quick else FULL_COPIES)
    mails = len(sample_copies(copies, "count"))
    report = Report("Intake", args, versions={
        name: package_version(name) for name in ("SQLAlchemy", "psycopg", "imapclient", "aiosmtpd", "aiosmtplib")})
    report.checks["mails_per_round"] = mails
    results = {MAILDIR_SETUP: SetupResult()}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mailflow-bench-intake-")))
        alternatives = {MAILDIR_SETUP: _counter(lambda i: maildir_round(workdir, copies, i, results[MAILDIR_SETUP]))}
        servers, missing = start_servers(stack, workdir)
        if servers is None:
            report.notes.append(f"{SERVER_SETUP} skipped: {missing}.")
            report.checks["skipped"] = missing
        else:
            results[SERVER_SETUP] = SetupResult()
            report.versions.update(servers.versions())
            alternatives[SERVER_SETUP] = _counter(
                lambda i: server_round(servers, workdir, copies, i, results[SERVER_SETUP]))
        clock.set_now(FROZEN_NOW)
        stack.callback(clock.set_now, None)
        seconds = run_interleaved(alternatives, args.rounds)
    report.record_rounds(seconds)
    report_results(report, seconds, results, mails)
    report.notes.append(
        "Each round starts on an empty database, so the numbers include no growth of the tables. "
        "The SMTP server runs in a thread of this process and competes for the same interpreter.")
    report.finish()
    return 0


def _counter(function):
    """Return a no-argument callable that passes 0, 1, 2, … to ``function`` on successive calls."""
    calls = iter(range(sys.maxsize))
    return lambda: function(next(calls))


def add_copies_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--copies", type=positive_int, default=None, metavar="N",
                        help=f"copies of the sample mailbox per round (default {FULL_COPIES}, or {QUICK_COPIES} with --quick)")


if __name__ == "__main__":
    raise SystemExit(main())
