"""Arbitrary subjects, bodies and report parts never make classification raise."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.intake.classify import DECISIONS, KINDS, classify_message, load_message_rules
from mailflow.intake.quoting import find_forward, strip_quotes
from tests.classify.helpers import make_attachment, make_message

RULES = load_message_rules()
# Text built from the characters the markers use, so that partial markers come up often.
MARKER_TEXT = st.text(
    alphabet=st.sampled_from(list("> ＞-－_:：\n\r 年月日()（）@<>ｓ差出人件名From:On wrote転送Original Message0123456789MF")),
    max_size=300,
)
ANY_TEXT = st.one_of(st.text(max_size=300), MARKER_TEXT)
HEADER_NAMES = st.sampled_from(
    ["Auto-Submitted", "Precedence", "X-Autoreply", "List-Id", "Content-Type", "Delivered-To", "To"]
)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_strip_quotes_any_text(text: str) -> None:
    assert isinstance(strip_quotes(text), str)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT, ANY_TEXT)
def test_find_forward_any_text(text: str, subject: str) -> None:
    block = find_forward(text, subject)
    assert block is None or isinstance(block.sender, str)


@settings(max_examples=300, deadline=None)
@given(
    subject=ANY_TEXT,
    body=ANY_TEXT,
    headers=st.lists(st.tuples(HEADER_NAMES, st.text(max_size=80)), max_size=4),
    status=st.binary(max_size=400),
    returned=st.binary(max_size=400),
    sender=st.sampled_from(["MAILER-DAEMON@mx.example.jp", "postmaster@example.jp", "taro@example.jp", "@", ""]),
)
def test_classify_any_message(subject, body, headers, status, returned, sender) -> None:
    parts = [
        make_attachment(filename=None, content_type="message/delivery-status", payload=status),
        make_attachment(filename=None, content_type="text/rfc822-headers", payload=returned),
    ]
    message = make_message(subject, body, headers=headers, sender=sender, report_parts=parts)
    result = classify_message(message, RULES)
    assert result.kind in KINDS
    assert result.decision in DECISIONS
