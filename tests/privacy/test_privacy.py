"""Tests for finding and masking individual numbers in every written form and carrier."""

from __future__ import annotations

import email
import email.policy
import io
import json
import random
from pathlib import Path

import docx
import pdfplumber
import pytest
from fpdf import FPDF

from mailflow.intake.privacy import (
    IndividualNumberMatch,
    check_digit,
    find_individual_numbers,
    is_valid_individual_number,
    mask_individual_numbers,
    scan_document,
)
from mailflow.intake.sniff import sniff
from mailflow.intake.text import document_text
from tests.conftest import SAMPLE

JAPANESE_FONT = Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf")
KNOWN_VALID = "382916473052"
FULL_WIDTH = str.maketrans("0123456789 ", "０１２３４５６７８９\u3000")


def reference_check_digit(first_eleven: str) -> int:
    """The statutory formula, written independently of the module under test."""
    digits = [int(char) for char in first_eleven]
    total = 0
    for n in range(1, 12):
        p = digits[11 - n]
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def generated_numbers(count: int = 6, seed: int = 20261201) -> list[str]:
    generator = random.Random(seed)
    numbers = []
    for _ in range(count):
        prefix = "".join(generator.choice("0123456789") for _ in range(11))
        numbers.append(prefix + str(reference_check_digit(prefix)))
    return numbers


VALID_NUMBERS = generated_numbers() + [KNOWN_VALID]

WRITTEN_FORMS = {
    "plain": lambda n: n,
    "spaced": lambda n: f"{n[:4]} {n[4:8]} {n[8:]}",
    "hyphenated": lambda n: f"{n[:4]}-{n[4:8]}-{n[8:]}",
    "full_width": lambda n: n.translate(FULL_WIDTH),
    "full_width_spaced": lambda n: f"{n[:4]} {n[4:8]} {n[8:]}".translate(FULL_WIDTH),
    "line_break": lambda n: f"{n[:8]}\n{n[8:]}",
}


def pdf_text(body: str) -> str:
    """Draw ``body`` into a PDF with a Japanese font and return pdfplumber's text of it."""
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("IPAGothic", fname=str(JAPANESE_FONT))
    pdf.set_font("IPAGothic", size=12)
    pdf.multi_cell(w=120, h=8, text=body)
    with pdfplumber.open(io.BytesIO(bytes(pdf.output()))) as document:
        return "\n".join(page.extract_text() or "" for page in document.pages)


def docx_text(body: str) -> str:
    """Write ``body`` into a paragraph and a table cell of a docx and return their text."""
    document = docx.Document()
    document.add_paragraph("住民票の写し")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "個人番号"
    table.cell(0, 1).text = body
    buffer = io.BytesIO()
    document.save(buffer)
    reread = docx.Document(io.BytesIO(buffer.getvalue()))
    cells = [cell.text for row in reread.tables[0].rows for cell in row.cells]
    return "\n".join([paragraph.text for paragraph in reread.paragraphs] + cells)


def carried_text(carrier: str, written: str) -> str:
    if carrier == "pdf":
        if not JAPANESE_FONT.exists():
            pytest.skip("fonts-ipafont-gothic is not installed")
        return pdf_text(f"個人番号：{written}")
    if carrier == "docx":
        return docx_text(written)
    return f"本人確認書類を送ります。個人番号は {written} です。"


@pytest.mark.parametrize("form", sorted(WRITTEN_FORMS))
@pytest.mark.parametrize("carrier", ["text", "pdf", "docx"])
def test_number_found_in_carrier(form, carrier):
    for number in VALID_NUMBERS:
        text = carried_text(carrier, WRITTEN_FORMS[form](number))

        matches = find_individual_numbers(text)

        assert len(matches) == 1, f"{form} in {carrier}: {mask_individual_numbers(text)!r}"


@pytest.mark.parametrize("form", ["plain", "spaced", "hyphenated", "full_width"])
def test_number_found_in_filename(form):
    for number in VALID_NUMBERS:
        filename = f"住民票_{WRITTEN_FORMS[form](number)}.pdf"

        matches = scan_document(filename, "")

        assert [match.where for match in matches] == ["filename"]


def test_generated_numbers_valid():
    for number in VALID_NUMBERS:
        assert is_valid_individual_number(number)
        assert check_digit(number[:11]) == int(number[11])


def test_known_number_valid():
    assert reference_check_digit(KNOWN_VALID[:11]) == int(KNOWN_VALID[11])
    assert is_valid_individual_number(KNOWN_VALID)


def wrong_check_digit(number: str) -> str:
    return number[:11] + str((int(number[11]) + 1) % 10)


NEAR_MISSES = {
    "wrong_check_digit": wrong_check_digit(KNOWN_VALID),
    "wrong_check_digit_spaced": " ".join([wrong_check_digit(KNOWN_VALID)[i:i + 4] for i in (0, 4, 8)]),
    "landline": "TEL 03-1234-5678",
    "mobile": "携帯：090-1234-5678",
    "international": "+81-90-1234-5678",
    "toll_free": "0120-123-456",
    "phone_and_fax": "TEL 048-600-0000 048-601-1200",
    "date_iso": "2026-12-01",
    "date_slash_time": "2026/12/01 10:30",
    "date_compact_time": "20261201103000",
    "date_era": "令和8年12月2日",
    "postal_code": "〒100-0001",
    "postal_code_full_width": "〒３３０－９７１５",
    "thirteen_digits": "9" + KNOWN_VALID,
    "eleven_digits": KNOWN_VALID[1:],
    "embedded_in_run": f"12{KNOWN_VALID}34",
    "twice_in_a_row": KNOWN_VALID * 2,
    "decimal": f"0.{KNOWN_VALID}",
    "thousands": f"1,{KNOWN_VALID}",
    "card_like": f"{KNOWN_VALID[:4]}-{KNOWN_VALID[4:8]}-{KNOWN_VALID[8:]}-1234",
    "card_like_spaced": f"{KNOWN_VALID[:4]} {KNOWN_VALID[4:8]} {KNOWN_VALID[8:]} 1234",
    "split_six_six": f"{KNOWN_VALID[:6]} {KNOWN_VALID[6:]}",
}


@pytest.mark.parametrize("name", sorted(NEAR_MISSES))
def test_near_miss_not_flagged(name):
    text = f"記載事項：{NEAR_MISSES[name]}。"

    assert find_individual_numbers(text) == []


def test_generated_near_misses_not_flagged():
    for number in VALID_NUMBERS:
        assert find_individual_numbers(wrong_check_digit(number)) == []
        assert find_individual_numbers("1" + number) == []
        assert find_individual_numbers(number[:11]) == []


def test_number_beside_other_number_found():
    text = f"個人番号 {KNOWN_VALID} 2024年1月1日 住民となった日"

    matches = find_individual_numbers(text)

    assert [text[match.start:match.end] for match in matches] == [KNOWN_VALID]


def test_hyphen_group_before_space_found():
    written = f"{KNOWN_VALID[:4]}-{KNOWN_VALID[4:8]}-{KNOWN_VALID[8:]} 2024"

    matches = find_individual_numbers(written)

    assert (matches[0].start, matches[0].end) == (0, 14)


def test_digit_boxes_found():
    boxes = " ".join(KNOWN_VALID)

    assert len(find_individual_numbers(f"個人番号 {boxes}")) == 1


def test_match_span_covers_number():
    text = f"番号：{KNOWN_VALID[:4]}-{KNOWN_VALID[4:8]}-{KNOWN_VALID[8:]}です"

    match = find_individual_numbers(text)[0]

    assert text[match.start:match.end] == f"{KNOWN_VALID[:4]}-{KNOWN_VALID[4:8]}-{KNOWN_VALID[8:]}"


def test_match_repr_hides_number():
    text = f"個人番号 {KNOWN_VALID[:4]} {KNOWN_VALID[4:8]} {KNOWN_VALID[8:]}"

    match = find_individual_numbers(text)[0]

    for rendered in (repr(match), str(match), repr([match]), str(vars(match))):
        assert KNOWN_VALID not in rendered
        for group in (KNOWN_VALID[:4], KNOWN_VALID[4:8], KNOWN_VALID[8:]):
            assert group not in rendered


def test_match_has_no_digits_field():
    match = find_individual_numbers(KNOWN_VALID)[0]

    assert set(vars(match)) == {"start", "end", "masked", "where"}
    assert isinstance(match, IndividualNumberMatch)


def test_mask_keeps_layout():
    text = f"番号 {KNOWN_VALID[:4]}-{KNOWN_VALID[4:8]}-{KNOWN_VALID[8:]}、電話 03-1234-5678"

    assert mask_individual_numbers(text) == "番号 ****-****-****、電話 03-1234-5678"


def test_mask_full_width():
    text = KNOWN_VALID.translate(FULL_WIDTH)

    assert mask_individual_numbers(text) == "＊" * 12


def test_mask_every_number():
    text = "\n".join(f"{index}: {number}" for index, number in enumerate(VALID_NUMBERS))

    masked = mask_individual_numbers(text)

    for number in VALID_NUMBERS:
        assert number not in masked
    assert masked.count("*" * 12) == len(VALID_NUMBERS)


def test_mask_leaves_other_text():
    text = "令和8年12月2日 〒100-0001 TEL 03-1234-5678"

    assert mask_individual_numbers(text) == text


def test_check_digit_rejects_bad_input():
    with pytest.raises(ValueError):
        check_digit("12345")
    with pytest.raises(ValueError):
        check_digit("１２３４５６７８９０１")


def test_long_digit_chain_scanned():
    text = ("1234 " * 20000) + KNOWN_VALID

    matches = find_individual_numbers(text)

    assert [(match.start, match.end) for match in matches] == [(100000, 100012)]


def sample_mail_texts(stem: str) -> list[tuple[str | None, str]]:
    """Return (file name, text) for the body and each attachment of a sample mail."""
    raw = (SAMPLE / "mailbox" / f"{stem}.eml").read_bytes()
    texts = []
    for part in email.message_from_bytes(raw, policy=email.policy.default).walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        texts.append((part.get_filename(), document_text(payload, sniff(payload)).text))
    return texts


SAMPLE_STEMS = sorted(path.stem for path in (SAMPLE / "mailbox").glob("*.eml"))


@pytest.mark.parametrize("stem", SAMPLE_STEMS)
def test_sample_mail_flagged_as_expected(stem):
    expected = json.loads((SAMPLE / "mailbox" / f"{stem}.json").read_text(encoding="utf-8"))
    flagged = "individual_number_found" in expected["warnings"]

    found = [match for name, text in sample_mail_texts(stem) for match in scan_document(name, text)]

    assert bool(found) is flagged


def test_sample_07_number_in_ocr_layer():
    expected = json.loads((SAMPLE / "mailbox" / "07-registration-unmasked-mynumber.json").read_text(encoding="utf-8"))
    number = next(item["value"] for item in expected["must_not_store"] if item["kind"] == "text")
    carrier = next(item["filename"] for item in expected["must_not_store"] if item["kind"] == "attachment")
    texts = dict(sample_mail_texts("07-registration-unmasked-mynumber"))

    matches = find_individual_numbers(texts[carrier])

    assert ["".join(texts[carrier][m.start:m.end].split()) for m in matches] == [number]
    assert number not in mask_individual_numbers(texts[carrier])
