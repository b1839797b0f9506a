"""Staff notifications: when they are planned, what they carry and how replies find their item."""

from __future__ import annotations

import email

from sqlalchemy import select

from mailflow.db.models import Document, Outbox
from mailflow.intake.parse import parse_message
from mailflow.review import states
from mailflow.review.held_files import EMPTY, MAX_ATTACHED_FILES, MAX_LISTED_FILES, OTHER_FILE_LABEL, OVER_COUNT
from mailflow.review.notify import plan_staff_notifications
from mailflow.review.replies import threaded_item_ids
from tests.review.builders import FORM, STAFF_LIST, add_inbound, make_item, staff_reply


def _notifications(session) -> list[Outbox]:
    return list(session.scalars(select(Outbox).where(Outbox.kind == "staff_notification").order_by(Outbox.id)))


def test_replan_does_not_notify_twice(session, services):
    make_item(session, services)
    assert plan_staff_notifications(session, services, flush=True) == 1
    assert plan_staff_notifications(session, services, flush=True) == 0


def test_new_mail_notifies_again(session, services):
    item = make_item(session, services)
    plan_staff_notifications(session, services, flush=True)
    add_inbound(session, item, "<second@example.jp>")
    assert plan_staff_notifications(session, services, flush=True) == 1


def test_incomplete_item_not_notified(session, services):
    make_item(session, services, state=states.INCOMPLETE)
    assert plan_staff_notifications(session, services, flush=True) == 0


def test_subject_reply_to_and_recipients(session, services):
    item = make_item(session, services)
    plan_staff_notifications(session, services, flush=True)
    row = _notifications(session)[0]
    headers = email.message_from_bytes(row.raw)
    assert row.subject == f"[{item.token}] 審査依頼 {item.number} 新規登録 山田 太郎"
    assert headers["Reply-To"] == f"intake+{item.token}@bureau.example.jp"
    assert row.recipients == [STAFF_LIST]


def test_reply_to_without_subaddress(session, services):
    services.config.staff.subaddress = False
    make_item(session, services)
    plan_staff_notifications(session, services, flush=True)
    assert email.message_from_bytes(_notifications(session)[0].raw)["Reply-To"] == "intake@bureau.example.jp"


def test_documents_within_budget_attached(session, services):
    services.config.staff.attach_budget_bytes = 1500
    item = make_item(session, services, documents={"registration_form": b"a" * 1000, "pledge_form": b"b" * 1000})
    plan_staff_notifications(session, services, flush=True)
    message = parse_message(_notifications(session)[0].raw)
    assert [attachment.filename for attachment in message.attachments] == ["registration_form.pdf"]
    assert "pledge_form.pdf" in message.body_text
    assert f"mailflow queue show {item.number}" in message.body_text


def test_notification_message_id_maps_to_item(session, services):
    item = make_item(session, services)
    plan_staff_notifications(session, services, flush=True)
    row = _notifications(session)[0]
    reply = parse_message(staff_reply("RE: x", "承認", in_reply_to=row.message_id))
    assert row.message_id in item.thread_ids
    assert threaded_item_ids(session, reply) == {item.id}


def test_needs_attention_lists_reasons(session, services):
    item = make_item(session, services, state=states.NEEDS_ATTENTION)
    item.details = {**item.details, "attention": ["申請書が読み取れません"]}
    plan_staff_notifications(session, services, flush=True)
    row = _notifications(session)[0]
    assert row.subject.startswith(f"[{item.token}] 要確認")
    assert "申請書が読み取れません" in parse_message(row.raw).body_text


def test_form_printed_with_form_labels(session, services):
    career = [{"period": "1980年4月～1995年3月", "company": "テスト運輸株式会社", "position": "営業所 所長",
               "duties": "運行管理"}]
    make_item(session, services, form={**FORM, "career": career, "unreadable": ["qualifications"]})
    plan_staff_notifications(session, services, flush=True)
    text = parse_message(_notifications(session)[0].raw).body_text
    assert f"  氏名: {FORM['name']}\n" in text
    assert "  個人情報の取扱いへの同意: はい\n" in text
    assert "  職歴:\n    1980年4月～1995年3月 / テスト運輸株式会社 / 営業所 所長 / 運行管理\n" in text
    assert "  読み取れなかった項目: 保有資格\n" in text


def _add_files(session, services, item, count: int, content: bytes, role: str = "other") -> None:
    inbound = add_inbound(session, item, f"<files-{item.id}-{count}@example.jp>")
    for index in range(count):
        session.add(Document(item_id=item.id, inbound_message_id=inbound.id, part_id=f"2/{index}", role=role,
                             filename="zeros.bin", content_type="application/octet-stream", sha256="0" * 64,
                             size=len(content), storage_id=services.store.put(content), kept=True))
    session.flush()


def test_empty_members_summarised(session, services):
    # An archive of 100 empty members, as one hostile mail carried, once listed all 100.
    item = make_item(session, services, state=states.NEEDS_ATTENTION)
    _add_files(session, services, item, 100, b"")
    plan_staff_notifications(session, services, flush=True)
    message = parse_message(_notifications(session)[0].raw)
    lines = [line for line in message.body_text.splitlines() if "zeros.bin" in line]
    assert len(lines) == MAX_LISTED_FILES
    assert f"  ほか {100 - MAX_LISTED_FILES} 件\n" in message.body_text
    assert message.attachments == []


def test_empty_member_line_in_japanese(session, services):
    item = make_item(session, services, state=states.NEEDS_ATTENTION)
    _add_files(session, services, item, 1, b"")
    plan_staff_notifications(session, services, flush=True)
    text = parse_message(_notifications(session)[0].raw).body_text
    assert f"  ・{OTHER_FILE_LABEL}: zeros.bin（0 バイト）: {EMPTY}\n" in text
    assert "other:" not in text


def test_attachments_capped_by_count(session, services):
    item = make_item(session, services)
    _add_files(session, services, item, MAX_ATTACHED_FILES + 2, b"x")
    plan_staff_notifications(session, services, flush=True)
    message = parse_message(_notifications(session)[0].raw)
    assert len(message.attachments) == MAX_ATTACHED_FILES
    assert f"  ほか {MAX_ATTACHED_FILES - MAX_LISTED_FILES} 件\n" in message.body_text
    assert f": {OVER_COUNT}\n" in message.body_text
