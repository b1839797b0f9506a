"""Helpers for the intake integration tests: the sample corpus and a configured App."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from mailflow.app import App
from mailflow.config import Config
from mailflow.db.models import Document, InboundMessage, ReviewItem

from tests.conftest import CASES, SAMPLE

STAFF = "shinsa@bureau.example.jp"
# After the newest sample mail (2026-12-18), so that receipt numbers and settle windows
# do not depend on the day the tests run.
FROZEN_NOW = dt.datetime(2026, 12, 21, 0, 30, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class SampleMail:
    """One sample message and its expected outcome (the .json beside it)."""

    path: Path
    expected: dict

    @property
    def raw(self) -> bytes:
        return self.path.read_bytes()

    @property
    def stem(self) -> str:
        return self.path.stem


def sample_mails() -> list[SampleMail]:
    mails = []
    for path in sorted((SAMPLE / "mailbox").glob("*.eml")):
        mails.append(SampleMail(path, json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))))
    return mails


def case_mails() -> list[Path]:
    """Every .eml of the shared cases, in case order."""
    return sorted(CASES.glob("case-*/*.eml"))


def base_config(tmp_path: Path) -> Config:
    config = Config()
    config.paths.data_dir = str(tmp_path / "data")
    config.database.url = f"sqlite:///{tmp_path / 'data' / 'mailflow.db'}"
    config.bureau.staff_addresses = [STAFF]
    config.mailbox.maildir = str(tmp_path / "maildir")
    config.outbound.directory = str(tmp_path / "outbox")
    return config


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def item_for(app: App, message_id: str) -> ReviewItem | None:
    with app.sessions() as session:
        inbound = session.scalar(select(InboundMessage).where(InboundMessage.message_id == message_id))
        if inbound is None or inbound.item_id is None:
            return None
        return session.get(ReviewItem, inbound.item_id)


def inbound_for(app: App, message_id: str) -> InboundMessage | None:
    with app.sessions() as session:
        return session.scalar(select(InboundMessage).where(InboundMessage.message_id == message_id))


def documents_of(app: App, item_id: int) -> list[Document]:
    with app.sessions() as session:
        return list(session.scalars(select(Document).where(Document.item_id == item_id).order_by(Document.id)))


def last_message_of_item(mails: list[SampleMail], app: App) -> dict[int, SampleMail]:
    """Map each item id to the last sample mail filed into it."""
    last: dict[int, SampleMail] = {}
    for mail in mails:
        item = item_for(app, mail.expected["message_id"])
        if item is not None:
            last[item.id] = mail
    return last


def message_id_of(raw: bytes) -> str | None:
    """Return the Message-ID of any mail; compat32 never parses the parameters that trip
    the default policy (case-05's RFC 2231 names cut inside a JIS run)."""
    value = email.message_from_bytes(raw, policy=email.policy.compat32)["Message-ID"]
    return value.strip() if value else None
