"""The main job on the embedded defaults: Maildir in, .eml files out, SQLite."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mailflow import clock
from mailflow.app import App

from tests.integration import expectations
from tests.integration.harness import FROZEN_NOW, base_config, case_mails, message_id_of, parse, sample_mails


def deliver(maildir: Path, paths: list[Path], first: int = 0) -> None:
    """Put each file into new/ with increasing times, as an MTA delivering them in order.

    ``first`` numbers the first file, so that later deliveries get unused names.
    """
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(paths, start=first):
        target = maildir / "new" / f"{1_800_000_000 + index}.{index}.test:{path.name}"
        shutil.copyfile(path, target)
        os.utime(target, (1_800_000_000 + index, 1_800_000_000 + index))


def folders_by_message_id(maildir: Path) -> dict[str, str]:
    found = {}
    for folder in ("processed", "quarantine", "auto"):
        for sub in ("new", "cur"):
            for path in (maildir / f".mailflow.{folder}" / sub).glob("*"):
                found[message_id_of(path.read_bytes())] = folder
    return found


def run_on(tmp_path: Path, paths: list[Path]):
    config = base_config(tmp_path)
    deliver(Path(config.mailbox.maildir), paths)
    app = App(config)
    clock.set_now(FROZEN_NOW)
    try:
        intake, _ = app.run_once()
    finally:
        clock.set_now(None)
    outbox = sorted(Path(config.outbound.directory).glob("*.eml"))
    return app, intake, [path.read_bytes() for path in outbox]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The sample mailbox, taken in by one ``run --once``."""
    mails = sample_mails()
    app, intake, sent = run_on(tmp_path_factory.mktemp("maildir-samples"), [mail.path for mail in mails])
    yield app, mails, [], intake, sent
    app.close()


@pytest.fixture(scope="module")
def case_run(tmp_path_factory):
    """Every shared email case, taken in by one ``run --once`` on a database of its own,
    because several cases come from the same fictional applicant and would join one item."""
    cases = case_mails()
    app, intake, sent = run_on(tmp_path_factory.mktemp("maildir-cases"), cases)
    yield app, cases, intake, sent
    app.close()


def test_every_mail_taken_in(run):
    app, mails, _, intake, _ = run
    assert intake.fetched == len(mails)
    assert intake.new == len(mails)
    assert intake.failed_moves == 0


def test_inbox_left_empty(run):
    app = run[0]
    maildir = Path(app.config.mailbox.maildir)
    assert list((maildir / "new").iterdir()) == []
    assert list((maildir / "cur").iterdir()) == []


def test_sample_folders(run):
    app, mails = run[0], run[1]
    expectations.check_folders(mails, folders_by_message_id(Path(app.config.mailbox.maildir)))


def test_sample_items(run):
    expectations.check_items(run[0], run[1])


def test_sample_replies(run):
    sent = run[4]
    recipients = {raw: tuple(address.strip() for address in parse(raw)["to"].split(",")) for raw in sent}
    expectations.check_replies(run[1], sent, recipients)


def test_replies_parse_without_defects(run):
    expectations.check_no_defects(run[4])


def test_replies_match_golden(run, case_run):
    names = expectations.golden_names(run[1], case_run[1])
    expectations.check_golden(run[4] + case_run[3], names)


def test_cases_taken_in(case_run):
    app, cases, intake, sent = case_run
    assert intake.new == len(cases)
    assert intake.failed_moves == 0
    expectations.check_cases(app, cases, sent, folders_by_message_id(Path(app.config.mailbox.maildir)))


def test_second_run_changes_nothing(run):
    app = run[0]
    clock.set_now(FROZEN_NOW)
    try:
        intake, sent = app.run_once()
    finally:
        clock.set_now(None)
    assert intake.fetched == 0
    assert sent.sent == 0
