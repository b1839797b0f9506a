"""The intake corpus of the leak tests: every sample mail and every email case, with its personal values."""

from __future__ import annotations

import json
from pathlib import Path

from mailflow.intake.parse import parse_message
from tests.conftest import CASES, SAMPLE
from tests.leaks.scan import body_lines, personal_values

SAMPLE_STEMS = sorted(path.stem for path in (SAMPLE / "mailbox").glob("*.eml"))
PPAP_CASE = "case-13-ppap-encrypted-zip"
# Addresses of the bureau itself: they are no applicant's data and may be logged.
BUREAU_DOMAIN = "bureau.example.jp"
MIN_ASCII_LENGTH = 6
MIN_TEXT_LENGTH = 3


def email_case_mails() -> list[Path]:
    """Return the .eml inputs of every case whose kind is ``email``, e.g. case-13-ppap-encrypted-zip/mail-1-zip.eml."""
    mails = []
    for folder in sorted(CASES.glob("case-*")):
        expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
        if expected.get("kind") != "email":
            continue
        inputs = expected.get("inputs") or [expected.get("input")]
        mails.extend(folder / name for name in (inputs if isinstance(inputs, list) else [inputs]))
    return mails


def corpus() -> list[Path]:
    """Return every mail the leak tests take in: the sample mailbox, then the email cases."""
    return [SAMPLE / "mailbox" / f"{stem}.eml" for stem in SAMPLE_STEMS] + email_case_mails()


def case_values(path: Path) -> list[str]:
    """Return the sender, subject, body lines and file names of a case mail."""
    message = parse_message(path.read_bytes())
    values = [message.subject] if len(message.subject) >= 4 else []
    if message.from_ is not None:
        values += [message.from_.name, message.from_.address]
    values += body_lines(path.read_bytes())
    values += [attachment.filename for attachment in message.all_attachments() if attachment.filename]
    return values


def ppap_password() -> str:
    expected = json.loads((CASES / PPAP_CASE / "expected.json").read_text(encoding="utf-8"))
    return expected["expected"]["mail-2-password.eml"]["body_contains"][0]


def corpus_values() -> list[str]:
    """Return every personal value of the corpus: sample JSON and .eml values, case mail values, the PPAP password."""
    values: list[str] = []
    for stem in SAMPLE_STEMS:
        values += personal_values(stem)
        expected = json.loads((SAMPLE / "mailbox" / f"{stem}.json").read_text(encoding="utf-8"))
        values += [entry["filename"] for entry in expected["attachments"]]
    for path in email_case_mails():
        values += case_values(path)
    values.append(ppap_password())
    return sorted({value for value in values if _distinctive(value) and BUREAU_DOMAIN not in value})


def _distinctive(value: str | None) -> bool:
    """Return True for a value that cannot occur in a log line by chance.

    Short ASCII words such as the subject "form" are also words of our own log lines.
    """
    if not value:
        return False
    return len(value) >= MIN_ASCII_LENGTH if value.isascii() else len(value) >= MIN_TEXT_LENGTH
