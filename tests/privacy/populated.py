"""Build an App on temporary folders, take in sample mail with ``run_once`` and decide its items."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from sqlalchemy import select

from mailflow.app import App
from mailflow.config import Config
from mailflow.db.models import ReviewItem
from mailflow.db.session import transaction
from mailflow.review.commands import parse_command
from mailflow.review.decisions import DecisionContext, apply_command
from mailflow.storage import generate_key
from tests.conftest import SAMPLE

STAFF = "shinsa@bureau.example.jp"
MAILBOX = SAMPLE / "mailbox"
# Mail taken in on this day (UTC); retention counts from the decision made on it.
INTAKE_DAY = dt.datetime(2026, 12, 18, 1, 0, tzinfo=dt.UTC)


def sample_mail(stem: str) -> Path:
    return MAILBOX / f"{stem}.eml"


def app_config(root: Path, database_url: str | None = None, encrypted: bool = False) -> Config:
    """Return settings for a Maildir inbox, .eml outbox and SQLite (or ``database_url``) under ``root``."""
    config = Config()
    config.paths.data_dir = str(root / "data")
    config.database.url = database_url or f"sqlite:///{root / 'mailflow.db'}"
    config.mailbox.type = "maildir"
    config.mailbox.maildir = str(root / "maildir")
    config.outbound.type = "files"
    config.outbound.directory = str(root / "outbox")
    config.bureau.staff_addresses = [STAFF]
    if encrypted:
        key_path = root / "secret" / "mailflow.key"
        generate_key(key_path)
        config.privacy.encryption_key_file = str(key_path)
    return config


def server_config(root: Path, imap_server, smtp_server) -> Config:
    """Return :func:`app_config` settings with the Dovecot inbox of user ``intake`` and plain SMTP to ``smtp_server``."""
    from tests.mailbox.conftest import imap_config

    config = app_config(root)
    config.mailbox.type = "imap"
    config.mailbox.imap = imap_config(imap_server)
    config.outbound.type = "smtp"
    config.outbound.smtp.host = smtp_server.host
    config.outbound.smtp.port = smtp_server.port
    config.outbound.smtp.security = "plain"
    config.outbound.smtp.auth = "none"
    return config


def deliver(config: Config, *mails: Path | bytes) -> None:
    """Put each mail into the Maildir inbox's ``new/``, as an MTA would."""
    inbox = config.resolve(config.mailbox.maildir)
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    for index, mail in enumerate(mails):
        if isinstance(mail, Path):
            target = inbox / "new" / mail.name
            if target.exists():  # cases name their inputs mail.eml alike
                target = inbox / "new" / f"{mail.parent.name}-{mail.name}"
            shutil.copy(mail, target)
        else:
            (inbox / "new" / f"extra-{index}.eml").write_bytes(mail)


def decide_all(app: App, line: str = "reject 要件を満たしていません") -> list[int]:
    """Apply the staff command ``line`` to every open application item; return their ids."""
    decided = []
    with transaction(app.sessions) as session:
        items = session.scalars(select(ReviewItem).where(ReviewItem.kind.in_(("registration", "renewal")))).all()
        for item in items:
            if item.decided_at is None:
                apply_command(DecisionContext(session, app, actor=STAFF, channel="cli"), item, parse_command(line))
                decided.append(item.id)
    return decided


def days_after_intake(days: int) -> dt.datetime:
    return INTAKE_DAY + dt.timedelta(days=days)
