"""The Authentication-Results parser (RFC 8601) and the choice of the header our server wrote."""

from __future__ import annotations

import pytest

from mailflow.intake.parse import parse_message
from mailflow.review.authresults import (
    AuthResultsSyntaxError,
    MethodResult,
    parse_authentication_results,
    remove_comments,
    trusted_results,
)

# Header values in the forms RFC 8601 describes: a version, "none", several results,
# comments, reasons, and properties with an address or an IP address.
RFC_EXAMPLES = [
    ("example.org 1; none", "example.org", 1, []),
    ("example.com;\r\n          spf=pass smtp.mailfrom=example.net", "example.com", None,
     [MethodResult("spf", "pass", None, {"smtp.mailfrom": "example.net"})]),
    ("example.com;\r\n          auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n"
     "          spf=pass smtp.mailfrom=example.net", "example.com", None,
     [MethodResult("auth", "pass", None, {"smtp.auth": "sender@example.net"}),
      MethodResult("spf", "pass", None, {"smtp.mailfrom": "example.net"})]),
    ("example.com;\r\n          sender-id=pass header.from=example.net", "example.com", None,
     [MethodResult("sender-id", "pass", None, {"header.from": "example.net"})]),
    ("example.com;\r\n          dkim=pass (good signature) header.d=example.com", "example.com", None,
     [MethodResult("dkim", "pass", None, {"header.d": "example.com"})]),
    ("example.com; iprev=pass\r\n          policy.iprev=192.0.2.200", "example.com", None,
     [MethodResult("iprev", "pass", None, {"policy.iprev": "192.0.2.200"})]),
    ("example.com;\r\n          dkim=pass reason=\"good signature\"\r\n            header.i=@mail-router.example.net;"
     "\r\n          dkim=fail reason=\"bad signature\"\r\n            header.i=@newyork.example.com", "example.com", None,
     [MethodResult("dkim", "pass", "good signature", {"header.i": "@mail-router.example.net"}),
      MethodResult("dkim", "fail", "bad signature", {"header.i": "@newyork.example.com"})]),
]


@pytest.mark.parametrize("value, authserv_id, version, results", RFC_EXAMPLES)
def test_rfc8601_examples(value, authserv_id, version, results):
    parsed = parse_authentication_results(value)
    assert parsed.authserv_id == authserv_id
    assert parsed.version == version
    assert list(parsed.results) == results


def test_comments_with_semicolons():
    # Gmail puts ';' inside comments, and a comment must not split the results.
    value = ("mx.google.com; dkim=pass (test mode; 2048-bit key) header.i=@example.jp header.s=s1;"
             " spf=pass (google.com: domain of a@example.jp designates 192.0.2.1 as permitted sender)"
             " smtp.mailfrom=a@example.jp")
    parsed = parse_authentication_results(value)
    assert [(entry.method, entry.result) for entry in parsed.results] == [("dkim", "pass"), ("spf", "pass")]


def test_comments_everywhere():
    value = "(c1) example.com (c2 (nested)) ; dkim (c3) = (c4) pass header (c5) . (c6) d = example.com"
    parsed = parse_authentication_results(value)
    assert parsed.authserv_id == "example.com"
    assert parsed.results == (MethodResult("dkim", "pass", None, {"header.d": "example.com"}),)


def test_quoted_values_keep_specials():
    parsed = parse_authentication_results('example.com; dkim=pass header.b="ab;c(d)" header.d=example.com')
    assert parsed.results[0].properties["header.b"] == "ab;c(d)"


def test_quoted_authserv_id():
    assert parse_authentication_results('"mx.example.com"; none').authserv_id == "mx.example.com"


def test_method_version():
    assert parse_authentication_results("example.com; dkim/1=pass header.d=x.jp").results[0].method == "dkim"


def test_case_folded():
    parsed = parse_authentication_results("example.com; DMARC=PASS Header.From=Example.COM")
    assert parsed.results[0] == MethodResult("dmarc", "pass", None, {"header.from": "Example.COM"})


@pytest.mark.parametrize("value", [
    "example.com;",
    "example.com; spf",
    "example.com; spf=pass (unbalanced",
    "example.com; spf=pass smtp.mailfrom",
    "spf=pass smtp.mailfrom=example.com",
    'example.com; dkim=pass header.b="open',
])
def test_invalid_values_raise(value):
    with pytest.raises(AuthResultsSyntaxError):
        parse_authentication_results(value)


def test_remove_comments_keeps_quoted_parenthesis():
    assert remove_comments('a "(b)" (c) d') == 'a "(b)"   d'


def _message(*values: str):
    headers = "".join(f"Authentication-Results: {value}\r\n" for value in values)
    return parse_message(f"{headers}From: a@example.jp\r\nSubject: x\r\n\r\nbody\r\n".encode())


def test_trusted_takes_topmost_of_ours():
    message = _message("mx.bureau.example.jp; dmarc=fail header.from=bureau.example.jp",
                       "mx.bureau.example.jp; dmarc=pass header.from=bureau.example.jp")
    assert trusted_results(message, "mx.bureau.example.jp").results[0].result == "fail"


def test_trusted_skips_other_authserv_ids():
    message = _message("mx.other.example; dmarc=pass header.from=bureau.example.jp",
                       "mx.bureau.example.jp; spf=fail smtp.mailfrom=bureau.example.jp")
    assert trusted_results(message, "MX.Bureau.Example.JP").results[0].method == "spf"


def test_trusted_unparsable_topmost_has_no_results():
    # A broken header of ours must not let a well-formed copy below it count.
    message = _message("mx.bureau.example.jp; dmarc=",
                       "mx.bureau.example.jp; dmarc=pass header.from=bureau.example.jp")
    assert trusted_results(message, "mx.bureau.example.jp").results == ()


def test_trusted_none_without_setting():
    message = _message("mx.bureau.example.jp; dmarc=pass")
    assert trusted_results(message, "") is None


def test_trusted_none_without_header_of_ours():
    message = _message("mx.other.example; dmarc=pass")
    assert trusted_results(message, "mx.bureau.example.jp") is None
