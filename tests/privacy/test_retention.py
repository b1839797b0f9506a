"""Retention purges on a database filled by the real intake: files, rows, stored raw mail, mailbox copies."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from mailflow import clock
from mailflow.app import App
from mailflow.db.models import AuditEntry, Document, InboundMessage, ReviewItem
from mailflow.db.session import transaction
from mailflow.intake.parse import parse_message
from mailflow.mailbox.base import Folder
from mailflow.privacy.purge import RESUBMISSION_REQUESTED, PurgeError, purge_document
from mailflow.privacy.retention import RetentionPolicy, due_documents, run_retention
from mailflow.privacy.stored_mail import stored_raw
from mailflow.storage import decrypt_blob
from tests.leaks.secrets import found_in, text_forms
from tests.privacy.populated import INTAKE_DAY, STAFF, app_config, days_after_intake, decide_all, deliver, sample_mail

APPLICATION = "01-registration-complete"
EXPECTED = json.loads(sample_mail(APPLICATION).with_suffix(".json").read_text(encoding="utf-8"))
IDENTITY = next(entry for entry in EXPECTED["attachments"] if entry["role"] == "identity_document")
FORM = next(entry for entry in EXPECTED["attachments"] if entry["role"] == "registration_form")


@pytest.fixture
def app(tmp_path):
    clock.set_now(INTAKE_DAY)
    config = app_config(tmp_path)
    deliver(config, sample_mail(APPLICATION))
    app = App(config)
    app.run_once()
    yield app
    app.close()
    clock.set_now(None)


def documents(app: App) -> dict[str, Document]:
    with transaction(app.sessions) as session:
        return {document.role: document for document in session.scalars(select(Document))}


def stored_message(app: App) -> InboundMessage:
    with transaction(app.sessions) as session:
        return session.scalars(select(InboundMessage)).one()


def attachment_hashes(raw: bytes) -> list[str]:
    return [attachment.sha256 for attachment in parse_message(raw).attachments]


def policy(**days) -> RetentionPolicy:
    values = {"identity_days": 30, "document_days": None, "raw_days": None} | days
    return RetentionPolicy(**values)


def run(app: App, days: int, dry_run: bool = False, **policy_days):
    """Run the purge ``days`` after intake, with the clock set to that moment as the daemon's would be."""
    clock.set_now(days_after_intake(days))
    return run_retention(app.sessions, app.store, app.key, policy(**policy_days), clock.now(), dry_run)


def processed_copies(app: App) -> list[bytes]:
    folder = app.source.folders[Folder.PROCESSED]
    return [path.read_bytes() for sub in ("new", "cur") for path in sorted((folder / sub).iterdir())]


def test_open_item_not_due(app):
    with transaction(app.sessions) as session:
        assert due_documents(session, policy(identity_days=0), days_after_intake(400)) == []


def test_identity_not_due_early(app):
    decide_all(app)
    with transaction(app.sessions) as session:
        assert due_documents(session, policy(), days_after_intake(29)) == []


def test_identity_due_after_period(app):
    decide_all(app)
    with transaction(app.sessions) as session:
        due = due_documents(session, policy(), days_after_intake(31))
    assert [entry.role for entry in due] == ["identity_document"]
    assert due[0].reason == "identity_retention"


def test_identity_zero_days_due_at_once(app):
    decide_all(app)
    with transaction(app.sessions) as session:
        assert len(due_documents(session, policy(identity_days=0), INTAKE_DAY)) == 1


def test_purge_deletes_file(app):
    storage_id = documents(app)["identity_document"].storage_id
    decide_all(app)
    report = run(app, 31)
    assert report.purged_documents == [documents(app)["identity_document"].id]
    assert not app.store.exists(storage_id)


def test_purge_empties_row(app):
    decide_all(app)
    run(app, 31)
    row = documents(app)["identity_document"]
    assert row.storage_id is None
    assert row.filename is None
    assert row.sha256 == ""
    assert row.kept is False
    assert row.purge_reason == "identity_retention"
    assert clock.as_utc(row.purged_at) == days_after_intake(31)


def test_purge_strips_raw_part(app):
    decide_all(app)
    run(app, 31)
    raw = stored_raw(stored_message(app), app.key)
    assert IDENTITY["sha256"] not in attachment_hashes(raw)
    assert FORM["sha256"] in attachment_hashes(raw)
    assert raw.count(b"X-Mailflow-Removed-Part") == 1
    assert found_in(raw, text_forms(IDENTITY["filename"])) == []


def test_purge_audited_without_content(app):
    decide_all(app)
    run(app, 31)
    with transaction(app.sessions) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "document_purged")).one()
        assert entry.actor == "mailflow"
        assert entry.detail["reason"] == "identity_retention"
        assert entry.detail["role"] == "identity_document"
        assert IDENTITY["filename"] not in json.dumps(entry.detail, ensure_ascii=False)


def test_other_documents_kept(app):
    decide_all(app)
    run(app, 400)
    rows = documents(app)
    assert rows["registration_form"].storage_id is not None
    assert app.store.exists(rows["pledge_form"].storage_id)


def test_document_retention_purges_forms(app):
    decide_all(app)
    report = run(app, 15, identity_days=10, document_days=14)
    assert len(report.purged_documents) == 3
    assert attachment_hashes(stored_raw(stored_message(app), app.key)) == []


def test_dry_run_changes_nothing(app):
    decide_all(app)
    before = stored_message(app).raw
    report = run(app, 31, dry_run=True)
    assert len(report.due_documents) == 1
    assert report.purged_documents == []
    assert documents(app)["identity_document"].storage_id is not None
    assert stored_message(app).raw == before


def test_second_run_purges_nothing(app):
    decide_all(app)
    run(app, 31)
    raw = stored_message(app).raw
    report = run(app, 32)
    assert report.due_documents == []
    assert stored_message(app).raw == raw


def test_raw_retention_deletes_raw(app):
    decide_all(app)
    report = run(app, 8, raw_days=7)
    message = stored_message(app)
    assert report.purged_messages == [message.id]
    assert message.raw is None
    assert clock.as_utc(message.raw_purged_at) == days_after_intake(8)
    with transaction(app.sessions) as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "raw_purged")).one()


def test_raw_of_open_item_kept(app):
    report = run(app, 400, raw_days=7)
    assert report.purged_messages == []


def test_maildir_copy_replaced(app):
    decide_all(app)
    run(app, 31)
    assert stored_message(app).mailbox_update_due is True
    app.intake_pass()
    copies = processed_copies(app)
    assert len(copies) == 1
    assert IDENTITY["sha256"] not in attachment_hashes(copies[0])
    assert FORM["sha256"] in attachment_hashes(copies[0])
    assert stored_message(app).mailbox_update_due is False


def test_maildir_copy_deleted_with_raw(app):
    decide_all(app)
    run(app, 8, raw_days=7)
    app.intake_pass()
    assert processed_copies(app) == []
    with transaction(app.sessions) as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "mailbox_copy_deleted" in actions


def test_copy_sync_once_only(app):
    decide_all(app)
    run(app, 31)
    first = app.sync_mailbox_copies()
    second = app.sync_mailbox_copies()
    assert len(first.replaced) == 1
    assert second.replaced == []
    assert len(processed_copies(app)) == 1


def test_purge_document_audits_actor(app):
    document_id = documents(app)["identity_document"].id
    with transaction(app.sessions) as session:
        result = purge_document(session, app.store, document_id, RESUBMISSION_REQUESTED, STAFF, app.key)
    assert result.file_deleted is True
    assert result.raw_part == "4"
    with transaction(app.sessions) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "document_purged")).one()
        assert entry.actor == STAFF
        assert entry.detail["reason"] == RESUBMISSION_REQUESTED


def test_purge_document_twice_harmless(app):
    document_id = documents(app)["identity_document"].id
    for _ in range(2):
        with transaction(app.sessions) as session:
            result = purge_document(session, app.store, document_id, RESUBMISSION_REQUESTED, STAFF, app.key)
    assert result.already_purged is True
    assert stored_raw(stored_message(app), app.key).count(b"X-Mailflow-Removed-Part") == 1


def test_purge_unknown_document_rejected(app):
    with transaction(app.sessions) as session, pytest.raises(PurgeError):
        purge_document(session, app.store, 9999, RESUBMISSION_REQUESTED, STAFF, app.key)


def test_encrypted_raw_stays_encrypted(tmp_path):
    clock.set_now(INTAKE_DAY)
    config = app_config(tmp_path, encrypted=True)
    deliver(config, sample_mail(APPLICATION))
    app = App(config)
    try:
        app.run_once()
        decide_all(app)
        run(app, 31)
        message = stored_message(app)
        assert message.raw_encrypted is True
        assert IDENTITY["sha256"] not in attachment_hashes(decrypt_blob(message.raw, app.key))
    finally:
        app.close()
        clock.set_now(None)


def test_items_keep_their_state(app):
    decide_all(app)
    run(app, 31)
    with transaction(app.sessions) as session:
        item = session.scalars(select(ReviewItem)).one()
        assert item.state == "rejected"
