"""``mailflow purge`` from the command line, on a database filled by the real intake."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailflow import clock
from mailflow.app import App
from mailflow.cli import main
from mailflow.db.models import Document
from mailflow.db.session import transaction
from tests.privacy.populated import INTAKE_DAY, app_config, days_after_intake, decide_all, deliver, sample_mail

APPLICATION = "01-registration-complete"


@pytest.fixture
def config_file(tmp_path):
    clock.set_now(INTAKE_DAY)
    config = app_config(tmp_path)
    deliver(config, sample_mail(APPLICATION))
    app = App(config)
    app.run_once()
    decide_all(app)
    app.close()
    path = tmp_path / "config.toml"
    path.write_text(
        f'[paths]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[database]\nurl = "{config.database.url}"\n'
        f'[mailbox]\nmaildir = "{tmp_path / "maildir"}"\n'
        f'[outbound]\ndirectory = "{tmp_path / "outbox"}"\n',
        encoding="utf-8",
    )
    clock.set_now(days_after_intake(31))
    yield path
    clock.set_now(None)


def identity_rows(config_file) -> list[Document]:
    app = App(app_config(config_file.parent))
    try:
        with transaction(app.sessions) as session:
            return list(session.scalars(select(Document).where(Document.role == "identity_document")))
    finally:
        app.close()


def test_dry_run_lists_due(config_file, capsys):
    assert main(["--config", str(config_file), "purge", "--dry-run"]) == 0
    output = capsys.readouterr().out
    assert "本人確認書類" in output
    assert "--dry-run のため削除していません" in output
    assert identity_rows(config_file)[0].storage_id is not None


def test_purge_deletes_due(config_file, capsys):
    assert main(["--config", str(config_file), "purge", "--actor", "admin"]) == 0
    output = capsys.readouterr().out
    assert "削除しました: 書類 1 件" in output
    assert "メールボックスの写し 1 通" in output
    assert identity_rows(config_file)[0].storage_id is None


def test_nothing_due_message(config_file, capsys):
    clock.set_now(days_after_intake(5))
    assert main(["--config", str(config_file), "purge"]) == 0
    assert "保存期間を過ぎた書類と受信メールはありません" in capsys.readouterr().out
