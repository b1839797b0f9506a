"""App.run_once on a Maildir holding a flate bomb and a normal application: both taken in, only the bomb held."""

from __future__ import annotations

import pytest

from mailflow.intake.limits import DEFAULT_LIMITS, LIMIT_LABELS, LimitExceeded

from tests.hostile.builders import bomb_mail, flate_bomb_pdf
from tests.integration import expectations
from tests.integration.harness import STAFF, inbound_for, item_for, parse, sample_mails
from tests.integration.test_intake_maildir import run_on

BOMB_ID = "<bomb@example.net>"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("bomb-run")
    normal = next(mail for mail in sample_mails() if mail.stem == "16-registration-form1-only")
    bomb = tmp_path / "bomb.eml"
    bomb.write_bytes(bomb_mail(flate_bomb_pdf(), "誓約書.pdf"))
    app, intake, sent = run_on(tmp_path, [bomb, normal.path])
    yield app, intake, normal, sent
    app.close()


def test_run_takes_in_both(run):
    _, intake, _, _ = run

    assert intake.new == 2
    assert intake.quarantined == 0
    assert intake.failed_moves == 0


def test_run_bomb_item_needs_attention(run):
    app, _, _, _ = run

    item = item_for(app, BOMB_ID)

    assert item.state == "needs_attention"


def test_run_bomb_reason_japanese(run):
    app, _, _, _ = run
    label = LimitExceeded("max_pdf_decoded_bytes", None, DEFAULT_LIMITS.max_pdf_decoded_bytes).label()

    attention = item_for(app, BOMB_ID).details["attention"]

    assert any(line.endswith(label) and "誓約書.pdf" in line for line in attention)
    assert all("over limit" not in line for line in attention)


def test_run_bomb_message_held(run):
    app, _, _, _ = run

    inbound = inbound_for(app, BOMB_ID)

    assert inbound.decision == "manual_review"
    assert inbound.folder == "processed"


def test_run_staff_told_about_bomb(run):
    _, _, _, sent = run
    staff = [parse(raw) for raw in sent if STAFF in parse(raw)["to"]]

    bodies = [message.get_body(("plain",)).get_content() for message in staff]

    assert any(LIMIT_LABELS["max_pdf_decoded_bytes"] in body for body in bodies)


def test_run_normal_mail_processed(run):
    app, _, normal, sent = run

    expectations.check_items(app, [normal])
    expectations.check_replies([normal], sent, {})
