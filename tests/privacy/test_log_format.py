"""Logs keep no mail content: tracebacks above DEBUG without messages, IMAP wire logs without fetched mail."""

from __future__ import annotations

import logging
import sys

from mailflow.cli import configure_logging
from mailflow.privacy.log_format import (
    IMAP_WIRE_LOGGER,
    FetchDataFilter,
    MessageFreeTracebackFormatter,
    install_wire_filter,
)

NAME = "山田 太郎"


def read_form(value: str) -> int:
    return int(value)


def record_of_failure(level: int) -> logging.LogRecord:
    try:
        try:
            read_form(NAME)
        except ValueError as exc:
            raise RuntimeError(f"form of {NAME} failed") from exc
    except RuntimeError:
        return logging.LogRecord("mailflow.test", level, __file__, 1, "intake failed inbound=%s", (7,), sys.exc_info())


def formatted(level: int) -> str:
    return MessageFreeTracebackFormatter("%(levelname)s %(message)s").format(record_of_failure(level))


def test_error_traceback_without_message():
    assert NAME not in formatted(logging.ERROR)


def test_error_traceback_keeps_frames():
    text = formatted(logging.ERROR)
    assert "in read_form" in text
    assert "builtins.ValueError" in text
    assert "builtins.RuntimeError" in text
    assert "intake failed inbound=7" in text


def test_debug_traceback_complete():
    assert NAME in formatted(logging.DEBUG)


def test_cached_full_traceback_ignored():
    record = record_of_failure(logging.ERROR)
    logging.Formatter().format(record)
    assert NAME not in MessageFreeTracebackFormatter().format(record)


def test_cli_logging_uses_formatter(tmp_path):
    log_file = tmp_path / "mailflow.log"
    configure_logging("INFO", str(log_file))
    try:
        logging.getLogger("mailflow.test").handle(record_of_failure(logging.ERROR))
        for handler in logging.getLogger().handlers:
            handler.flush()
        text = log_file.read_text(encoding="utf-8")
    finally:
        for handler in logging.getLogger().handlers:
            handler.close()
        logging.getLogger().handlers.clear()
    assert "intake failed inbound=7" in text
    assert NAME not in text


def test_fetch_data_not_logged():
    install_wire_filter()
    install_wire_filter()
    record = logging.LogRecord(IMAP_WIRE_LOGGER, logging.DEBUG, __file__, 1,
                               "untagged_responses[FETCH] 1 += [\"%r\"]", ((b"1 (BODY[] {20}", NAME.encode()),), None)
    wire = logging.getLogger(IMAP_WIRE_LOGGER)
    assert len([item for item in wire.filters if isinstance(item, FetchDataFilter)]) == 1
    assert wire.filter(record)
    assert NAME.encode() not in record.getMessage().encode()
    assert "characters of mail data not logged" in record.getMessage()


def test_other_wire_lines_kept():
    record = logging.LogRecord(IMAP_WIRE_LOGGER, logging.DEBUG, __file__, 1, "< b'* CAPABILITY IMAP4rev1'", (), None)
    FetchDataFilter().filter(record)
    assert record.getMessage() == "< b'* CAPABILITY IMAP4rev1'"
