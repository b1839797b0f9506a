"""End to end through Dovecot and SMTP: an application, the staff notification, a reply of 承認, the result."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select

from mailflow import clock
from mailflow.app import App
from mailflow.config import Config
from mailflow.db.models import Mentor, ReviewItem
from mailflow.db.session import transaction
from mailflow.intake.parse import parse_message
from mailflow.registry.period import PeriodSettings, registration_period
from mailflow.review.mailings import japanese_date
from tests.conftest import SAMPLE
from tests.mailbox.conftest import imap_config, imap_server  # noqa: F401  (fixture)
from tests.review.builders import AUTHSERV_ID, PASS, STAFF, STAFF_LIST, staff_reply

pytestmark = pytest.mark.integration

APPLICATION = "01-registration-complete"
# A Monday at 08:30 in Tokyo: before the 09:00 staff digest, so the run mails only what
# the application and the reply cause.
MONDAY_MORNING = dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.timezone.utc)


def _config(tmp_path, imap, smtp) -> Config:
    config = Config()
    config.paths.data_dir = str(tmp_path / "data")
    config.database.url = f"sqlite:///{tmp_path / 'mailflow.db'}"
    config.mailbox.type = "imap"
    config.mailbox.imap = imap_config(imap)
    config.outbound.type = "smtp"
    config.outbound.smtp.host = smtp.host
    config.outbound.smtp.port = smtp.port
    config.outbound.smtp.security = "plain"
    config.outbound.smtp.auth = "none"
    config.bureau.staff_addresses = [STAFF]
    config.bureau.notify_addresses = [STAFF_LIST]
    config.staff.authserv_id = AUTHSERV_ID
    return config


def _sent_to(smtp, address: str):
    return [parse_message(message.raw) for message in smtp.messages if address in message.rcpt_tos]


def test_reply_approves_application(tmp_path, imap_server, smtp_server):  # noqa: F811
    expected = json.loads((SAMPLE / "mailbox" / f"{APPLICATION}.json").read_text(encoding="utf-8"))
    applicant = expected["from"]["email"]
    app = App(_config(tmp_path, imap_server, smtp_server))
    clock.set_now(MONDAY_MORNING)
    try:
        imap_server.append("intake", "INBOX", (SAMPLE / "mailbox" / f"{APPLICATION}.eml").read_bytes())
        app.run_once()
        notifications = _sent_to(smtp_server, STAFF_LIST)
        assert len(notifications) == 1
        notification = notifications[0]
        token = re.search(r"\[(MF[0-9A-Z]{10})\]", notification.subject).group(1)
        assert notification.reply_to[0].address == f"intake+{token}@bureau.example.jp"

        reply = staff_reply(f"RE: {notification.subject}", "承認\n\n" + "\n".join(
            f"> {line}" for line in notification.body_text.splitlines()),
            to=f"intake+{token}@bureau.example.jp", in_reply_to=notification.message_id,
            message_id="<staff-approve-1@bureau.example.jp>", auth_results=[PASS])
        imap_server.append("intake", "INBOX", reply)
        app.run_once()

        results = [mail for mail in _sent_to(smtp_server, applicant) if "登録しました" in mail.subject]
        assert len(results) == 1
        period = registration_period(clock.today(), PeriodSettings.from_config(app.config.registry))
        assert japanese_date(period.expires_on) in results[0].body_text
        assert japanese_date(period.registered_on) in results[0].body_text
        confirmations = _sent_to(smtp_server, STAFF)
        assert len(confirmations) == 1
        with transaction(app.sessions) as session:
            mentor = session.scalars(select(Mentor)).one()
            item = session.scalars(select(ReviewItem)).one()
            assert (mentor.registered_on, mentor.expires_on) == (period.registered_on, period.expires_on)
            assert mentor.registration_number in results[0].body_text
            assert item.state == "approved"
    finally:
        clock.set_now(None)
        app.close()
