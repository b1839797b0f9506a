"""run_sandboxed: a result crosses back, and time, memory and crashes end the child, not the caller."""

from __future__ import annotations

import faulthandler
import os
import signal
import time
from pathlib import Path

import pytest

from mailflow.intake.forms.grid import Extraction, Grid, GridCell
from mailflow.intake.limits import LimitExceeded
from mailflow.intake.sandbox import run_sandboxed

MIB = 1 << 20
SECONDS = 1.0
MEMORY = 64 * MIB
# How long the parent may take past the timeout to kill and reap the child.
KILL_MARGIN_SECONDS = 3.0


def sleep_forever() -> None:
    while True:
        time.sleep(1)


def allocate(size: int) -> int:
    return len(bytearray(size))


def abort_quietly() -> None:
    # pytest's faulthandler would print the child's stack on SIGABRT.
    faulthandler.disable()
    os.abort()


def raise_value_error() -> None:
    raise ValueError("bad cell")


def record_pid_and_sleep(path: Path) -> None:
    path.write_text(str(os.getpid()))
    sleep_forever()


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sandbox_returns_plain_data():
    grid = Grid(name="Sheet1")
    grid.add(GridCell(0, 0, "氏名"))
    grid.add(GridCell(0, 1, "山田 太郎"))

    result = run_sandboxed(lambda: Extraction(grids=[grid], text="氏名\t山田 太郎"), SECONDS, MEMORY)

    assert result.value.text == "氏名\t山田 太郎"
    assert result.value.grids[0].at(0, 1).value == "山田 太郎"
    assert result.exceeded is None


def test_sandbox_timeout_named():
    started = time.monotonic()

    result = run_sandboxed(sleep_forever, SECONDS, MEMORY)

    assert result.exceeded == LimitExceeded("max_extraction_seconds", None, SECONDS)
    assert time.monotonic() - started < SECONDS + KILL_MARGIN_SECONDS


def test_sandbox_timeout_kills_child(tmp_path):
    pid_file = tmp_path / "pid"

    run_sandboxed(lambda: record_pid_and_sleep(pid_file), SECONDS, MEMORY)

    assert not process_exists(int(pid_file.read_text()))


def test_sandbox_memory_named():
    result = run_sandboxed(lambda: allocate(4 * MEMORY), 30.0, MEMORY)

    assert result.exceeded == LimitExceeded("max_extraction_memory_bytes", None, MEMORY)


def test_sandbox_memory_within_budget():
    assert run_sandboxed(lambda: allocate(MEMORY // 4), 30.0, MEMORY).value == MEMORY // 4


def test_sandbox_exception_reported():
    result = run_sandboxed(raise_value_error, SECONDS, MEMORY)

    assert result.crash == "the reader raised ValueError"


def test_sandbox_crash_reported():
    result = run_sandboxed(abort_quietly, SECONDS, MEMORY)

    assert result.crash == "the reader process ended without a result (signal SIGABRT)"


def test_sandbox_killed_child_counts_as_memory():
    # The kernel's out-of-memory killer ends a process with SIGKILL.
    result = run_sandboxed(lambda: os.kill(os.getpid(), signal.SIGKILL), SECONDS, MEMORY)

    assert result.exceeded == LimitExceeded("max_extraction_memory_bytes", None, MEMORY)


def test_sandbox_interrupted_caller_kills_child(tmp_path):
    pid_file = tmp_path / "pid"

    class Interrupted(Exception):
        pass

    def interrupt(signum, frame):
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(Interrupted):
            run_sandboxed(lambda: record_pid_and_sleep(pid_file), 30.0, MEMORY)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    assert not process_exists(int(pid_file.read_text()))
