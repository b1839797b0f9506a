"""The admin CLI: queue decisions with the same effects and audit as replies, export and revoke."""

from __future__ import annotations

import datetime as dt
import json
import stat

import openpyxl
import pytest
from sqlalchemy import select

from mailflow.commands.decide import open_sessions
from mailflow.db.models import AuditEntry, Mentor, Outbox, ReviewItem
from mailflow.db.session import transaction
from mailflow.errors import MailflowError
from mailflow.intake.findings import DOCUMENT_LABELS
from mailflow.registry import mentors as registry
from mailflow.review import states
from mailflow.review.commands import DOCUMENT_NAMES
from mailflow.review.held_files import OTHER_FILE_LABEL
from tests.privacy.populated import (
    MAILBOX,
    sample_mail,
)
from tests.review.builders import (
    cli_parser,
    make_item,
    make_services,
    run_cli,
    taken_in,
)

# Its 住民票 shows an individual number, so intake keeps no identity document and the
# item needs attention: the application a user approved without noticing.
UNMASKED_NUMBER = "07-registration-unmasked-mynumber"


def _run(services, *argv: str) -> int:
    return run_cli(services.config, *argv)


def _refused(config, *argv: str) -> str:
    with pytest.raises(MailflowError) as caught:
        run_cli(config, *argv)
    return caught.value.message


def test_cli_approve_registers(cli):
    services, sessions, number = cli
    assert _run(services, "queue", "approve", number, "--actor", "suzuki") == 0
    with sessions() as session:
        item = session.scalars(select(ReviewItem)).one()
        audit = session.scalars(select(AuditEntry)).one()
        assert item.state == states.APPROVED
        assert session.scalars(select(Mentor.registration_number)).one() == "MM-2026-0001"
        assert (audit.actor, audit.action, audit.detail["channel"]) == ("suzuki", "approve", "cli")


def test_cli_reject_reason_joined(cli):
    services, sessions, number = cli
    assert _run(services, "queue", "reject", number, "年齢の", "要件") == 0
    with sessions() as session:
        item = session.scalars(select(ReviewItem)).one()
        assert item.decision_reason == "年齢の 要件"
        assert session.scalars(select(Outbox.kind)).all() == ["result_rejected"]


def test_cli_resubmit_unknown_document(cli, capsys):
    services, sessions, number = cli
    assert _run(services, "queue", "resubmit", number, "住民票", "読めない") == 2
    assert "書類の名前" in capsys.readouterr().out


def test_cli_unknown_item(cli, capsys):
    services, _sessions, _number = cli
    assert _run(services, "queue", "hold", "2099-9999") == 1
    assert "見つかりません" in capsys.readouterr().out


def test_cli_note_actor_defaults_to_os_user(cli, monkeypatch):
    services, sessions, number = cli
    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    _run(services, "queue", "note", number, "電話済み")
    with sessions() as session:
        assert session.scalars(select(AuditEntry.actor)).one() == "os-user"


def test_cli_export_workbook(cli, tmp_path):
    services, _sessions, number = cli
    _run(services, "queue", "approve", number)
    target = tmp_path / "queue.xlsx"
    assert _run(services, "queue", "export", str(target)) == 0
    workbook = openpyxl.load_workbook(target)
    items, mentors = workbook["審査案件"], workbook["登録簿"]
    assert items["A1"].value == "受付番号"
    assert items["A2"].value == number
    assert isinstance(items["D2"].value, dt.datetime)
    assert mentors["A2"].value == "MM-2026-0001"
    assert isinstance(mentors["G2"].value, dt.datetime)
    assert mentors["G2"].number_format == "yyyy/mm/dd"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_cli_revoke_audited(cli):
    services, sessions, number = cli
    _run(services, "queue", "approve", number)
    assert _run(services, "registry", "revoke", "MM-2026-0001", "--reason", "false_statement", "--actor", "kanri") == 0
    with sessions() as session:
        mentor = session.scalars(select(Mentor)).one()
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "revoke")).one()
        assert (mentor.status, mentor.status_reason) == (registry.REVOKED, "false_statement")
        assert (audit.mentor_id, audit.actor) == (mentor.id, "kanri")
        assert "revocation_confirmation" in session.scalars(select(Outbox.kind)).all()


@pytest.fixture
def unmasked(tmp_path):
    """The sample application whose identity document was not kept, taken in by the daemon."""
    with taken_in(tmp_path, sample_mail(UNMASKED_NUMBER)) as app:
        with transaction(app.sessions) as session:
            number = session.scalars(select(ReviewItem.number)).one()
        yield app, number


def test_cli_approve_missing_identity_refused(unmasked):
    app, number = unmasked
    expected = json.loads((MAILBOX / f"{UNMASKED_NUMBER}.json").read_text(encoding="utf-8"))
    message = _refused(app.config, "queue", "approve", number)
    for role in expected["missing_items"]:
        assert DOCUMENT_LABELS[role] in message, role
        assert f"mailflow queue received {number} {DOCUMENT_NAMES[role]}" in message, role


def test_cli_approve_missing_identity_no_mentor(unmasked):
    app, number = unmasked
    expected = json.loads((MAILBOX / f"{UNMASKED_NUMBER}.json").read_text(encoding="utf-8"))
    _refused(app.config, "queue", "approve", number, "--force")
    with app.sessions() as session:
        item = session.scalars(select(ReviewItem)).one()
        assert item.state == expected["review_state"]
        assert session.scalars(select(Mentor)).all() == []


def test_cli_received_then_forced_approval(unmasked):
    app, number = unmasked
    assert run_cli(app.config, "queue", "received", number, "本人確認書類", "--actor", "suzuki") == 0
    message = _refused(app.config, "queue", "approve", number)
    assert f"mailflow queue approve {number} --force" in message
    assert run_cli(app.config, "queue", "approve", number, "--force", "--note", "窓口で原本を確認") == 0
    with app.sessions() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "approve")).one()
        assert session.scalars(select(ReviewItem.state)).one() == states.APPROVED
        assert audit.detail["override"] is True
        assert audit.detail["argument"] == "窓口で原本を確認"
        assert audit.detail["confirmed_attention"] != []


def test_cli_note_needs_force(cli, capsys):
    services, sessions, number = cli
    assert _run(services, "queue", "approve", number, "--note", "窓口で確認") == 2
    assert "--force" in capsys.readouterr().out
    with sessions() as session:
        assert session.scalars(select(ReviewItem.state)).one() == states.READY


def test_cli_show_form_in_japanese(unmasked, capsys):
    app, number = unmasked
    applicant = json.loads((MAILBOX / f"{UNMASKED_NUMBER}.json").read_text(encoding="utf-8"))["applicant"]
    birth = dt.date.fromisoformat(applicant["birth_date"])
    assert run_cli(app.config, "queue", "show", number) == 0
    output = capsys.readouterr().out
    assert f"  氏名: {applicant['name']}\n" in output
    assert f"  生年月日: {birth.year}年{birth.month}月{birth.day}日（昭和" in output
    assert f"  個人情報の取扱いへの同意: {'はい' if applicant['consent'] else 'いいえ'}\n" in output
    assert f"  専門分野: {'、'.join(applicant['fields'])}\n" in output


def test_cli_show_career_as_lines(unmasked, capsys):
    app, number = unmasked
    applicant = json.loads((MAILBOX / f"{UNMASKED_NUMBER}.json").read_text(encoding="utf-8"))["applicant"]
    run_cli(app.config, "queue", "show", number)
    output = capsys.readouterr().out
    assert "  職歴:\n" in output
    for row in applicant["career"]:
        line = " / ".join(row[key] for key in ("period", "company", "position", "duties"))
        assert f"    {line}\n" in output


def test_cli_show_no_python_reprs(unmasked, capsys):
    app, number = unmasked
    run_cli(app.config, "queue", "show", number)
    output = capsys.readouterr().out
    assert "{'" not in output
    assert "True" not in output
    assert "birth_date" not in output
    assert "career:" not in output


@pytest.fixture
def two_states(tmp_path):
    services = make_services(tmp_path)
    services.config.database.url = f"sqlite:///{tmp_path / 'mailflow.db'}"
    with transaction(open_sessions(services.config)) as session:
        ready = make_item(session, services).number
        waiting = make_item(session, services, state=states.INCOMPLETE, sender="other@example.jp").number
    return services, ready, waiting


@pytest.mark.parametrize("value", ["書類待ち", "incomplete", "INCOMPLETE", " 書類待ち "])
def test_cli_list_state_label_or_code(two_states, capsys, value):
    services, ready, waiting = two_states
    assert _run(services, "queue", "list", "--state", value) == 0
    output = capsys.readouterr().out
    assert waiting in output
    assert ready not in output


def test_cli_list_unknown_state(two_states, capsys):
    services, _ready, _waiting = two_states
    with pytest.raises(SystemExit):
        _run(services, "queue", "list", "--state", "不明")
    error = capsys.readouterr().err
    assert "状態「不明」はありません" in error
    assert "書類待ち（incomplete）" in error


def test_cli_list_help_shows_both(capsys):
    with pytest.raises(SystemExit):
        cli_parser().parse_args(["queue", "list", "--help"])
    # argparse wraps Japanese text at any character, so compare without white space.
    output = "".join(capsys.readouterr().out.split())
    for code, label in states.LABELS.items():
        assert f"{label}（{code}）" in output, code


def test_cli_show_other_file_in_japanese(tmp_path, capsys):
    services = make_services(tmp_path)
    services.config.database.url = f"sqlite:///{tmp_path / 'mailflow.db'}"
    with transaction(open_sessions(services.config)) as session:
        number = make_item(session, services, documents={"other": b""}).number
    assert _run(services, "queue", "show", number) == 0
    output = capsys.readouterr().out
    assert f"{OTHER_FILE_LABEL}: other.pdf（0 バイト）" in output
    assert "] other:" not in output
