"""Every applicant in every generated layout and format gives the identical Form 1 record."""

from __future__ import annotations

from functools import lru_cache

import pytest

from mailflow.intake.forms.registration import FIELD_KEYS, read_registration
from mailflow.intake.text import document_text
from tests.forms.layouts import IPA_GOTHIC, variants
from tests.forms.mailfiles import expected

pytest.importorskip("fpdf", reason="the PDF variants are drawn with fpdf2")
pytestmark = pytest.mark.skipif(not IPA_GOTHIC.exists(), reason="needs Debian's fonts-ipafont-gothic for the PDF variants")

# The applicants of the sample mails with a Form 1, each with its own seed.
APPLICANTS = {"01": 101, "02": 102, "04": 104, "05": 105, "06": 106, "07": 107, "14": 114, "16": 116}
VARIANT_COUNT = 22


@lru_cache(maxsize=None)
def rendered(number: str):
    return variants(expected(number)["applicant"], APPLICANTS[number])


@lru_cache(maxsize=None)
def record(number: str, index: int) -> dict:
    variant = rendered(number)[index]
    return read_registration(document_text(variant.payload, variant.sniffed_type).grids).as_dict()


def test_enough_variants_per_applicant():
    formats = {variant.sniffed_type for variant in rendered("01")}
    assert len(rendered("01")) == VARIANT_COUNT
    assert formats == {"xlsx", "docx", "pdf"}


@pytest.mark.parametrize("index", range(VARIANT_COUNT))
@pytest.mark.parametrize("number", APPLICANTS)
def test_variant_gives_identical_record(number, index):
    got = {key: record(number, index)[key] for key in FIELD_KEYS}
    assert got == expected(number)["applicant"], rendered(number)[index].name


@pytest.mark.parametrize("index", range(VARIANT_COUNT))
@pytest.mark.parametrize("number", APPLICANTS)
def test_variant_fully_read(number, index):
    assert record(number, index)["unreadable"] == [], rendered(number)[index].name


def test_generator_is_seeded():
    first = [document_text(v.payload, v.sniffed_type).text for v in variants(expected("01")["applicant"], 7)]
    again = [document_text(v.payload, v.sniffed_type).text for v in variants(expected("01")["applicant"], 7)]
    assert first == again
