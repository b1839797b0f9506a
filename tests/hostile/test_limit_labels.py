"""Staff wording of the limits, reading a held limit back, and the zip size check the readers share."""

from __future__ import annotations

import io
import zipfile

import pytest

from mailflow.intake.limits import DEFAULT_LIMITS, LimitExceeded, Limits, check_zip_members, held_limit, hold
from mailflow.intake.message import Attachment

from tests.hostile.builders import GIB, MIB


def pdf_attachment() -> Attachment:
    return Attachment("誓約書.pdf", "application/pdf", "attachment", b"%PDF-1.4", "2", sniffed_type="pdf")


def zip_infos(members: list[tuple[str, bytes]]) -> list[zipfile.ZipInfo]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return zipfile.ZipFile(buffer).infolist()


def test_label_bytes_in_megabytes():
    exceeded = LimitExceeded("max_member_bytes", 2 * GIB, 32 * MIB)

    assert exceeded.label() == "展開後のファイルの大きさが上限を超えているため開いていません: 2,048MB（上限 32MB）"


def test_label_pages_past_limit_bound():
    # The page walk stops one page past the limit, so 101 only means "more than 100".
    exceeded = LimitExceeded("max_pdf_pages", 101, 100)

    assert exceeded.label() == "PDF のページ数が上限を超えているため開いていません: 100 ページを超えています"


def test_label_timeout_stopped_reading():
    exceeded = LimitExceeded("max_extraction_seconds", None, 30.0)

    assert exceeded.label() == "書類の読み取り時間が上限を超えたため、読み取りを中止しました: 30 秒を超えています"


def test_label_memory_stopped_reading():
    exceeded = LimitExceeded("max_extraction_memory_bytes", None, 512 * MIB)

    assert exceeded.label() == "書類の読み取りに使うメモリが上限を超えたため、読み取りを中止しました: 512MBを超えています"


@pytest.mark.parametrize("exceeded", [
    LimitExceeded("max_pdf_pages", 101, 100),
    LimitExceeded("max_compression_ratio", 1031.4, 100),
    LimitExceeded("max_extraction_seconds", None, 30.0),
    LimitExceeded("max_pdf_decoded_bytes", None, 32 * MIB),
], ids=lambda exceeded: exceeded.limit)
def test_held_limit_read_back(exceeded):
    attachment = pdf_attachment()
    hold(attachment, exceeded)

    assert held_limit(attachment) == exceeded


def test_held_limit_none_when_not_held():
    assert held_limit(pdf_attachment()) is None


def test_zip_members_within_limits():
    assert check_zip_members(zip_infos([("a.xml", b"<a/>" * 100)])) is None


def test_zip_member_count_over():
    infos = zip_infos([(f"{index}.xml", b"<a/>") for index in range(4)])

    assert check_zip_members(infos, Limits(max_members=3)) == LimitExceeded("max_members", 4, 3)


def test_zip_member_size_over():
    infos = zip_infos([("sheet.xml", bytes(range(256)) * 1024)])

    assert check_zip_members(infos, Limits(max_member_bytes=1000)) == LimitExceeded("max_member_bytes", 256 * 1024, 1000)


def test_zip_member_ratio_over():
    infos = zip_infos([("sheet.xml", b" " * (DEFAULT_LIMITS.ratio_grace_bytes + 1))])

    assert check_zip_members(infos).limit == "max_compression_ratio"


def test_zip_members_total_over():
    infos = zip_infos([("a.bin", bytes(range(256)) * 4), ("b.bin", bytes(range(256)) * 4)])

    assert check_zip_members(infos, Limits(max_total_bytes=1500)) == LimitExceeded("max_total_bytes", 2048, 1500)
