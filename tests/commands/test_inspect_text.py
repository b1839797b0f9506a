"""The Japanese text of ``mailflow inspect``: labels for the codes that ``--json`` keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailflow.cli import main
from mailflow.commands.inspect import (
    DECISION_LABELS,
    MESSAGE_KIND_LABELS,
    NO_KIND,
    document_labels,
)
from mailflow.intake.attachments import load_attachment_rules
from tests.conftest import CASES, SAMPLE

SAMPLE_MAILS = sorted((SAMPLE / "mailbox").glob("*.eml"))
PPAP_CASE = "case-13-ppap-encrypted-zip"
PPAP_MAIL = CASES / PPAP_CASE / "mail-1-zip.eml"
LABELS = document_labels(load_attachment_rules())


@pytest.fixture(autouse=True)
def no_local_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run each command with the built-in rules, whatever config.toml the working folder has."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAILFLOW_CONFIG", raising=False)


def inspect_text(path: Path, capsys) -> list[str]:
    assert main(["inspect", str(path)]) == 0
    return capsys.readouterr().out.splitlines()


def inspect_json(path: Path, capsys) -> dict:
    assert main(["inspect", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def expected_of(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", SAMPLE_MAILS, ids=lambda path: path.stem)
def test_kind_line_japanese(path: Path, capsys) -> None:
    decision = inspect_json(path, capsys)["decision"]
    kind = expected_of(path)["message_kind"]
    lines = inspect_text(path, capsys)
    assert f"種類: {MESSAGE_KIND_LABELS[kind]}（判定: {DECISION_LABELS[decision]}）" in lines


@pytest.mark.parametrize("path", SAMPLE_MAILS, ids=lambda path: path.stem)
def test_attachment_lines_japanese(path: Path, capsys) -> None:
    lines = inspect_text(path, capsys)
    for attachment in expected_of(path)["attachments"]:
        line = next(line for line in lines if line.startswith(f"添付: {attachment['filename']}（"))
        assert line.endswith(f"→ {LABELS[attachment['role']]}")


@pytest.mark.parametrize("path", SAMPLE_MAILS, ids=lambda path: path.stem)
def test_json_keeps_codes(path: Path, capsys) -> None:
    report = inspect_json(path, capsys)
    expected = expected_of(path)
    assert report["message_kind"] == expected["message_kind"]
    assert [attachment["kind"] for attachment in report["attachments"]] == [
        attachment["role"] for attachment in expected["attachments"]]


def test_archive_line_without_kind(capsys) -> None:
    lines = inspect_text(PPAP_MAIL, capsys)
    archive = expected_of(CASES / PPAP_CASE / "expected")["expected"]["mail-1-zip.eml"]["attachments"][0]
    line = next(line for line in lines if line.startswith(f"添付: {archive['filename']}（"))
    assert line.endswith(f"→ {NO_KIND}")
    assert "パスワード付き" in line


def test_archive_member_indented(capsys) -> None:
    lines = inspect_text(PPAP_MAIL, capsys)
    expected = expected_of(CASES / PPAP_CASE / "expected")["expected"]["mail-1-zip.eml"]
    member = expected["zip_entries"][0]["name"]
    assert any(line.startswith(f"  添付: {member}（") for line in lines)


def test_archive_decision_japanese(capsys) -> None:
    lines = inspect_text(PPAP_MAIL, capsys)
    decision = expected_of(CASES / PPAP_CASE / "expected")["expected"]["mail-1-zip.eml"]["decision"]
    kind_line = next(line for line in lines if line.startswith("種類: "))
    assert kind_line.endswith(f"（判定: {DECISION_LABELS[decision]}）")


def test_no_none_in_text(capsys) -> None:
    text = "\n".join(inspect_text(PPAP_MAIL, capsys))
    assert "None" not in text
