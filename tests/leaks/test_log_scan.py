"""The whole intake at INFO logs no personal value of any sample mail or email case.

The sample mails and cases named here feed it: every tests/fixtures/sample/mailbox/*.eml
and every email case (case-01-iso2022jp-nec-ibm-ext, case-03-iso2022jp-multi-encoded-words,
case-05-rfc2231-continuations, case-06-iphone-inline-and-name-only,
case-07-cp932-vs-shiftjis-wave-dash, case-10-bad-base64-padding,
case-11-forwarded-as-rfc822, case-13-ppap-encrypted-zip, case-14-auto-replies,
case-15-bounces-dsn-and-carrier).
"""

from __future__ import annotations

import logging

import pytest

from mailflow import clock
from mailflow.app import App
from mailflow.privacy.log_format import MessageFreeTracebackFormatter
from tests.leaks.corpus import corpus, corpus_values
from tests.leaks.scan import log_hits
from tests.mailbox.conftest import imap_server  # noqa: F401  (fixture)
from tests.privacy.populated import INTAKE_DAY, app_config, deliver, server_config

VALUES = corpus_values()


# The SMTP test server (aiosmtpd) runs in the test process and logs under this name;
# it is the receiving server, not part of mailflow.
TEST_SERVER_LOGGERS = ("mail.log",)


def logged_text(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> str:
    """Return every captured record of mailflow's process as an operator reads it, tracebacks included."""
    formatter = MessageFreeTracebackFormatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records
                     if record.levelno >= level and not record.name.startswith(TEST_SERVER_LOGGERS))


@pytest.fixture
def frozen():
    clock.set_now(INTAKE_DAY)
    yield
    clock.set_now(None)


def test_corpus_has_values():
    assert len(corpus()) >= 30
    assert len(VALUES) >= 200


def test_maildir_intake_logs_no_value(tmp_path, caplog, frozen):
    config = app_config(tmp_path)
    deliver(config, *corpus())
    caplog.set_level(logging.INFO)
    app = App(config)
    try:
        intake, _ = app.run_once()
    finally:
        app.close()
    assert intake.new == len(corpus())
    assert log_hits(logged_text(caplog), VALUES) == []


@pytest.mark.integration
def test_dovecot_smtp_intake_logs_no_value(tmp_path, caplog, frozen, imap_server, smtp_server):  # noqa: F811
    config = server_config(tmp_path, imap_server, smtp_server)
    for path in corpus():
        imap_server.append("intake", "INBOX", path.read_bytes())
    caplog.set_level(logging.INFO)
    app = App(config)
    try:
        intake, sent = app.run_once()
    finally:
        app.close()
    assert intake.new == len(corpus())
    assert sent.sent == len(smtp_server.messages)
    assert sent.sent > 0
    assert log_hits(logged_text(caplog), VALUES) == []
