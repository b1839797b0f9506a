"""The text of ``mailflow queue show``: replies that came without documents."""

from __future__ import annotations

from mailflow.commands.queue import render_item_text
from mailflow.db.models import Document, ReviewItem


def item_with_replies(replies: list[dict]) -> ReviewItem:
    return ReviewItem(number="2026-0007", kind="registration", state="needs_attention",
                      sender_address="taro@example.jp", checklist={}, warnings=[], manual_checks=[],
                      details={"replies": replies})


def test_reply_lines_shown_in_tokyo_time():
    text = render_item_text(item_with_replies(
        [{"received_at": "2026-12-04T01:30:00+00:00", "lines": ["取り下げます。", "よろしくお願いします。"]}]), [])
    assert "書類なしで届いた返信の本文:\n  2026-12-04 10:30 受信:\n  | 取り下げます。\n  | よろしくお願いします。" in text


def test_empty_reply_says_so():
    text = render_item_text(item_with_replies([{"received_at": "2026-12-04T01:30:00+00:00", "lines": []}]), [])
    assert "  | （本文はありません）" in text


def test_no_replies_no_section():
    assert "返信の本文" not in render_item_text(item_with_replies([]), [])


def test_alike_documents_one_line():
    documents = [Document(id=index, filename="zeros.bin", role="other", size=0, sha256="0" * 64, kept=True)
                 for index in range(3, 103)]
    documents.append(Document(id=103, filename="申込書.xlsx", role="registration_form", size=10, sha256="1" * 64,
                              kept=True))
    text = render_item_text(item_with_replies([]), documents)
    file_lines = text.split("受け取ったファイル:\n")[1].splitlines()
    assert len(file_lines) == 2
    assert file_lines[0].startswith("  [3〜102] ")
    assert file_lines[0].endswith("（同じものが 100 件）")
    assert file_lines[1].startswith("  [103] ")


def test_attendance_event_named():
    item = ReviewItem(number="2026-0020", kind="attendance_form", state="ready", sender_address="m@example.jp",
                      checklist={}, warnings=[], manual_checks=[],
                      details={"attendance_event": {"event_id": 3, "number": "E2026-0003", "name": "春の交流会"}})
    assert "交流会: E2026-0003 春の交流会（開催案内への返信）" in render_item_text(item, [])
