"""Form 3 checks: macros and external links in a workbook, found from its parts."""

from __future__ import annotations

import pytest

from mailflow.review import event_checks
from tests.integration.form3_mails import SAMPLE_FORM3, with_members

WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
EXTERNAL_RELATIONSHIP = (
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
    b'<Relationship Id="rId9" Target="http://127.0.0.1/ext.xlsx" TargetMode="External" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLink"/>'
    b"</Relationships>")

CASES = [
    ({}, []),
    ({"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 vba"}, [event_checks.MACRO]),
    ({"xl/externalLinks/externalLink1.xml": b"<externalLink/>"}, [event_checks.EXTERNAL_LINK]),
    ({WORKBOOK_RELS: EXTERNAL_RELATIONSHIP}, [event_checks.EXTERNAL_LINK]),
    ({"xl/vbaProject.bin": b"vba", WORKBOOK_RELS: EXTERNAL_RELATIONSHIP},
     [event_checks.MACRO, event_checks.EXTERNAL_LINK]),
]


@pytest.mark.parametrize(("members", "expected"), CASES)
def test_active_content_found(members, expected):
    workbook = with_members(SAMPLE_FORM3.read_bytes(), members) if members else SAMPLE_FORM3.read_bytes()
    assert event_checks.active_content(workbook) == expected


def test_non_workbook_has_none():
    assert event_checks.active_content(b"not a workbook") == []


def test_reason_names_both():
    reason = event_checks.active_content_reason([event_checks.MACRO, event_checks.EXTERNAL_LINK])
    assert "マクロ（VBA）と外部ファイルへのリンク" in reason
    assert ".xlsx" in reason
