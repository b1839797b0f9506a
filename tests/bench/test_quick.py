"""The benchmark scripts in bench/ still run in --quick mode and still check what they measure.

Each script runs once per module as a subprocess, the way a person runs it, and writes
its tables and checked values as JSON; the tests compare those with the fixtures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CASES, SAMPLE
from tests.servers import REQUIRE_SERVERS_ENV

REPO = Path(__file__).resolve().parents[2]
SCRIPT_TIMEOUT_SECONDS = 120
SAMPLE_COUNT = len(list((SAMPLE / "mailbox").glob("*.eml")))
CASE_01 = "case-01-iso2022jp-nec-ibm-ext"
CASE_07 = "case-07-cp932-vs-shiftjis-wave-dash"


def run_quick(script: str, tmp_path: Path) -> dict:
    """Run ``bench/<script>.py --quick`` and return the JSON it wrote."""
    output = tmp_path / f"{script}.json"
    completed = subprocess.run(
        [sys.executable, str(REPO / "bench" / f"{script}.py"), "--quick", "--json", str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_SECONDS, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(output.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def decoding(tmp_path_factory) -> dict:
    return run_quick("decoding", tmp_path_factory.mktemp("decoding"))


@pytest.fixture(scope="module")
def analysis(tmp_path_factory) -> dict:
    return run_quick("analysis", tmp_path_factory.mktemp("analysis"))


@pytest.fixture(scope="module")
def intake(tmp_path_factory) -> dict:
    return run_quick("intake", tmp_path_factory.mktemp("intake"))


@pytest.fixture(scope="module")
def sending(tmp_path_factory) -> dict:
    return run_quick("sending", tmp_path_factory.mktemp("sending"))


def expected_case(case: str) -> dict:
    return json.loads((CASES / case / "expected.json").read_text(encoding="utf-8"))


# Decoding -----------------------------------------------------------------------------


def test_decoding_parse_message_all_right(decoding):
    result = decoding["checks"]["correctness"]["mailflow parse_message"]
    assert result["wrong"] == []
    assert result["crashes"] == []


def test_decoding_checks_every_mail(decoding):
    mails = SAMPLE_COUNT + len(list(CASES.glob("case-*/*.eml")))
    for result in decoding["checks"]["correctness"].values():
        assert result["checked"] >= 2 * mails


@pytest.mark.parametrize("decoder", ["stdlib email, policy.default", "mail-parser"])
def test_decoding_case_01_body_wrong(decoding, decoder):
    mail = f"{CASE_01}/{expected_case(CASE_01)['input']}"
    assert [mail, "body text"] in decoding["checks"]["correctness"][decoder]["wrong"]


def test_decoding_case_07_stdlib_wrong(decoding):
    mail = f"{CASE_07}/{expected_case(CASE_07)['input']}"
    assert [mail, "body text"] in decoding["checks"]["correctness"]["stdlib email, policy.default"]["wrong"]


def test_decoding_rates_measured(decoding):
    for name, rate in decoding["checks"]["speed"].items():
        assert rate["median"] > 0, name
        assert rate["rounds"] == decoding["rounds"], name


# Analysis -----------------------------------------------------------------------------


def test_analysis_kinds_match_samples(analysis):
    for label, kind in analysis["checks"]["kinds"].items():
        stem = label.rsplit("(", 1)[1].rstrip(")")
        expected = json.loads((SAMPLE / "mailbox" / f"{stem}.json").read_text(encoding="utf-8"))
        assert kind == expected["message_kind"], label


def test_analysis_every_kind_timed(analysis):
    timed = analysis["checks"]["ms_per_message"]
    assert set(analysis["checks"]["kinds"]) <= set(timed)
    for label, value in timed.items():
        assert value["median"] > 0, label


def test_analysis_every_kind_profiled(analysis):
    profile = analysis["checks"]["profile"]
    assert set(profile) == set(analysis["checks"]["kinds"])
    for label, entries in profile.items():
        assert entries, label


# Intake -------------------------------------------------------------------------------


def test_intake_takes_in_every_copy(intake):
    mails = intake["checks"]["mails_per_round"]
    assert mails % SAMPLE_COUNT == 0
    for name, setup in intake["checks"]["setups"].items():
        assert setup["new"] == [mails] * intake["rounds"], name


def test_intake_no_quarantine_or_failed_move(intake):
    for name, setup in intake["checks"]["setups"].items():
        assert set(setup["quarantined"]) == {0}, name
        assert set(setup["failed_moves"]) == {0}, name


def test_intake_setups_send_same_answers(intake):
    setups = intake["checks"]["setups"]
    if len(setups) < 2:
        pytest.skip(intake["checks"].get("skipped", "only one set-up ran"))
    assert len({tuple(setup["sent"]) for setup in setups.values()}) == 1


def test_intake_servers_not_skipped(intake):
    if os.environ.get(REQUIRE_SERVERS_ENV) != "1":
        pytest.skip(f"checked only with {REQUIRE_SERVERS_ENV}=1")
    assert "skipped" not in intake["checks"]


# Sending ------------------------------------------------------------------------------


def test_sending_every_row_sent(sending):
    batch = sending["checks"]["batch"]
    for name, alternative in sending["checks"]["alternatives"].items():
        assert alternative["sent"] == [batch] * sending["rounds"], name


def test_sending_every_message_received(sending):
    batch = sending["checks"]["batch"]
    for name, alternative in sending["checks"]["alternatives"].items():
        assert alternative["received"] == [batch] * sending["rounds"], name
