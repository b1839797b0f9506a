"""Cap the bytes pdfminer may decode from the streams of one PDF, so a flate bomb stops early.

pdfminer.six (checked with 20260107) has no size limit of its own. ``PDFStream.decode``
inflates a FlateDecode stream with one ``zlib.decompress`` call and expands LZW and
RunLength data completely. It retries a stream with a bad checksum one byte at a time,
with quadratic copying. A PDF of a few MB can therefore ask for many GB. :func:`install`
replaces those decoders in ``pdfminer.pdftypes`` with versions that count every decoded
byte against a budget and raise :class:`StreamBudgetExceeded` past it, stopping inside
the first stream that crosses the budget.

Inside :func:`stream_budget` one budget covers every stream decoded by the current
thread or task; outside it, each stream gets a budget of its own of the default size.
The CCITT fax filter and the predictors still run unbounded: they are bounded by the
process limits of :mod:`mailflow.intake.sandbox` instead.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pdfminer.pdftypes
from pdfminer.lzw import LZWDecoder
from pdfminer.runlength import rldecode as pdfminer_rldecode

# Bytes fed to the inflater at once when salvaging a stream with a damaged end: small
# enough that replaying one piece byte by byte is cheap.
_SALVAGE_PIECE = 4096
# The shortest RunLength run that repeats a byte: a length byte and the byte itself.
_RUN_BYTES = 2


class StreamBudgetExceeded(Exception):
    """Decoding a stream would pass the decoded-bytes budget; the stream was not decoded further.

    Deliberately not a ``zlib.error``, so that pdfminer does not retry the stream as damaged.
    """


@dataclass
class StreamBudget:
    """Decoded bytes allowed for one document, how many were decoded, and whether it ran out.

    ``exceeded`` stays True once set, so a caller learns of an overrun even when a
    library catches the exception on the way.
    """

    maximum: int
    used: int = 0
    exceeded: bool = False

    @property
    def remaining(self) -> int:
        return max(self.maximum - self.used, 0)

    def take(self, size: int) -> None:
        """Count ``size`` decoded bytes; raises StreamBudgetExceeded when they pass the maximum."""
        self.used += size
        if self.used > self.maximum:
            self.exceeded = True
            raise StreamBudgetExceeded(f"PDF streams decode to more than {self.maximum} bytes")


_current_budget: contextvars.ContextVar[StreamBudget | None] = contextvars.ContextVar("pdf_stream_budget", default=None)
_default_maximum = 0
_install_lock = threading.Lock()


@contextlib.contextmanager
def stream_budget(maximum: int) -> Iterator[StreamBudget]:
    """Share one budget of ``maximum`` decoded bytes among every stream decoded in the block."""
    budget = StreamBudget(maximum)
    token = _current_budget.set(budget)
    try:
        yield budget
    finally:
        _current_budget.reset(token)


def install(default_maximum: int) -> None:
    """Replace pdfminer's stream decoders with the counting ones; later calls only change the default.

    ``default_maximum`` is the budget of a stream decoded outside :func:`stream_budget`.
    Raises RuntimeError when pdfminer no longer has the functions replaced here, so that
    an upgrade that would silently remove the cap fails at start-up and in the tests.
    """
    global _default_maximum
    with _install_lock:
        _default_maximum = default_maximum
        if isinstance(pdfminer.pdftypes.zlib, _CountingZlib):
            return
        missing = [name for name in ("zlib", "lzwdecode", "rldecode", "decompress_corrupted")
                   if not hasattr(pdfminer.pdftypes, name)]
        if missing:
            raise RuntimeError(f"pdfminer.pdftypes has no {', '.join(missing)}; the PDF stream cap cannot be installed")
        pdfminer.pdftypes.zlib = _CountingZlib()
        pdfminer.pdftypes.lzwdecode = _lzw_decode
        pdfminer.pdftypes.rldecode = _run_length_decode
        pdfminer.pdftypes.decompress_corrupted = _salvage_inflate


def _budget() -> StreamBudget:
    return _current_budget.get() or StreamBudget(_default_maximum)


class _CountingInflater:
    """A ``zlib.decompressobj`` whose output is counted against the budget as it is produced."""

    def __init__(self, budget: StreamBudget, inflater=None) -> None:
        self._budget = budget
        self._inflater = inflater or zlib.decompressobj()

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        # Asking for one byte more than the budget allows is enough to detect an overrun
        # without inflating the rest of a bomb.
        limit = self._budget.remaining + 1
        output = self._inflater.decompress(data, min(max_length, limit) if max_length else limit)
        self._budget.take(len(output))
        return output

    def copy(self) -> _CountingInflater:
        return _CountingInflater(self._budget, self._inflater.copy())

    @property
    def eof(self) -> bool:
        return self._inflater.eof


class _CountingZlib:
    """Stands in for the ``zlib`` module inside ``pdfminer.pdftypes``."""

    error = zlib.error

    def decompress(self, data: bytes) -> bytes:
        """Inflate a whole zlib stream like ``zlib.decompress``, within the budget."""
        inflater = _CountingInflater(_budget())
        output = inflater.decompress(data)
        if not inflater.eof:
            raise zlib.error("Error -5 while decompressing data: incomplete or truncated stream")
        return output

    def decompressobj(self) -> _CountingInflater:
        return _CountingInflater(_budget())


def _salvage_inflate(data: bytes) -> bytes:
    """Inflate a stream whose checksum is damaged, in linear time and within the budget.

    Keeps pdfminer's rule: an error in the last four bytes (the Adler-32 checksum) returns
    what was inflated before it, and an error earlier raises ``zlib.error``.
    """
    inflater = _CountingInflater(_budget())
    pieces: list[bytes] = []
    for start in range(0, len(data), _SALVAGE_PIECE):
        piece = data[start:start + _SALVAGE_PIECE]
        saved = inflater.copy()
        try:
            pieces.append(inflater.decompress(piece))
        except zlib.error:
            # Replay the failing piece byte by byte from the saved state to find where it breaks.
            inflater = saved
            for offset in range(len(piece)):
                try:
                    pieces.append(inflater.decompress(piece[offset:offset + 1]))
                except zlib.error:
                    if start + offset < len(data) - 3:
                        raise
                    break
            break
    return b"".join(pieces)


def _lzw_decode(data: bytes) -> bytes:
    """Expand LZW data like pdfminer's ``lzwdecode``, stopping once the budget is spent."""
    budget = _budget()
    pieces: list[bytes] = []
    for piece in LZWDecoder(io.BytesIO(data)).run():
        budget.take(len(piece))
        pieces.append(piece)
    return b"".join(pieces)


def _run_length_decode(data: bytes) -> bytes:
    """Expand RunLength data like pdfminer's ``rldecode`` once its decoded size fits the budget."""
    budget = _budget()
    budget.take(_run_length_size(data, budget.remaining))
    return pdfminer_rldecode(data)


def _run_length_size(data: bytes, ceiling: int) -> int:
    """Return the decoded size of RunLength ``data``, or ``ceiling + 1`` once it passes ``ceiling``.

    A length byte 0–127 copies the next length+1 bytes, 129–255 repeats the next byte
    257-length times, and 128 ends the data (PDF 1.7, 7.4.5).
    """
    size = 0
    position = 0
    while position < len(data) and size <= ceiling:
        length = data[position]
        if length == 128:
            break
        if length < 128:
            size += min(length + 1, len(data) - position - 1)
            position += length + 2
        else:
            size += 257 - length
            position += _RUN_BYTES
    return size

