"""Checks shared by the intake integration tests on IMAP + SMTP and on Maildir + files."""

from __future__ import annotations

import os
from pathlib import Path

from mailflow.app import App
from mailflow.intake.findings import DOCUMENT_LABELS, DOCUMENT_ROLES

from tests.conftest import FIXTURES
from tests.integration.harness import (
    STAFF,
    SampleMail,
    documents_of,
    inbound_for,
    item_for,
    last_message_of_item,
    message_id_of,
    parse,
)

GOLDEN = FIXTURES / "golden" / "receipts"
GOLDEN_HEADERS = ("To", "Reply-To", "Subject", "In-Reply-To", "References", "Auto-Submitted",
                  "X-Auto-Response-Suppress", "Content-Type", "Content-Transfer-Encoding")
FOLDER_OF_KIND = {"auto_reply": "auto", "bounce": "auto"}

# Words that tell the kinds of answer apart, as the sample .json files name them.
REPLY_SUBJECT_WORDS = {
    "receipt": "書類を受け付けました",
    "receipt listing missing items": "書類を受け付けました",
    "request masked identity document": "書類再送のお願い",
    "change notice receipt": "変更届を受け付けました",
    "withdrawal receipt": "登録取り消しのお申し出を受け付けました",
    "inquiry receipt": "お問い合わせを受け付けました",
    "challenge list receipt": "参加企業課題一覧を受け付けました",
}


def replies_to(sent: list[bytes], message_id: str) -> list:
    return [parse(raw) for raw in sent if parse(raw)["in-reply-to"] == message_id]


def check_folders(mails: list[SampleMail], folder_of: dict[str, str]) -> None:
    for mail in mails:
        expected = FOLDER_OF_KIND.get(mail.expected["message_kind"], "processed")
        assert folder_of.get(mail.expected["message_id"]) == expected, mail.stem


def check_items(app: App, mails: list[SampleMail]) -> None:
    last = last_message_of_item(mails, app)
    for mail in mails:
        expected = mail.expected
        item = item_for(app, expected["message_id"])
        if expected["review_state"] is None:
            assert item is None, mail.stem
            continue
        assert item is not None, mail.stem
        assert item.kind == expected["message_kind"], mail.stem
        if last[item.id] is mail:
            assert item.state == expected["review_state"], mail.stem
            documents = expected.get("documents_after_merge") or expected["documents"]
            if item.checklist:
                assert item.checklist == documents, mail.stem
        for code in expected["warnings"]:
            assert code in [warning["code"] for warning in item.warnings], (mail.stem, code)
        applicant = expected.get("applicant") or {}
        if "birth_date" in applicant:
            for key, value in applicant.items():
                assert item.form_values.get(key) == value, (mail.stem, key)
        _check_identity(app, item.id, mail)


def _check_identity(app: App, item_id: int, mail: SampleMail) -> None:
    expected_type = mail.expected["identity_document_type"]
    if expected_type is None:
        return
    types = [document.identity_type for document in documents_of(app, item_id) if document.role == "identity_document"]
    assert expected_type in types, mail.stem


def check_replies(mails: list[SampleMail], sent: list[bytes], recipients_of: dict[bytes, tuple[str, ...]]) -> None:
    for mail in mails:
        expected = mail.expected
        answers = replies_to(sent, expected["message_id"])
        sender = expected["from"]["email"]
        if expected["expected_reply"] == "none":
            assert answers == [], mail.stem
            assert all(sender.lower() not in (r.lower() for r in rcpts) for rcpts in recipients_of.values()), mail.stem
            continue
        to_sender = [answer for answer in answers if sender in answer["to"]]
        assert len(to_sender) == 1, mail.stem
        answer = to_sender[0]
        assert REPLY_SUBJECT_WORDS[expected["expected_reply"]] in answer["subject"], mail.stem
        assert answer["auto-submitted"] == "auto-replied", mail.stem
        body = answer.get_body(("plain",)).get_content()
        missing = expected["missing_items"]
        if expected["expected_reply"] == "receipt listing missing items":
            for role in missing:
                assert DOCUMENT_LABELS[role] in body.split("まだ届いていない書類")[1], (mail.stem, role)
        if expected["expected_reply"] == "receipt":
            assert "まだ届いていない書類" not in body, mail.stem
        if expected["expected_reply"] == "request masked identity document":
            assert "個人番号" in body, mail.stem
        if expected["expected_reply"] == "inquiry receipt":
            forwards = [answer for answer in answers if STAFF in answer["to"]]
            assert len(forwards) == 1, mail.stem
            assert sender in forwards[0]["reply-to"], mail.stem


def check_no_defects(sent: list[bytes]) -> None:
    for raw in sent:
        message = parse(raw)
        for part in message.walk():
            assert not part.defects, (message["subject"], part.defects)


def golden_text(message) -> str:
    lines = [f"{name}: {message[name]}" for name in GOLDEN_HEADERS if message[name] is not None]
    body = message.get_body(("plain",)).get_content()
    return "\n".join(lines) + "\n\n" + body


def check_golden(sent: list[bytes], names: dict[str, str]) -> None:
    """Compare each answer to a golden file named after the mail it answers.

    ``names`` maps Message-ID to the golden file's stem; run with
    MAILFLOW_UPDATE_GOLDEN=1 to write the files after a reviewed change.
    """
    update = os.environ.get("MAILFLOW_UPDATE_GOLDEN") == "1"
    seen = set()
    for raw in sent:
        message = parse(raw)
        stem = names.get(message["in-reply-to"])
        if stem is None:
            continue
        suffix = "staff" if STAFF in message["to"] else "reply"
        path = GOLDEN / f"{stem}.{suffix}.txt"
        text = golden_text(message)
        seen.add(path)
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            continue
        assert path.is_file(), f"no golden file {path.name}; review the answer and rerun with MAILFLOW_UPDATE_GOLDEN=1"
        assert text == path.read_text(encoding="utf-8"), path.name
    stale = set(GOLDEN.glob("*.txt")) - seen if GOLDEN.is_dir() else set()
    assert not stale, f"golden files no answer matched: {sorted(p.name for p in stale)}"


def golden_names(mails: list[SampleMail], case_paths: list[Path]) -> dict[str, str]:
    names = {mail.expected["message_id"]: mail.stem for mail in mails}
    for path in case_paths:
        message_id = message_id_of(path.read_bytes())
        if message_id:
            names[message_id] = f"{path.parent.name}--{path.stem}"
    return names


def check_cases(app: App, cases: list[Path], sent: list[bytes], folder_of: dict[str, str]) -> None:
    """Each email case ends in the folder its decision calls for, and no automatic
    reply or bounce is ever answered."""
    import json

    answered = {parse(raw)["in-reply-to"] for raw in sent}
    for path in cases:
        spec = json.loads((path.parent / "expected.json").read_text(encoding="utf-8"))["expected"]
        expected = spec.get(path.name, spec)
        decision = expected.get("decision")
        message_id = message_id_of(path.read_bytes())
        inbound = inbound_for(app, message_id)
        assert inbound is not None, path.name
        assert inbound.decision == decision, path.name
        folder = "auto" if decision in ("ignore_auto_reply", "bounce") else "processed"
        assert folder_of.get(message_id) == folder, path.name
        if expected.get("send_reply") is False or decision in ("ignore_auto_reply", "bounce"):
            assert message_id not in answered, path.name
