"""Hostile documents through read_document and ``mailflow inspect``: prompt, held by a named limit, small memory.

Every bomb is built in the test. Bounds: each call returns within RETURN_SECONDS, and the
test process's peak RSS grows by less than PEAK_GROWTH_BYTES while it runs. The readers
work in a child process, whose memory does not count here. Measured on a 2-core VM, the
read_document calls took 0.01–1.7 s and the peak RSS grew by under 1 MiB.
"""

from __future__ import annotations

import json
import time

import pytest

from mailflow.cli import main
from mailflow.intake.attachments import load_attachment_rules
from mailflow.intake.documents import read_document
from mailflow.intake.limits import DEFAULT_LIMITS, LIMIT_LABELS
from mailflow.intake.message import Attachment
from mailflow.intake.sniff import sniff

from tests.hostile.builders import (
    MIB,
    bomb_mail,
    docx_billion_laughs,
    flate_bomb_pdf,
    huge_xls,
    many_pages_pdf,
    xlsx_zip_bomb,
)
from tests.hostile.memory import peak_growth

RETURN_SECONDS = 10.0
PEAK_GROWTH_BYTES = 64 * MIB
RULES = load_attachment_rules()

# (case, file name, builder, limit the file is held by)
HELD = [
    ("flate_bomb_1gib", "誓約書.pdf", flate_bomb_pdf, "max_pdf_decoded_bytes"),
    ("pdf_10000_pages", "誓約書.pdf", many_pages_pdf, "max_pdf_pages"),
    ("xlsx_zip_bomb_1gib", "様式1_登録申請書.xlsx", xlsx_zip_bomb, "max_member_bytes"),
    ("xls_huge_sheets", "申込書.xls", huge_xls, "max_extraction_memory_bytes"),
]
UNSAFE_DOCX_REASON = "Word ファイルに安全でない定義（DTD・エンティティ宣言）が含まれているため、開いていません"


@pytest.fixture(scope="module")
def payloads() -> dict[str, bytes]:
    built = {case: build() for case, _, build, _ in HELD}
    built["docx_billion_laughs"] = docx_billion_laughs()
    return built


def attachment_of(payload: bytes, filename: str) -> Attachment:
    return Attachment(filename, "application/octet-stream", "attachment", payload, "2", sniffed_type=sniff(payload))


def inspect_json(path, capsys) -> dict:
    assert main(["inspect", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("case,filename,build,limit", HELD, ids=[case for case, *_ in HELD])
def test_read_document_holds_hostile(case, filename, build, limit, payloads):
    attachment = attachment_of(payloads[case], filename)

    with peak_growth() as growth:
        started = time.monotonic()
        finding = read_document(attachment, RULES)
        elapsed = time.monotonic() - started

    assert attachment.over_limit == limit
    assert finding.unreadable.startswith(LIMIT_LABELS[limit])
    assert finding.acceptable is False
    assert elapsed < RETURN_SECONDS
    assert growth.bytes < PEAK_GROWTH_BYTES


@pytest.mark.parametrize("case,filename,build,limit", HELD, ids=[case for case, *_ in HELD])
def test_inspect_holds_hostile(case, filename, build, limit, payloads, tmp_path, capsys):
    path = tmp_path / filename
    path.write_bytes(payloads[case])

    with peak_growth() as growth:
        started = time.monotonic()
        report = inspect_json(path, capsys)
        elapsed = time.monotonic() - started

    assert report["decision"] == "manual_review"
    assert any(reason.startswith(LIMIT_LABELS[limit]) for reason in report["reasons"])
    assert elapsed < RETURN_SECONDS
    assert growth.bytes < PEAK_GROWTH_BYTES


def test_inspect_bomb_mail_needs_attention(payloads, tmp_path, capsys):
    path = tmp_path / "bomb.eml"
    path.write_bytes(bomb_mail(payloads["flate_bomb_1gib"], "誓約書.pdf"))

    with peak_growth() as growth:
        started = time.monotonic()
        report = inspect_json(path, capsys)
        elapsed = time.monotonic() - started

    assert report["decision"] == "manual_review"
    assert report["attachments"][0]["over_limit"] == "max_pdf_decoded_bytes"
    assert any(LIMIT_LABELS["max_pdf_decoded_bytes"] in line for line in report["needs_attention"])
    assert elapsed < RETURN_SECONDS
    assert growth.bytes < PEAK_GROWTH_BYTES


def test_page_limit_label_says_bound(payloads):
    finding = read_document(attachment_of(payloads["pdf_10000_pages"], "誓約書.pdf"), RULES)

    assert finding.unreadable.endswith(f"{DEFAULT_LIMITS.max_pdf_pages} ページを超えています")


def test_read_document_rejects_billion_laughs(payloads):
    attachment = attachment_of(payloads["docx_billion_laughs"], "様式1.docx")

    with peak_growth() as growth:
        started = time.monotonic()
        finding = read_document(attachment, RULES)
        elapsed = time.monotonic() - started

    assert finding.unreadable == UNSAFE_DOCX_REASON
    assert attachment.over_limit is None
    assert elapsed < RETURN_SECONDS
    assert growth.bytes < PEAK_GROWTH_BYTES


def test_inspect_billion_laughs_manual_review(payloads, tmp_path, capsys):
    path = tmp_path / "様式1.docx"
    path.write_bytes(payloads["docx_billion_laughs"])

    started = time.monotonic()
    report = inspect_json(path, capsys)

    assert report["decision"] == "manual_review"
    assert UNSAFE_DOCX_REASON in report["reasons"]
    assert time.monotonic() - started < RETURN_SECONDS
