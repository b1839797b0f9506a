"""Retention purge and erasure leave no trace of the documents they remove, on SQLite and PostgreSQL.

The sample applications (01, 02 and 03, 04, 07, 14) are taken in and rejected. Thirty-one
days later the retention run purges every identity document, and then the applicant of
sample 01 is erased. Afterwards nothing of a purged document may remain: not its file,
not its part in a stored raw mail or in the mailbox copy, not its name or hash in a row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from mailflow import clock
from mailflow.app import App
from mailflow.db.models import AuditEntry, Document
from mailflow.db.session import transaction
from mailflow.intake.parse import parse_message
from mailflow.privacy.erase import erase_person
from mailflow.privacy.person import find_person
from mailflow.privacy.retention import RetentionPolicy, outbox_folder, run_retention
from tests.leaks.scan import database_hits, folder_hits, personal_values, sample_json
from tests.leaks.secrets import found_in, text_forms
from tests.privacy.populated import INTAKE_DAY, STAFF, app_config, days_after_intake, decide_all, deliver, sample_mail

APPLICATIONS = ["01-registration-complete", "02-registration-id-by-post", "03-followup-id-only-reply",
                "04-renewal-docx", "07-registration-unmasked-mynumber", "14-registration-mynumber-card-front"]
ERASED = "01-registration-complete"
SLICE_BYTES = 32


@dataclass
class Populated:
    app: App
    root: Path
    identity_ids: list[str]
    erased_ids: list[str]


def payload_forms(stem: str, roles: tuple[str, ...]) -> list[bytes]:
    """Return slices of the decoded bytes and the file names of the attachments of ``stem`` with ``roles``."""
    wanted = {entry["sha256"]: entry for entry in sample_json(stem)["attachments"] if entry["role"] in roles}
    forms = []
    for attachment in parse_message(sample_mail(stem).read_bytes()).attachments:
        if attachment.sha256 in wanted:
            middle = len(attachment.payload) // 2
            forms += [attachment.payload[middle:middle + SLICE_BYTES], attachment.sha256.encode("ascii")]
            forms += text_forms(wanted[attachment.sha256]["filename"])
    return forms


IDENTITY_FORMS = [form for stem in APPLICATIONS for form in payload_forms(stem, ("identity_document",))]
ERASED_FORMS = payload_forms(ERASED, ("registration_form", "pledge_form", "identity_document"))


@pytest.fixture(scope="module")
def populated(db_url, tmp_path_factory):
    root = tmp_path_factory.mktemp("populated")
    clock.set_now(INTAKE_DAY)
    config = app_config(root, database_url=db_url)
    deliver(config, *[sample_mail(stem) for stem in APPLICATIONS])
    app = App(config)
    app.run_once()
    decide_all(app)
    with transaction(app.sessions) as session:
        documents = list(session.scalars(select(Document).where(Document.storage_id.is_not(None))))
        identity_ids = [row.storage_id for row in documents if row.role == "identity_document"]
        erased_email = sample_json(ERASED)["from"]["email"]
        erased_ids = [row.storage_id for row in documents if row.item.sender_address == erased_email]
    clock.set_now(days_after_intake(31))
    outbox = outbox_folder(config)
    run_retention(app.sessions, app.store, app.key, RetentionPolicy(30, None, None), clock.now(), outbox_dir=outbox)
    with transaction(app.sessions) as session:
        person = find_person(session, erased_email).person
        erase_person(session, app.store, app.key, person, STAFF, outbox)
    app.intake_pass()
    yield Populated(app, root, identity_ids, erased_ids)
    app.close()
    clock.set_now(None)


def test_identity_files_deleted(populated):
    assert len(populated.identity_ids) >= 4
    assert [storage_id for storage_id in populated.identity_ids if populated.app.store.exists(storage_id)] == []


def test_erased_files_deleted(populated):
    assert len(populated.erased_ids) == 3
    assert [storage_id for storage_id in populated.erased_ids if populated.app.store.exists(storage_id)] == []


def test_database_has_no_purged_document(populated):
    assert database_hits(populated.app.engine, IDENTITY_FORMS + ERASED_FORMS, populated.app.key) == []


def test_mailbox_has_no_purged_document(populated):
    assert folder_hits(populated.root / "maildir", IDENTITY_FORMS + ERASED_FORMS) == []


def test_outbox_has_no_purged_document(populated):
    staff_mail = list((populated.root / "outbox").glob("*staff_notification.eml"))
    assert staff_mail != []
    assert folder_hits(populated.root / "outbox", IDENTITY_FORMS + ERASED_FORMS) == []


def test_data_folder_has_no_purged_document(populated):
    assert folder_hits(populated.root / "data", IDENTITY_FORMS + ERASED_FORMS) == []


def test_erased_person_gone(populated):
    forms = [form for value in personal_values(ERASED, body=False) for form in text_forms(value)]
    assert database_hits(populated.app.engine, forms, populated.app.key) == []
    assert folder_hits(populated.root / "outbox", forms) == []


def test_purged_rows_are_tombstones(populated):
    with transaction(populated.app.sessions) as session:
        rows = session.scalars(select(Document).where(Document.purged_at.is_not(None))).all()
        values = [(row.filename, row.sha256, row.storage_id, row.kept) for row in rows]
        reasons = {row.purge_reason for row in rows}
    assert len(rows) >= len(populated.identity_ids) + 2
    assert {value for value in values if value[0] or value[1] or value[2] or value[3]} == set()
    assert {"identity_retention", "erasure"} <= reasons


def test_other_forms_kept(populated):
    with transaction(populated.app.sessions) as session:
        kept = session.scalars(select(Document).where(Document.storage_id.is_not(None))).all()
        roles = sorted({row.role for row in kept})
    assert roles == ["pledge_form", "registration_form"]
    assert all(populated.app.store.exists(row.storage_id) for row in kept)


def test_erasure_audited(populated):
    with transaction(populated.app.sessions) as session:
        erased = session.scalars(select(AuditEntry).where(AuditEntry.action == "person_erased")).one()
    assert json.dumps(erased.detail).count("@") == 0
    assert found_in(json.dumps(erased.detail, ensure_ascii=False).encode(), ERASED_FORMS) == []
