"""Decisions on the case fixtures and kinds on the sample mailbox, through the parser.

The attachment classifier normally sets each attachment's kind first. Most tests here take
the kinds from the expected ``role`` of each file (matched by SHA-256), so that they check
the message classifier alone; the ``pipeline`` tests run the attachment classifier too.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mailflow.intake.classify import classify_message, screen_message
from tests.classify.helpers import CASES, MAILBOX, parse_file, read_json, set_kinds_from_roles

AUTO_REPLIES = CASES / "case-14-auto-replies"
BOUNCES = CASES / "case-15-bounces-dsn-and-carrier"
FORWARDED = CASES / "case-11-forwarded-as-rfc822"
PPAP = CASES / "case-13-ppap-encrypted-zip"


def case_expectations(folder: Path) -> list[tuple[str, dict]]:
    return list(read_json(folder / "expected.json")["expected"].items())


@pytest.mark.parametrize(("name", "expected"), case_expectations(AUTO_REPLIES))
def test_auto_replies_decision(rules, name: str, expected: dict) -> None:
    """case-14-auto-replies: the decision of each of the five inputs."""
    result = classify_message(parse_file(AUTO_REPLIES / name), rules)
    assert result.decision == expected["decision"]


@pytest.mark.parametrize(("name", "expected"), case_expectations(AUTO_REPLIES))
def test_auto_replies_send_reply(rules, name: str, expected: dict) -> None:
    """case-14-auto-replies: whether each input gets an automatic reply."""
    result = classify_message(parse_file(AUTO_REPLIES / name), rules)
    assert result.send_reply == expected["send_reply"]


@pytest.mark.parametrize(("name", "expected"), case_expectations(BOUNCES))
def test_bounces_decision(rules, name: str, expected: dict) -> None:
    """case-15-bounces-dsn-and-carrier: both reports are bounces, with no reply."""
    result = classify_message(parse_file(BOUNCES / name), rules)
    assert result.decision == expected["decision"]
    assert result.send_reply == expected["send_reply"]


@pytest.mark.parametrize(("name", "expected"), case_expectations(BOUNCES))
def test_bounces_failed_recipient(rules, name: str, expected: dict) -> None:
    """case-15-bounces-dsn-and-carrier: the failed address in the classification."""
    result = classify_message(parse_file(BOUNCES / name), rules)
    assert result.bounce is not None
    addresses = [recipient.address for recipient in result.bounce.failed_recipients]
    assert addresses == [expected["failed_recipient"]]


def test_bounce_status(rules) -> None:
    """case-15-bounces-dsn-and-carrier: the DSN's status code."""
    expected = read_json(BOUNCES / "expected.json")["expected"]["dsn-rfc3464.eml"]
    result = classify_message(parse_file(BOUNCES / "dsn-rfc3464.eml"), rules)
    assert result.bounce is not None
    assert result.bounce.failed_recipients[0].status == expected["status"]


def test_bounce_returned_form_never_read(rules) -> None:
    """case-15-bounces-dsn-and-carrier: the returned xlsx never makes the DSN an application.

    Every attachment and returned part is marked as a registration form, the worst the
    attachment classifier could do; screening still decides ``bounce`` first.
    """
    message = parse_file(BOUNCES / "dsn-rfc3464.eml")
    for part in [*message.all_attachments(), *message.report_parts]:
        for attachment in part.walk():
            attachment.kind = "registration_form"
    screened = screen_message(message, rules)
    assert screened is not None
    assert screened.decision == "bounce"
    assert classify_message(message, rules).kind == "bounce"


def test_bounce_returned_xlsx_not_attachment() -> None:
    """case-15-bounces-dsn-and-carrier: the returned ご案内.xlsx is not among the attachments."""
    message = parse_file(BOUNCES / "dsn-rfc3464.eml")
    assert [attachment.filename for attachment in message.all_attachments()] == []


def test_forwarded_decision(rules) -> None:
    """case-11-forwarded-as-rfc822: processed, with the inner From recorded."""
    expected = read_json(FORWARDED / "expected.json")["expected"]
    message = parse_file(FORWARDED / "mail.eml")
    nested_forms = [{**entry, "role": "registration_form"} for entry in expected["attachments_nested"]]
    set_kinds_from_roles(message, nested_forms)
    result = classify_message(message, rules)
    assert result.decision == expected["decision"]
    assert result.forwarded_from == expected["forwarded_original_from"]
    assert result.kind == "registration"


def test_password_mail_decision(rules) -> None:
    """case-13-ppap-encrypted-zip: the password mail is processed without a reply of its own."""
    expected = read_json(PPAP / "expected.json")["expected"]["mail-2-password.eml"]
    result = classify_message(parse_file(PPAP / "mail-2-password.eml"), rules)
    assert result.decision == expected["decision"]
    assert not result.send_reply


def test_password_mail_secret_absent(rules) -> None:
    """case-13-ppap-encrypted-zip: the password appears in no reason."""
    expected = read_json(PPAP / "expected.json")["expected"]["mail-2-password.eml"]
    result = classify_message(parse_file(PPAP / "mail-2-password.eml"), rules)
    for secret in expected["body_contains"]:
        assert not any(secret in reason for reason in result.reasons)


def test_encrypted_zip_decision(rules) -> None:
    """case-13-ppap-encrypted-zip: the encrypted zip is held for a person."""
    expected = read_json(PPAP / "expected.json")["expected"]["mail-1-zip.eml"]
    message = parse_file(PPAP / "mail-1-zip.eml")
    # The container reader sets this flag; it is set here so the test does not depend on it.
    for attachment in message.attachments:
        attachment.encrypted = True
    assert classify_message(message, rules).decision == expected["decision"]


SAMPLES = sorted(path.stem for path in MAILBOX.glob("*.eml"))


def classify_sample(rules, stem: str):
    expected = read_json(MAILBOX / f"{stem}.json")
    message = parse_file(MAILBOX / f"{stem}.eml")
    set_kinds_from_roles(message, expected["attachments"])
    applicant = expected.get("applicant") or {}
    return classify_message(message, rules, applicant.get("application_type")), expected


@pytest.mark.parametrize("stem", SAMPLES)
def test_sample_kind(rules, stem: str) -> None:
    result, expected = classify_sample(rules, stem)
    assert result.kind == expected["message_kind"]


@pytest.fixture(scope="module")
def attachment_classifier():
    """Return a function that classifies every attachment of a message in place."""
    attachments = pytest.importorskip("mailflow.intake.attachments")
    attachment_rules = attachments.load_attachment_rules()

    def classify_all(message) -> None:
        for attachment in message.all_attachments():
            attachments.classify_attachment(attachment, attachment_rules)

    return classify_all


@pytest.mark.parametrize("stem", SAMPLES)
def test_sample_kind_pipeline(rules, attachment_classifier, stem: str) -> None:
    """The kind when the attachment classifier, not the expected roles, sets the kinds."""
    expected = read_json(MAILBOX / f"{stem}.json")
    message = parse_file(MAILBOX / f"{stem}.eml")
    attachment_classifier(message)
    assert classify_message(message, rules).kind == expected["message_kind"]


def test_forwarded_kind_pipeline(rules, attachment_classifier) -> None:
    """case-11-forwarded-as-rfc822: the form inside the forwarded message makes a registration."""
    message = parse_file(FORWARDED / "mail.eml")
    attachment_classifier(message)
    assert classify_message(message, rules).kind == "registration"


@pytest.mark.parametrize("stem", SAMPLES)
def test_sample_send_reply(rules, stem: str) -> None:
    result, expected = classify_sample(rules, stem)
    assert result.send_reply == (expected["expected_reply"] != "none")


def test_sample_oof_classification(rules) -> None:
    """12-auto-reply-oof: ignored, with its signals and away date."""
    result, expected = classify_sample(rules, "12-auto-reply-oof")
    assert result.decision == "ignore_auto_reply"
    assert result.auto_reply is not None
    for signal in expected["auto_reply"]["signals"]:
        assert signal in result.auto_reply.signals
    assert result.auto_reply.away_until == dt.date.fromisoformat(expected["auto_reply"]["away_until"])


BOUNCE_FIELDS = ["action", "status", "diagnostic", "reporting_mta", "original_message_id", "original_subject",
                 "returned_part"]


@pytest.mark.parametrize("field", ["failed_recipient", *BOUNCE_FIELDS])
def test_sample_bounce_fields(rules, field: str) -> None:
    """13-bounce-dsn: every field of the expected ``bounce`` object."""
    result, expected = classify_sample(rules, "13-bounce-dsn")
    assert result.decision == "bounce"
    report = result.bounce
    assert report is not None
    recipient = report.failed_recipients[0]
    values = {
        "failed_recipient": recipient.address,
        "action": recipient.action,
        "status": recipient.status,
        "diagnostic": recipient.diagnostic,
        "reporting_mta": report.reporting_mta,
        "original_message_id": report.original_message_id,
        "original_subject": report.original_subject,
        "returned_part": report.returned_part,
    }
    assert values[field] == expected["bounce"][field]
