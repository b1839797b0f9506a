"""bench/sandbox.py still runs in --quick mode, and the sandboxed reads match the direct ones.

The timing itself is reported in BENCHMARKS.md, not checked here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT_TIMEOUT_SECONDS = 120
# The forms bench/sandbox.py reads, one per reader; case-16-xls-biff-form gives the xls.
DOCUMENTS = ["Form 1, xlsx", "Form 1, docx", "Form 2, text PDF", "Form 1, xls (case-16)"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> dict:
    output = tmp_path_factory.mktemp("sandbox-bench") / "sandbox.json"
    completed = subprocess.run(
        [sys.executable, str(REPO / "bench" / "sandbox.py"), "--quick", "--json", str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_SECONDS, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(output.read_text(encoding="utf-8"))


def test_bench_reads_every_form(quick_run):
    assert sorted(quick_run["checks"]["documents"]) == sorted(DOCUMENTS)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_bench_sandboxed_text_same(quick_run, document):
    assert quick_run["checks"]["documents"][document]["same_text"] is True


@pytest.mark.parametrize("document", DOCUMENTS)
def test_bench_overhead_every_round(quick_run, document):
    assert quick_run["checks"]["documents"][document]["overhead_ms"]["rounds"] == quick_run["rounds"]


def test_bench_fork_table_two_sizes(quick_run):
    assert len(quick_run["checks"]["empty_call_ms"]) == 2
