"""Tests of parse_message against the expected values of the case folders and the sample mailbox.

Every expected value is read from the fixture's JSON. Decisions (process, bounce, …) are
another stage's business and are not checked here.
"""

from __future__ import annotations

import datetime as dt
import email.header
import json
import re
from pathlib import Path

import pytest

from mailflow.intake.parse import parse_message

FIXTURES = Path(__file__).parent.parent / "fixtures"
CASES = FIXTURES / "cases"
MAILBOX = FIXTURES / "sample" / "mailbox"
SAMPLE_NAMES = sorted(path.stem for path in MAILBOX.glob("*.eml"))
# Sample `format` values and the sniffed type each implies.
FORMAT_TO_SNIFFED = {
    "xlsx": "xlsx",
    "docx": "docx",
    "pdf_text": "pdf",
    "pdf_image_only": "pdf",
    "pdf_image_with_ocr_text": "pdf",
    "jpeg": "jpeg",
}


def load_case(name: str) -> dict:
    return json.loads((CASES / name / "expected.json").read_text(encoding="utf-8"))


def parse_case_file(name: str, filename: str):
    return parse_message((CASES / name / filename).read_bytes())


def check_email_expectations(message, expected: dict) -> None:
    """Compare the decoding-level keys of a case's expected values with ``message``."""
    if "subject" in expected:
        assert message.subject == expected["subject"]
    if "from_display_name" in expected:
        assert message.from_.name == expected["from_display_name"]
    if "body_exact" in expected:
        assert message.body_text == expected["body_exact"]
    for fragment in expected.get("body_contains", []):
        assert fragment in message.body_text
    if "attachments" in expected:
        actual = [(item.filename, item.sha256) for item in message.attachments]
        wanted = [(item["filename"], item["sha256"]) for item in expected["attachments"]]
        assert actual == wanted


# Email cases --------------------------------------------------------------------------


def test_case_01_nec_ibm_extensions():
    case = "case-01-iso2022jp-nec-ibm-ext"
    expected = load_case(case)
    message = parse_case_file(case, expected["input"])
    check_email_expectations(message, expected["expected"])


@pytest.mark.parametrize("filename", load_case("case-03-iso2022jp-multi-encoded-words")["inputs"])
def test_case_03_multi_encoded_words(filename):
    case = "case-03-iso2022jp-multi-encoded-words"
    message = parse_case_file(case, filename)
    check_email_expectations(message, load_case(case)["expected"])


def test_case_05_rfc2231_continuations():
    case = "case-05-rfc2231-continuations"
    expected = load_case(case)
    message = parse_case_file(case, expected["input"])
    check_email_expectations(message, expected["expected"])


def test_case_05_inline_png_is_attachment():
    case = "case-05-rfc2231-continuations"
    message = parse_case_file(case, load_case(case)["input"])
    assert message.attachments[1].disposition == "inline"


def test_case_06_iphone_inline_and_name_only():
    case = "case-06-iphone-inline-and-name-only"
    expected = load_case(case)
    message = parse_case_file(case, expected["input"])
    check_email_expectations(message, expected["expected"])


def test_case_06_body_halves_in_order():
    case = "case-06-iphone-inline-and-name-only"
    expected = load_case(case)
    message = parse_case_file(case, expected["input"])
    first, second = expected["expected"]["body_contains"]
    assert message.body_text.index(first) < message.body_text.index(second)


def test_case_06_name_only_pdf_has_no_disposition():
    case = "case-06-iphone-inline-and-name-only"
    message = parse_case_file(case, load_case(case)["input"])
    assert message.attachments[1].disposition is None


def test_case_07_cp932_wave_dash():
    case = "case-07-cp932-vs-shiftjis-wave-dash"
    expected = load_case(case)
    message = parse_case_file(case, expected["input"])
    check_email_expectations(message, expected["expected"])


def test_case_10_bad_base64_padding():
    case = "case-10-bad-base64-padding"
    expected = load_case(case)
    message = parse_case_file(case, expected["input"])
    check_email_expectations(message, expected["expected"])


def test_case_10_padding_defect_names_part():
    case = "case-10-bad-base64-padding"
    message = parse_case_file(case, load_case(case)["input"])
    assert "part 2: base64 padding was missing; decoded leniently" in message.defects


def test_case_11_forwarded_as_rfc822():
    case = "case-11-forwarded-as-rfc822"
    expected = load_case(case)
    message = parse_case_file(case, expected["input"])
    check_email_expectations(message, expected["expected"])


def test_case_11_nested_attachment():
    case = "case-11-forwarded-as-rfc822"
    expected = load_case(case)["expected"]
    message = parse_case_file(case, load_case(case)["input"])
    for nested in expected["attachments_nested"]:
        holders = [item for item in message.attachments if item.content_type == nested["inside"]]
        found = [(child.filename, child.sha256) for holder in holders for child in holder.children]
        assert (nested["filename"], nested["sha256"]) in found


def test_case_11_forwarded_part_typed_eml():
    case = "case-11-forwarded-as-rfc822"
    message = parse_case_file(case, load_case(case)["input"])
    assert message.attachments[0].sniffed_type == "eml"


def test_case_11_forwarded_original_from():
    case = "case-11-forwarded-as-rfc822"
    expected = load_case(case)["expected"]
    message = parse_case_file(case, load_case(case)["input"])
    assert message.attachments[0].forwarded.from_.address == expected["forwarded_original_from"]


def test_case_11_nested_attachment_part_id():
    case = "case-11-forwarded-as-rfc822"
    message = parse_case_file(case, load_case(case)["input"])
    assert message.attachments[0].children[0].part_id == "2.2"


@pytest.mark.parametrize("filename", load_case("case-13-ppap-encrypted-zip")["inputs"])
def test_case_13_ppap_decoding(filename):
    case = "case-13-ppap-encrypted-zip"
    message = parse_case_file(case, filename)
    check_email_expectations(message, load_case(case)["expected"][filename])


def test_case_13_zip_bytes_match_file():
    case = "case-13-ppap-encrypted-zip"
    expected = load_case(case)
    message = parse_case_file(case, expected["inputs"][0])
    extra = (CASES / case / expected["extra_inputs"][0]).read_bytes()
    assert message.attachments[0].payload == extra


def test_case_13_zip_sniffed():
    case = "case-13-ppap-encrypted-zip"
    message = parse_case_file(case, load_case(case)["inputs"][0])
    assert message.attachments[0].sniffed_type == "zip"


def _japanese_words(text: str) -> list[str]:
    return re.findall(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]+[:：]?", text)


@pytest.mark.parametrize("filename", load_case("case-14-auto-replies")["inputs"])
def test_case_14_subject_decoded(filename):
    case = "case-14-auto-replies"
    message = parse_case_file(case, filename)
    assert "=?" not in message.subject
    assert "\ufffd" not in message.subject


@pytest.mark.parametrize("filename", load_case("case-14-auto-replies")["inputs"])
def test_case_14_subject_words_from_reason(filename):
    case = "case-14-auto-replies"
    reason = load_case(case)["expected"][filename]["reason"]
    message = parse_case_file(case, filename)
    for word in _japanese_words(reason):
        assert word in message.subject


def _raw_subject(case: str, filename: str) -> str:
    raw = (CASES / case / filename).read_bytes()
    return re.search(rb"^Subject: (.*(?:\r?\n[ \t].*)*)", raw, re.M).group(1).decode("ascii")


def _utf8_only_subjects(case: str) -> list[str]:
    """Return the inputs whose Subject contains no encoded-word in a charset other than UTF-8."""
    inputs = load_case(case)["inputs"]
    return [name for name in inputs if not re.search(r"=\?(?!utf-8\?)", _raw_subject(case, name), re.I)]


@pytest.mark.parametrize("filename", _utf8_only_subjects("case-14-auto-replies"))
def test_case_14_utf8_subject_matches_stdlib(filename):
    """UTF-8 words decode the same with the stdlib's compat32 decoder, which is right for them."""
    case = "case-14-auto-replies"
    raw_subject = _raw_subject(case, filename)
    reference = str(email.header.make_header(email.header.decode_header(raw_subject)))
    assert parse_case_file(case, filename).subject == reference


def test_case_14_oof_starts_with_prefix():
    case = "case-14-auto-replies"
    reason = load_case(case)["expected"]["oof-outlook-exchange.eml"]["reason"]
    prefix = re.search(r"'(.+?)' prefix", reason).group(1)
    message = parse_case_file(case, "oof-outlook-exchange.eml")
    assert message.subject.startswith(prefix)


def test_case_15_dsn_report_parts():
    case = "case-15-bounces-dsn-and-carrier"
    message = parse_case_file(case, "dsn-rfc3464.eml")
    types = [part.content_type for part in message.report_parts]
    assert types == ["message/delivery-status", "message/rfc822"]


def test_case_15_dsn_status_in_report():
    case = "case-15-bounces-dsn-and-carrier"
    expected = load_case(case)["expected"]["dsn-rfc3464.eml"]
    message = parse_case_file(case, "dsn-rfc3464.eml")
    status = message.report_parts[0].payload.decode("ascii")
    assert f"Final-Recipient: rfc822; {expected['failed_recipient']}" in status
    assert f"Status: {expected['status']}" in status


def test_case_15_dsn_returned_files_not_attachments():
    case = "case-15-bounces-dsn-and-carrier"
    expected = load_case(case)["expected"]["dsn-rfc3464.eml"]
    returned_name = re.search(r"our own (.+?)\)", expected["must_not_extract_forms_from"]).group(1)
    message = parse_case_file(case, "dsn-rfc3464.eml")
    returned = message.report_parts[1]
    assert [child.filename for child in returned.children] == [returned_name]
    assert returned.forwarded.attachments[0].filename == returned_name
    assert list(message.all_attachments()) == []


def test_case_15_dsn_body_is_first_part():
    case = "case-15-bounces-dsn-and-carrier"
    expected = load_case(case)["expected"]["dsn-rfc3464.eml"]
    message = parse_case_file(case, "dsn-rfc3464.eml")
    assert expected["failed_recipient"] in message.body_text
    assert "Final-Recipient" not in message.body_text


def test_case_15_carrier_bounce_decoded():
    case = "case-15-bounces-dsn-and-carrier"
    expected = load_case(case)["expected"]["carrier-plain-bounce.eml"]
    message = parse_case_file(case, "carrier-plain-bounce.eml")
    assert expected["failed_recipient"] in message.body_text
    assert "\x1b" not in message.body_text
    assert "=?" not in message.subject
    assert message.report_parts == []
    assert message.attachments == []


# Sample mailbox -----------------------------------------------------------------------


def load_sample(stem: str):
    expected = json.loads((MAILBOX / f"{stem}.json").read_text(encoding="utf-8"))
    return parse_message((MAILBOX / f"{stem}.eml").read_bytes()), expected


@pytest.mark.parametrize("stem", SAMPLE_NAMES)
def test_sample_identity(stem):
    message, expected = load_sample(stem)
    assert message.message_id == expected["message_id"]
    assert message.subject == expected["subject"]
    assert message.in_reply_to == expected["in_reply_to"]


@pytest.mark.parametrize("stem", SAMPLE_NAMES)
def test_sample_date_keeps_offset(stem):
    message, expected = load_sample(stem)
    wanted = dt.datetime.fromisoformat(expected["date"])
    assert message.date == wanted
    assert message.date.utcoffset() == wanted.utcoffset()


@pytest.mark.parametrize("stem", SAMPLE_NAMES)
def test_sample_sender(stem):
    message, expected = load_sample(stem)
    assert message.from_.name == expected["from"]["name"]
    assert message.from_.address == expected["from"]["email"]


@pytest.mark.parametrize("stem", SAMPLE_NAMES)
def test_sample_attachments(stem):
    message, expected = load_sample(stem)
    keys = ("filename", "content_type", "disposition", "size", "sha256")
    actual = [{key: getattr(item, key) for key in keys} for item in message.attachments]
    wanted = [{key: item[key] for key in keys} for item in expected["attachments"]]
    assert actual == wanted


@pytest.mark.parametrize("stem", SAMPLE_NAMES)
def test_sample_sniffed_matches_format(stem):
    message, expected = load_sample(stem)
    sniffed = [item.sniffed_type for item in message.attachments]
    assert sniffed == [FORMAT_TO_SNIFFED[item["format"]] for item in expected["attachments"]]


def test_sample_bounce_returned_part():
    message, expected = load_sample("13-bounce-dsn")
    types = [part.content_type for part in message.report_parts]
    assert expected["bounce"]["returned_part"] in types


def test_sample_bounce_status_fields():
    message, expected = load_sample("13-bounce-dsn")
    status = message.report_parts[0].payload.decode("ascii")
    assert f"Status: {expected['bounce']['status']}" in status
    assert f"Action: {expected['bounce']['action']}" in status
    assert expected["bounce"]["failed_recipient"] in status

