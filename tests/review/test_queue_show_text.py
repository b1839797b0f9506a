"""The text of ``mailflow queue show``: replies that came without documents."""

from __future__ import annotations

from mailflow.commands.queue import render_item_text
from mailflow.db.models import ReviewItem


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
