"""The admin CLI: queue decisions with the same effects and audit as replies, export and revoke."""

from __future__ import annotations

import argparse
import datetime as dt
import stat

import openpyxl
import pytest
from sqlalchemy import select

from mailflow.commands import queue
from mailflow.commands.decide import add_revoke_parser, open_sessions
from mailflow.db.models import AuditEntry, Mentor, Outbox, ReviewItem
from mailflow.db.session import transaction
from mailflow.registry import mentors as registry
from mailflow.review import states
from tests.review.builders import make_item, make_services


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command")
    queue.register(commands)
    registry_parser = commands.add_parser("registry")
    add_revoke_parser(registry_parser.add_subparsers(dest="registry_command"))
    return parser


def _run(services, *argv: str) -> int:
    args = _parser().parse_args(list(argv))
    return args.handler(args, services.config)


@pytest.fixture
def cli(tmp_path):
    services = make_services(tmp_path)
    services.config.database.url = f"sqlite:///{tmp_path / 'mailflow.db'}"
    sessions = open_sessions(services.config)
    with transaction(sessions) as session:
        number = make_item(session, services).number
    return services, sessions, number


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
