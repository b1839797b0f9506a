"""Keep mail content out of logs: tracebacks without exception messages, IMAP wire logs without mail.

Exception messages may quote what was being processed: a header value the parser
rejected, a form cell that was not a number, the parameters of a failed SQL statement.
Operators still need to know where an error happened, so records above DEBUG keep the
frames and the exception class of each exception in the chain, and DEBUG records keep
the whole traceback.

imapclient logs the IMAP wire traffic at DEBUG, and with it (through imaplib) every
fetched message in full. Personal data may appear at DEBUG, but an individual number
or a password never may, so :class:`FetchDataFilter` replaces that data by its size.
"""

from __future__ import annotations

import logging
import re
import traceback
from types import TracebackType

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

WITHHELD = "(message withheld: it may quote mail content; run with --log-level DEBUG to see it)"
IMAP_WIRE_LOGGER = "imapclient.imaplib"
_FETCH_DATA = re.compile(r"untagged_responses\[FETCH\]")


class MessageFreeTracebackFormatter(logging.Formatter):
    """Format records as :class:`logging.Formatter` does, with :func:`traceback_without_messages` above DEBUG."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None) -> None:
        super().__init__(fmt, datefmt)
        self._full = logging.Formatter(fmt, datefmt)

    def formatException(self, ei) -> str:
        return traceback_without_messages(ei)

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno <= logging.DEBUG:
            return self._full.format(record)
        # Another handler may have cached the full traceback on the record already.
        cached, record.exc_text = record.exc_text, None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached


def traceback_without_messages(exc_info: ExcInfo) -> str:
    """Return the traceback of ``exc_info`` and of the exceptions it chains, with class names instead of messages."""
    blocks = []
    current: traceback.TracebackException | None = traceback.TracebackException(*exc_info)
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = f"{current.exc_type.__module__}.{current.exc_type.__qualname__}" if current.exc_type else "Exception"
        blocks.append("Traceback (most recent call last):\n" + "".join(current.stack.format()) + f"{name} {WITHHELD}")
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    return "\n\nwhich was raised while handling or because of:\n\n".join(reversed(blocks))


class FetchDataFilter(logging.Filter):
    """Replace the FETCH response data that imaplib logs at DEBUG by its length, keeping the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _FETCH_DATA.search(message):
            record.msg = "untagged_responses[FETCH]: %d characters of mail data not logged"
            record.args = (len(message),)
        return True


def install_wire_filter() -> None:
    """Attach :class:`FetchDataFilter` to imapclient's wire logger once per process."""
    wire = logging.getLogger(IMAP_WIRE_LOGGER)
    if not any(isinstance(existing, FetchDataFilter) for existing in wire.filters):
        wire.addFilter(FetchDataFilter())
