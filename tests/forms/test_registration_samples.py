"""Form 1 read from every sample mail and sample form, key by key against the sample JSON."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pytest

from mailflow.intake.forms.registration import FIELD_KEYS, read_registration
from mailflow.intake.text import document_text
from tests.forms.mailfiles import FORMS, attachment_with_role, expected

# Mails with a Form 1 attached; 04 is a Word form and 05 a PDF printed from Excel.
FORM_MAILS = ["01", "02", "04", "05", "06", "07", "14", "16"]


@lru_cache(maxsize=None)
def record_of(number: str) -> dict:
    payload, sniffed, _ = attachment_with_role(number, "registration_form")
    return read_registration(document_text(payload, sniffed).grids).as_dict()


@pytest.mark.parametrize("number", FORM_MAILS)
@pytest.mark.parametrize("key", FIELD_KEYS)
def test_sample_form_field(number, key):
    assert record_of(number)[key] == expected(number)["applicant"][key]


@pytest.mark.parametrize("number", FORM_MAILS)
def test_sample_form_fully_read(number):
    record = record_of(number)
    assert record["unreadable"] == []
    assert record["defects"] == []


def test_record_keys_match_applicant_keys():
    assert set(FIELD_KEYS) == set(expected("01")["applicant"])


@pytest.mark.parametrize(("name", "sniffed"), [("yoshiki1_template.xlsx", "xlsx"), ("yoshiki1_template.docx", "docx")])
def test_blank_template_reads_blank(name, sniffed):
    """The blank Form 1 templates: every label found, every value blank, consent not given."""
    record = read_registration(document_text((FORMS / name).read_bytes(), sniffed).grids)
    assert record.unreadable == []
    assert record.consent is False
    for key in FIELD_KEYS:
        if key == "consent":
            continue
        assert getattr(record, key) in (None, []), key


def test_docx_dates_are_dates():
    payload, sniffed, _ = attachment_with_role("04", "registration_form")
    record = read_registration(document_text(payload, sniffed).grids)
    assert record.birth_date == dt.date(1955, 11, 20)
