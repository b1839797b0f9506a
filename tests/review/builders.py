"""Builders for review tests: services on temporary folders, items, stored mails and staff replies."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.app import App
from mailflow.commands import queue
from mailflow.commands.decide import add_revoke_parser
from mailflow.config import Config
from mailflow.db.models import Base, Document, InboundMessage, Outbox, ReviewItem
from mailflow.errors import MailflowError
from mailflow.intake.findings import Analysis
from mailflow.intake.parse import parse_message
from mailflow.outbound.templates import Renderer
from mailflow.review import items as review_items
from mailflow.review import states
from mailflow.review.commands import ParsedCommand, parse_command
from mailflow.review.decisions import DecisionContext, DecisionResult, apply_command
from mailflow.storage import DocumentStore
from tests.privacy.populated import INTAKE_DAY, app_config, deliver

STAFF = "shinsa@bureau.example.jp"
OTHER_STAFF = "kakari@bureau.example.jp"
STAFF_LIST = "mentor-team@bureau.example.jp"
AUTHSERV_ID = "mx.bureau.example.jp"
APPLICANT = "taro.yamada@example.jp"
PASS = f"{AUTHSERV_ID}; spf=pass smtp.mailfrom=bureau.example.jp; dkim=pass header.d=bureau.example.jp; dmarc=pass header.from=bureau.example.jp"

FORM = {
    "application_date": "2026-12-01", "application_type": "新規", "name": "山田 太郎", "kana": "やまだ たろう",
    "sex": "男性", "birth_date": "1960-04-01", "age": 66, "postal_code": "100-0001",
    "address": "東京都テスト区テスト町1-2-3", "phone": "03-1234-5678", "mobile": "090-1234-5678",
    "email": APPLICANT, "employment_status": "退職済", "last_employer": "テスト工業株式会社",
    "fields": ["経営戦略", "生産管理"], "experience_years": 30, "career": [], "consent": True,
}


@dataclass
class Services:
    """What decisions and planners use: the same attributes App has."""

    config: Config
    renderer: Renderer
    store: DocumentStore
    key: bytes | None = None


def make_services(tmp_path: Path, **staff_settings) -> Services:
    config = Config()
    config.paths.data_dir = str(tmp_path / "data")
    config.bureau.staff_addresses = [STAFF, OTHER_STAFF]
    config.bureau.notify_addresses = [STAFF_LIST]
    config.staff.authserv_id = AUTHSERV_ID
    for name, value in staff_settings.items():
        setattr(config.staff, name, value)
    return Services(config, Renderer(config.templates_dir), DocumentStore(tmp_path / "documents"))


def clear_tables(session: Session) -> None:
    for table in reversed(Base.metadata.sorted_tables):
        session.execute(table.delete())
    session.commit()


def add_inbound(session: Session, item: ReviewItem | None, message_id: str, sender: str = APPLICANT,
                raw: bytes = b"") -> InboundMessage:
    inbound = InboundMessage(
        source="test", message_id=message_id, raw_sha256=f"{message_id}-{id(raw)}"[:64], raw=raw,
        size=len(raw), sender_address=sender, state="processed", references=[],
        item_id=item.id if item is not None else None,
    )
    session.add(inbound)
    session.flush()
    return inbound


def make_item(session: Session, services: Services, kind: str = "registration", state: str = states.READY,
              sender: str = APPLICANT, form: dict | None = None, documents: dict[str, bytes] | None = None,
              body: str | None = None) -> ReviewItem:
    """Insert an item like filing leaves it, with its mail and stored documents."""
    item = review_items.create_item(session, kind, sender, "山田 太郎", services.config.staff.token_days)
    if kind in review_items.APPLICATION_KINDS:
        item.form_values = dict(FORM if form is None else form)
        item.applicant_name = item.form_values.get("name")
        item.checklist = {"registration_form": True, "pledge_form": True, "identity_document": True}
    if body is not None:
        item.details = {**(item.details or {}), "body_text": body}
    item.state = state
    inbound = add_inbound(session, item, f"<applicant-{item.id}@example.jp>", sender)
    item.thread_ids = [inbound.message_id]
    for role, content in (documents or {}).items():
        session.add(Document(item_id=item.id, inbound_message_id=inbound.id, part_id="2", role=role,
                             filename=f"{role}.pdf", content_type="application/pdf", sha256="0" * 64,
                             size=len(content), storage_id=services.store.put(content), kept=True))
    session.flush()
    return item


def staff_reply(subject: str, body: str, sender: str = STAFF, auth_results: list[str] | None = None,
                to: str | None = None, in_reply_to: str | None = None, message_id: str = "<reply-1@bureau.example.jp>",
                extra_headers: list[tuple[str, str]] | None = None, raw_from: str | None = None) -> bytes:
    """Return the raw bytes of a reply as it sits in the mailbox, our MX's headers on top."""
    lines = [f"Received: from smtp.bureau.example.jp by {AUTHSERV_ID} with ESMTPS; "
             f"{format_datetime(clock.now())}"]
    results = [PASS] if auth_results is None else auth_results
    lines += [f"Authentication-Results: {value}" for value in results]
    lines += [f"{name}: {value}" for name, value in extra_headers or []]
    lines += [
        f"From: {raw_from or sender}",
        f"To: {to or 'intake@bureau.example.jp'}",
        f"Subject: {subject}",
        f"Date: {format_datetime(clock.now())}",
        f"Message-ID: {message_id}",
    ]
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit",
              "", body]
    return "\r\n".join(lines).encode("utf-8")


def store_reply(session: Session, raw: bytes) -> tuple[InboundMessage, Analysis]:
    """Store a staff reply as intake would and return it with its analysis."""
    message = parse_message(raw)
    inbound = add_inbound(session, None, message.message_id or "", message.from_.address if message.from_ else "",
                          raw=raw)
    inbound.kind = "staff_reply"
    return inbound, Analysis(message=message, kind="staff_reply", decision="process")


def notification_message_id(session: Session, item: ReviewItem) -> str:
    return session.scalars(select(Outbox.message_id).where(Outbox.item_id == item.id,
                                                           Outbox.kind == "staff_notification")).first()


def at(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=clock.TOKYO)


def apply_line(session: Session, services: Services, item: ReviewItem, line: str,
               channel: str = "mail") -> DecisionResult:
    """Parse ``line`` as a command and apply it to ``item`` as STAFF through ``channel``."""
    parsed = parse_command(line)
    assert isinstance(parsed, ParsedCommand), parsed
    context = DecisionContext(session, services, actor=STAFF, source_message_id="<decision@bureau.example.jp>",
                              channel=channel)
    result = apply_command(context, item, parsed)
    session.flush()
    return result


def refusal_of(session: Session, services: Services, item: ReviewItem, line: str, channel: str = "mail") -> str:
    """Apply ``line`` to ``item``, expect a MailflowError and return its message."""
    try:
        apply_line(session, services, item, line, channel)
    except MailflowError as error:
        return error.message
    raise AssertionError(f"{line!r} was applied, but a refusal was expected")


def cli_parser() -> argparse.ArgumentParser:
    """Return a parser with ``mailflow queue`` and ``mailflow registry revoke``, as the CLI has them."""
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command")
    queue.register(commands)
    registry_parser = commands.add_parser("registry")
    add_revoke_parser(registry_parser.add_subparsers(dest="registry_command"))
    return parser


def run_cli(config: Config, *argv: str) -> int:
    """Run one CLI command line (without ``mailflow``) against ``config``; return its exit status."""
    args = cli_parser().parse_args(list(argv))
    return args.handler(args, config)


@contextmanager
def taken_in(root: Path, *mails: Path) -> Iterator[App]:
    """Yield an App under ``root`` that took in ``mails`` on a fixed day (INTAKE_DAY) with one run."""
    clock.set_now(INTAKE_DAY)
    config = app_config(root)
    deliver(config, *mails)
    app = App(config)
    try:
        app.run_once()
        yield app
    finally:
        app.close()
        clock.set_now(None)
