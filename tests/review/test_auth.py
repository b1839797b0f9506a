"""Who may decide: the From address, alignment and the trusted header (review.auth)."""

from __future__ import annotations

import pytest

from mailflow.config import StaffConfig
from mailflow.intake.parse import parse_message
from mailflow.review.auth import check_sender, domains_aligned, is_staff_address, single_from_address

STAFF = "shinsa@bureau.example.jp"
ID = "mx.bureau.example.jp"


def _message(from_header: str, *headers: str) -> object:
    lines = [*headers, f"From: {from_header}", "Subject: x", "", "body"]
    return parse_message("\r\n".join(lines).encode("utf-8"))


def _check(from_header: str, *headers: str, trusted: str = ""):
    return check_sender(_message(from_header, *headers), StaffConfig(authserv_id=ID, trusted_header=trusted), [STAFF])


@pytest.mark.parametrize("left, right, aligned", [
    ("bureau.example.jp", "bureau.example.jp", True),
    ("mail.bureau.example.jp", "bureau.example.jp", True),
    ("bureau.example.jp", "mail.bureau.example.jp", True),
    ("user@Bureau.Example.JP", "bureau.example.jp", True),
    ("example.jp", "bureau.example.jp", True),
    ("jp", "bureau.example.jp", False),
    ("evil-bureau.example.jp", "bureau.example.jp", False),
    ("bureau.example.jp.evil.example", "bureau.example.jp", False),
    ("attacker.example.com", "bureau.example.jp", False),
])
def test_domains_aligned(left, right, aligned):
    assert domains_aligned(left, right) is aligned


@pytest.mark.parametrize("address, listed", [
    (STAFF, True),
    ("SHINSA@Bureau.Example.JP", True),
    ("shinsa@bureau.example.jp.evil.example", False),
    ("ｓhinsa@bureau.example.jp", False),   # full-width s, NFKC would fold it
    ("ſhinsa@bureau.example.jp", False),    # long s, casefold would fold it
    ("shinsа@bureau.example.jp", False),    # Cyrillic а
    ("shinsa@bureau.example.jp ", False),
    ("", False),
])
def test_is_staff_address(address, listed):
    assert is_staff_address(address, [STAFF]) is listed


@pytest.mark.parametrize("from_header", [
    f"{STAFF} <attacker@evil.example>",
    f"attacker@evil.example, {STAFF}",
    f"<{STAFF}>attacker@evil.example",
])
def test_single_from_rejects_ambiguous(from_header):
    assert single_from_address(_message(from_header)) is None


def test_single_from_accepts_display_name():
    assert single_from_address(_message(f'"審査 担当" <{STAFF}>')) == STAFF


def test_dmarc_pass_accepted():
    check = _check(STAFF, f"Authentication-Results: {ID}; dmarc=pass header.from=bureau.example.jp")
    assert (check.ok, check.method) == (True, "dmarc")


def test_dmarc_pass_for_other_from_domain_refused():
    check = _check(STAFF, f"Authentication-Results: {ID}; dmarc=pass header.from=evil.example")
    assert (check.ok, check.reason) == (False, "not_authenticated")


def test_dkim_aligned_accepted():
    check = _check(STAFF, f"Authentication-Results: {ID}; dkim=pass header.d=mail.bureau.example.jp")
    assert (check.ok, check.method) == (True, "dkim")


def test_dkim_unaligned_refused():
    check = _check(STAFF, f"Authentication-Results: {ID}; dkim=pass header.d=evil.example")
    assert check.ok is False


def test_spf_aligned_accepted():
    check = _check(STAFF, f"Authentication-Results: {ID}; spf=pass smtp.mailfrom=bounce@bureau.example.jp")
    assert (check.ok, check.method) == (True, "spf")


def test_spf_softfail_refused():
    check = _check(STAFF, f"Authentication-Results: {ID}; spf=softfail smtp.mailfrom=bureau.example.jp")
    assert check.ok is False


def test_other_servers_header_ignored():
    check = _check(STAFF, "Authentication-Results: mx.evil.example; dmarc=pass header.from=bureau.example.jp")
    assert check.ok is False


def test_not_staff_refused():
    check = _check("other@bureau.example.jp", f"Authentication-Results: {ID}; dmarc=pass")
    assert (check.ok, check.reason) == (False, "not_staff")


def test_trusted_header_accepted():
    check = _check(STAFF, "X-MS-Exchange-Organization-AuthAs: Internal",
                   trusted="X-MS-Exchange-Organization-AuthAs: Internal")
    assert (check.ok, check.method) == (True, "trusted_header")


def test_trusted_header_twice_refused():
    check = _check(STAFF, "X-MS-Exchange-Organization-AuthAs: Internal", "X-MS-Exchange-Organization-AuthAs: Internal",
                   trusted="X-MS-Exchange-Organization-AuthAs: Internal")
    assert check.ok is False


def test_trusted_header_other_value_refused():
    check = _check(STAFF, "X-MS-Exchange-Organization-AuthAs: Anonymous",
                   trusted="X-MS-Exchange-Organization-AuthAs: Internal")
    assert check.ok is False


def test_trusted_header_unset_ignored():
    check = _check(STAFF, "X-MS-Exchange-Organization-AuthAs: Internal")
    assert check.ok is False


def test_kelvin_sign_not_folded_to_staff():
    # str.lower() turns the Kelvin sign into an ASCII "k".
    message = _message("\u212aakari@bureau.example.jp")
    assert is_staff_address(single_from_address(message), ["kakari@bureau.example.jp"]) is False


def test_kelvin_sign_domain_not_aligned():
    assert domains_aligned("kanto.example.jp", "\u212aanto.example.jp") is False
