"""The installed entry point when the reader of its output closes the pipe early."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mailflow.cli import BROKEN_PIPE_EXIT


def run_into_closed_pipe(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m mailflow ARGV`` with stdout on a pipe whose read end is already closed."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    environment = {key: value for key, value in os.environ.items() if key != "MAILFLOW_CONFIG"}
    try:
        return subprocess.run(
            [sys.executable, "-m", "mailflow", *argv],
            stdout=write_end, stderr=subprocess.PIPE, cwd=tmp_path, env=environment, timeout=60, check=False,
        )
    finally:
        os.close(write_end)


def test_closed_pipe_exit_code(tmp_path: Path) -> None:
    result = run_into_closed_pipe(tmp_path, "calendar", "notice-window", "2027-03-10")
    assert result.returncode == BROKEN_PIPE_EXIT


def test_closed_pipe_no_traceback(tmp_path: Path) -> None:
    result = run_into_closed_pipe(tmp_path, "calendar", "notice-window", "2027-03-10")
    assert result.stderr == b""
