"""Requests under the personal information law: finding a person, exporting and erasing their data."""

from __future__ import annotations

import hashlib
import json
from email.message import EmailMessage
import stat
import zipfile

import pytest
from sqlalchemy import select

from mailflow import clock
from mailflow.app import App
from mailflow.cli import main
from mailflow.db.models import AuditEntry, Document, InboundMessage, Mentor, Outbox, ReviewItem
from mailflow.db.session import transaction
from mailflow.privacy.erase import erase_person
from mailflow.privacy.export import ExportError, export_person
from mailflow.privacy.person import EMAIL, RECEIPT, REGISTRATION_NUMBER, find_person, query_kind
from mailflow.review.commands import parse_command
from mailflow.review.decisions import DecisionContext, apply_command
from tests.leaks.scan import database_hits, folder_hits, personal_values, sample_json
from tests.leaks.secrets import found_in, text_forms
from tests.privacy.populated import INTAKE_DAY, STAFF, app_config, deliver, sample_mail

APPLICANT = "01-registration-complete"
OTHER = "07-registration-unmasked-mynumber"
INQUIRY = "10-inquiry"
EXPECTED = sample_json(APPLICANT)
EMAIL_ADDRESS = EXPECTED["from"]["email"]
DOCUMENT_HASHES = sorted(entry["sha256"] for entry in EXPECTED["attachments"])


@pytest.fixture
def app(tmp_path):
    clock.set_now(INTAKE_DAY)
    config = app_config(tmp_path)
    deliver(config, sample_mail(APPLICANT), sample_mail(OTHER), sample_mail(INQUIRY))
    app = App(config)
    app.run_once()
    yield app
    app.close()
    clock.set_now(None)


def forms_of(values: list[str]) -> list[bytes]:
    return [form for value in values for form in text_forms(value)]


def receipt_number(app: App) -> str:
    with transaction(app.sessions) as session:
        return session.scalars(select(ReviewItem.number).where(ReviewItem.sender_address == EMAIL_ADDRESS)).one()


def approve_applicant(app: App) -> str:
    """Approve the applicant's item (its checklist is complete) and return the new registration number."""
    with transaction(app.sessions) as session:
        item = session.scalars(select(ReviewItem).where(ReviewItem.sender_address == EMAIL_ADDRESS)).one()
        item.state = "ready"
        apply_command(DecisionContext(session, app, actor=STAFF, channel="cli"), item, parse_command("approve"))
        return session.get(Mentor, item.mentor_id).registration_number


def lookup(app: App, query: str):
    session = app.sessions()
    return session, find_person(session, query)


@pytest.mark.parametrize("query,kind", [
    ("taro@example.jp", EMAIL), ("2026-0012", RECEIPT), ("MM-2026-0001", REGISTRATION_NUMBER)])
def test_query_kind(query, kind):
    assert query_kind(query) == kind


def test_find_by_email(app):
    session, found = lookup(app, EMAIL_ADDRESS.upper())
    assert found.candidates == []
    assert len(found.person.items) == 1
    assert sorted(document.sha256 for document in found.person.documents) == DOCUMENT_HASHES
    assert [message.sender_address for message in found.person.messages] == [EMAIL_ADDRESS]
    assert found.person.outbox != []
    session.close()


def test_find_by_receipt_number(app):
    session, found = lookup(app, receipt_number(app))
    assert [item.applicant_email for item in found.person.items] == [EMAIL_ADDRESS]
    session.close()


def test_find_by_registration_number(app):
    number = approve_applicant(app)
    session, found = lookup(app, number)
    assert [mentor.registration_number for mentor in found.person.mentors] == [number]
    assert len(found.person.items) == 1
    assert found.person.history != []
    session.close()


def test_unknown_query_empty(app):
    session, found = lookup(app, "nobody@example.jp")
    assert found.person is None
    assert found.candidates == []
    session.close()


def test_shared_address_ambiguous(app):
    with transaction(app.sessions) as session:
        session.add(ReviewItem(number="2026-0999", kind="registration", state="incomplete",
                               sender_address=EMAIL_ADDRESS, applicant_name="山田 花子"))
    session, found = lookup(app, EMAIL_ADDRESS)
    assert found.person is None
    assert len(found.candidates) == 2
    assert any("山田 花子" in line for line in found.candidates)
    session.close()


def add_impostor(app: App) -> None:
    """Add an item sent from another address whose form copies the applicant's name and address."""
    with transaction(app.sessions) as session:
        victim = session.scalars(select(ReviewItem).where(ReviewItem.sender_address == EMAIL_ADDRESS)).one()
        session.add(ReviewItem(number="2026-0998", kind="registration", state="incomplete",
                               sender_address="impostor@example.net", applicant_name=victim.applicant_name,
                               applicant_email=EMAIL_ADDRESS))


def test_form_address_links_no_items(app):
    add_impostor(app)
    session, found = lookup(app, "impostor@example.net")
    assert [item.number for item in found.person.items] == ["2026-0998"]
    assert found.person.documents == []
    session.close()


def test_form_address_only_ambiguous(app):
    add_impostor(app)
    session, found = lookup(app, EMAIL_ADDRESS)
    assert found.person is None
    assert any("2026-0998" in line and "申請書" in line for line in found.candidates)
    session.close()


def test_erase_impostor_keeps_applicant(app):
    add_impostor(app)
    erase(app, "2026-0998")
    with app.sessions() as session:
        kept = session.scalars(select(ReviewItem).where(ReviewItem.sender_address == EMAIL_ADDRESS)).one()
        hashes = session.scalars(select(Document.sha256).where(Document.item_id == kept.id)).all()
    assert kept.applicant_name is not None
    assert sorted(hashes) == DOCUMENT_HASHES


def test_export_contents(app, tmp_path):
    path = tmp_path / "export.zip"
    with transaction(app.sessions) as session:
        summary = export_person(session, app.store, app.key, find_person(session, EMAIL_ADDRESS).person, path, STAFF)
    assert summary.documents == 3
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        hashes = sorted(hashlib.sha256(archive.read(name)).hexdigest() for name in names
                        if name.startswith("documents/"))
        readme = archive.read("README.txt").decode("utf-8")
        received = [name for name in names if name.startswith("mails/received/") and name.endswith(".eml")]
        items = json.loads(archive.read("items.json"))
    assert hashes == DOCUMENT_HASHES
    assert "受け取った書類: 3 件" in readme
    assert len(received) == 1
    assert items[0]["form_values"]["name"] == EXPECTED["applicant"]["name"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_export_leaves_out_others(app, tmp_path):
    path = tmp_path / "export.zip"
    with transaction(app.sessions) as session:
        export_person(session, app.store, app.key, find_person(session, EMAIL_ADDRESS).person, path, STAFF)
    other = sample_json(OTHER)
    with zipfile.ZipFile(path) as archive:
        contents = b"".join(archive.read(name) for name in archive.namelist())
    assert found_in(contents, forms_of([other["from"]["email"], other["applicant"]["address"]])) == []


def test_export_audited(app, tmp_path):
    with transaction(app.sessions) as session:
        export_person(session, app.store, app.key, find_person(session, EMAIL_ADDRESS).person,
                      tmp_path / "export.zip", STAFF)
    with transaction(app.sessions) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "person_exported")).one()
        assert entry.actor == STAFF
        assert EMAIL_ADDRESS not in json.dumps(entry.detail, ensure_ascii=False)


def test_export_refuses_overwrite(app, tmp_path):
    path = tmp_path / "export.zip"
    path.write_bytes(b"keep")
    with transaction(app.sessions) as session, pytest.raises(ExportError):
        export_person(session, app.store, app.key, find_person(session, EMAIL_ADDRESS).person, path, STAFF)
    assert path.read_bytes() == b"keep"


def erase(app: App, query: str = EMAIL_ADDRESS, dry_run: bool = False):
    outbox = app.config.resolve(app.config.outbound.directory)
    with transaction(app.sessions) as session:
        return erase_person(session, app.store, app.key, find_person(session, query).person, STAFF, outbox, dry_run)


def test_erase_leaves_no_personal_value(app):
    approve_applicant(app)
    erase(app)
    assert database_hits(app.engine, forms_of(personal_values(APPLICANT)), app.key) == []


def test_erase_deletes_files(app):
    with transaction(app.sessions) as session:
        rows = session.scalars(select(Document)).all()
        storage_ids = {row.sha256: row.storage_id for row in rows if row.storage_id}
    erase(app)
    outbox = app.config.resolve(app.config.outbound.directory)
    assert folder_hits(outbox, forms_of([EMAIL_ADDRESS])) == []
    assert [sha for sha in DOCUMENT_HASHES if app.store.exists(storage_ids[sha])] == []
    assert [sha for sha, storage_id in storage_ids.items() if app.store.exists(storage_id)] != []  # 07's stay


def test_erase_keeps_other_people(app):
    erase(app)
    other = sample_json(OTHER)
    hits = database_hits(app.engine, forms_of([other["from"]["email"]]), app.key)
    assert "inbound_message.raw#2" in hits


def test_erase_deletes_mailbox_copy(app):
    erase(app)
    app.intake_pass()
    folder = app.config.resolve(app.config.mailbox.maildir) / ".mailflow.processed"
    assert folder_hits(folder, forms_of([EMAIL_ADDRESS])) == []
    assert len(list((folder / "cur").iterdir()) + list((folder / "new").iterdir())) == 2


def test_erase_audits_without_values(app):
    erase(app)
    values = personal_values(APPLICANT)
    with transaction(app.sessions) as session:
        entries = session.scalars(select(AuditEntry)).all()
        erased = [entry for entry in entries if entry.action == "person_erased"]
        assert len(erased) == 1
        assert erased[0].detail["mails_received"] == 1
        dumped = json.dumps([entry.detail for entry in entries], ensure_ascii=False)
        assert [value for value in values if value in dumped] == []


def test_erase_cancels_pending_mail(app):
    with transaction(app.sessions) as session:
        for row in session.scalars(select(Outbox)):
            row.status = "pending"
    erase(app)
    with transaction(app.sessions) as session:
        statuses = session.scalars(select(Outbox.status).where(Outbox.raw.is_(None))).all()
    assert statuses != []
    assert set(statuses) == {"cancelled"}


def test_erase_dry_run_changes_nothing(app):
    summary = erase(app, dry_run=True)
    assert summary.documents == 3
    assert database_hits(app.engine, forms_of([EMAIL_ADDRESS]), app.key) != []
    with transaction(app.sessions) as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "person_erased")).all() == []


def test_erase_withdraws_mentor(app):
    number = approve_applicant(app)
    erase(app, number)
    with transaction(app.sessions) as session:
        mentor = session.scalars(select(Mentor)).one()
        assert mentor.status == "withdrawn"
        assert mentor.email is None
        assert mentor.registration_number == number


def test_erase_closes_open_item(app):
    number = receipt_number(app)
    erase(app)
    with transaction(app.sessions) as session:
        item = session.scalars(select(ReviewItem).where(ReviewItem.number == number)).one()
        assert (item.state, item.decision) == ("done", "erased")
        assert item.token_expires_at is not None


def test_planning_after_erase(app):
    erase(app)
    assert app.plan(flush=True) >= 0
    with transaction(app.sessions) as session:
        assert session.scalars(select(InboundMessage).where(InboundMessage.raw.is_(None))).all() != []


def test_cli_ambiguous_lists(app, tmp_path, capsys):
    with transaction(app.sessions) as session:
        session.add(ReviewItem(number="2026-0999", kind="registration", state="incomplete",
                               sender_address=EMAIL_ADDRESS, applicant_name="山田 花子"))
    config = tmp_path / "config.toml"
    config.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n[database]\nurl = "{app.config.database.url}"\n',
                      encoding="utf-8")
    assert main(["--config", str(config), "person", "erase", EMAIL_ADDRESS]) == 1
    output = capsys.readouterr().out
    assert "複数の人が該当する" in output
    assert "2026-0999" in output
    assert database_hits(app.engine, forms_of([EXPECTED["applicant"]["address"]]), app.key) != []


def test_cli_dry_run_lists_items(app, tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n[database]\nurl = "{app.config.database.url}"\n',
                      encoding="utf-8")
    assert main(["--config", str(config), "person", "erase", EMAIL_ADDRESS, "--dry-run"]) == 0
    output = capsys.readouterr().out
    assert f"受付番号 {receipt_number(app)} " in output
    assert f"差出人 <{EMAIL_ADDRESS}>" in output


def test_cli_export_writes_zip(app, tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n[database]\nurl = "{app.config.database.url}"\n',
                      encoding="utf-8")
    output = tmp_path / "out.zip"
    assert main(["--config", str(config), "person", "export", receipt_number(app), "--output", str(output)]) == 0
    assert zipfile.ZipFile(output).read("README.txt")


def test_erase_clears_digest_mention(app):
    number = approve_applicant(app)
    digest = EmailMessage()
    digest["Subject"] = "日次のまとめ"
    digest.set_content(f"登録番号 {number} {EXPECTED['applicant']['name']}: 満了日 2030年3月31日")
    with transaction(app.sessions) as session:
        session.add(Outbox(key="staff-digest:2027-03-01", kind="staff_digest", status="sent",
                           recipients=[STAFF], message_id="<digest@bureau.example.jp>", raw=digest.as_bytes()))
    erase(app, number)
    with transaction(app.sessions) as session:
        row = session.scalars(select(Outbox).where(Outbox.key == "staff-digest:2027-03-01")).one()
        assert row.raw is None


def test_export_leaves_out_digest(app, tmp_path):
    number = approve_applicant(app)
    digest = EmailMessage()
    digest.set_content(f"登録番号 {number} と 登録番号 MM-2026-9999 他人の名前")
    with transaction(app.sessions) as session:
        session.add(Outbox(key="staff-digest:2027-03-01", kind="staff_digest", status="sent",
                           recipients=[STAFF], message_id="<digest@bureau.example.jp>", raw=digest.as_bytes()))
    path = tmp_path / "export.zip"
    with transaction(app.sessions) as session:
        export_person(session, app.store, app.key, find_person(session, number).person, path, STAFF)
    with zipfile.ZipFile(path) as archive:
        contents = b"".join(archive.read(name) for name in archive.namelist())
    assert found_in(contents, text_forms("他人の名前")) == []
