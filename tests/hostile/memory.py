"""Peak resident memory of the test process over one block of code (Linux)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class PeakGrowth:
    """How far the peak RSS rose above the RSS at the start of the block, in bytes."""

    bytes: int = 0


def _status_kib(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE).group(1))


@contextlib.contextmanager
def peak_growth() -> Iterator[PeakGrowth]:
    """Measure the growth of the peak RSS (VmHWM) during the block.

    Writing 5 to /proc/self/clear_refs resets VmHWM to the current RSS (Linux 4.0 and
    later), so earlier tests in the same process do not count.
    """
    _CLEAR_REFS.write_text("5")
    start = _status_kib("VmRSS")
    growth = PeakGrowth()
    try:
        yield growth
    finally:
        growth.bytes = (_status_kib("VmHWM") - start) * 1024
