"""Wiring of the stages: one object with the database, the stores, the rules and the transports.

The CLI and the daemon build an :class:`App`; tests build one on temporary folders and
call :meth:`App.run_once` to run one deterministic iteration.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from mailflow import clock
from mailflow.config import Config
from mailflow.db import migrate
from mailflow.db.models import AuditEntry, InboundMessage, IntakeAttempt
from mailflow.db.session import make_engine, make_session_factory, transaction
from mailflow.intake.analyze import IntakeRules, analyze, load_intake_rules, mask_unanalysed
from mailflow.intake.findings import Analysis
from mailflow.intake.parse import parse_message
from mailflow.intake.privacy import mask_individual_numbers
from mailflow.intake.limits import configure_pillow
from mailflow.mailbox import ledger
from mailflow.mailbox.base import FetchedMail, Folder, MailboxSource
from mailflow.mailbox.factory import make_source
from mailflow.outbound.sender import Sender, SendStats
from mailflow.outbound.templates import Renderer
from mailflow.planning.receipts import plan_event_receipts, plan_receipts
from mailflow.privacy.log_format import install_wire_filter
from mailflow.privacy.mailbox_copies import SyncReport, sync_mailbox_copies
from mailflow.review.filing import file_analysis
from mailflow.review.notify import plan_staff_notifications
from mailflow.review.replies import handle_staff_reply
from mailflow.storage import DocumentStore, decrypt_blob, encrypt_blob, load_key

logger = logging.getLogger(__name__)

# Starts of the analysis of one message that may end without a result (the process was
# killed, ran out of memory or was stopped) before the message is quarantined unread.
MAX_INTAKE_ATTEMPTS = 3
# Bytes of header read from a message that is not analysed; real header blocks are far smaller.
HEADER_BLOCK_LIMIT = 256 * 1024

FOLDERS = {"processed": Folder.PROCESSED, "quarantine": Folder.QUARANTINE, "auto": Folder.AUTO}


@dataclass
class IntakeStats:
    fetched: int = 0
    new: int = 0
    known: int = 0
    quarantined: int = 0
    failed_moves: int = 0
    items: set[int] = field(default_factory=set)


def _headers_only(raw: bytes):
    """Parse only the header block of a message that is not analysed (too large, or one
    that broke analysis), so the quarantine list can still name its sender and subject."""
    end = raw.find(b"\r\n\r\n")
    end = raw.find(b"\n\n") if end < 0 else end
    block = raw[: end if 0 <= end < HEADER_BLOCK_LIMIT else HEADER_BLOCK_LIMIT]
    try:
        message = parse_message(block + b"\r\n\r\n")
    except Exception:  # the parser does not raise by contract; stay safe on a broken message
        logger.warning("header parse of an unanalysed message failed")
        return None
    message.subject = mask_individual_numbers(message.subject)
    if message.from_ is not None:
        message.from_.name = mask_individual_numbers(message.from_.name)
    return message


class App:
    """Everything one daemon or one CLI command needs, built from the config."""

    def __init__(self, config: Config, source: MailboxSource | None = None, migrate_schema: bool = True) -> None:
        self.config = config
        configure_pillow()
        install_wire_filter()
        config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.engine = make_engine(config.database_url, config.database.busy_timeout_ms)
        if migrate_schema:
            migrate.upgrade(self.engine)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)
        key_file = config.privacy.encryption_key_file
        self.key = load_key(config.resolve(key_file)) if key_file else None
        self.store = DocumentStore(config.data_dir / "documents", self.key)
        self.rules: IntakeRules = load_intake_rules(config.rules_dir)
        self.renderer = Renderer(config.templates_dir)
        self._source = source
        self._source_connected = False
        self._sender: Sender | None = None

    @property
    def source(self) -> MailboxSource:
        """The mailbox, connected on first use."""
        if self._source is None:
            self._source = make_source(self.config)
        if not self._source_connected:
            self._source.connect()
            self._source_connected = True
        return self._source

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            self._sender = Sender(self.config, self.sessions)
        return self._sender

    def interrupt_source(self) -> None:
        """Wake a watcher blocked in the mailbox (IDLE or reconnect backoff); thread-safe."""
        interrupt = getattr(self._source, "interrupt", None)
        if interrupt is not None:
            interrupt()

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()
        if self._source is not None:
            self._source.close()
        self.engine.dispose()

    # -- intake -----------------------------------------------------------------------

    def intake_pass(self, stop=None) -> IntakeStats:
        """Take in every message waiting in the inbox; one bad message never stops the pass."""
        stats = IntakeStats()
        for mail in self.source.fetch_new():
            stats.fetched += 1
            try:
                self.handle(mail, stats)
            except Exception:
                # The message stays in the inbox and is tried again on the next pass.
                logger.exception("intake failed key=%s", mail.key)
            if stop is not None and stop.is_set():
                break
        self.sync_mailbox_copies()
        return stats

    def sync_mailbox_copies(self) -> SyncReport | None:
        """Replace or delete the mailbox copies that purges made stale; never raises.

        Runs in the thread that owns the mailbox connection, after each intake pass.
        """
        try:
            return sync_mailbox_copies(self.sessions, self.source, self.key)
        except Exception:
            logger.exception("mailbox copy update failed")
            return None

    def handle(self, mail: FetchedMail, stats: IntakeStats | None = None) -> InboundMessage:
        """Store, analyse and file one fetched message, then move it out of the inbox."""
        stats = stats or IntakeStats()
        source_name = self.source.name
        with transaction(self.sessions) as session:
            known = ledger.find_known(session, source_name, mail)
        if known is not None:
            stats.known += 1
            self._finish_move(mail, known, stats)
            return known

        attempts = self._start_attempt(mail.raw)
        if attempts > MAX_INTAKE_ATTEMPTS:
            analysis, error = None, (f"このメールの処理が {MAX_INTAKE_ATTEMPTS} 回続けて途中で止まったため、"
                                     "読まずに隔離しました")
        else:
            analysis, error = self._analyse(mail.raw)
        with transaction(self.sessions) as session:
            session.execute(delete(IntakeAttempt).where(IntakeAttempt.raw_sha256 == ledger.digest(mail.raw)))
            inbound = self._store(session, mail, analysis, error)
            ledger.add_location(session, source_name, mail, inbound)
            session.flush()
            self._file(session, inbound, analysis, error, stats)
        stats.new += 1
        self._finish_move(mail, inbound, stats)
        return inbound

    def _start_attempt(self, raw: bytes) -> int:
        """Count one more start of the analysis of ``raw`` (committed first); return the count."""
        with transaction(self.sessions) as session:
            attempt = session.get(IntakeAttempt, ledger.digest(raw))
            if attempt is None:
                attempt = IntakeAttempt(raw_sha256=ledger.digest(raw), attempts=0)
                session.add(attempt)
            attempt.attempts += 1
            attempt.last_started_at = clock.now()
            return attempt.attempts

    def _analyse(self, raw: bytes) -> tuple[Analysis | None, str | None]:
        if len(raw) > self.config.mailbox.max_message_bytes:
            limit_mb = self.config.mailbox.max_message_bytes // (1024 * 1024)
            return None, f"メールが大きすぎます（{len(raw):,} バイト。上限は {limit_mb}MB）"
        try:
            return analyze(raw, self.rules), None
        except Exception as exc:
            logger.error("analysis failed error=%s", type(exc).__name__, exc_info=True)
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            return None, f"解析中に予期しないエラーが起きました: {detail[:300]}"

    def _store(self, session: Session, mail: FetchedMail, analysis: Analysis | None, error: str | None) -> InboundMessage:
        raw = analysis.stored_raw if analysis is not None and analysis.stored_raw is not None else mail.raw
        masked_parts = list(analysis.masked_parts) if analysis is not None else []
        if analysis is None:
            unanalysed = mask_unanalysed(mail.raw)
            if unanalysed is not None:
                raw, masked_parts = unanalysed.raw, list(unanalysed.parts)
        message = analysis.message if analysis is not None else _headers_only(mail.raw)
        inbound = InboundMessage(
            source=self.source.name,
            message_id=message.message_id if message else None,
            raw_sha256=ledger.digest(mail.raw),
            raw=encrypt_blob(raw, self.key) if self.key else raw,
            raw_encrypted=self.key is not None,
            redacted=raw is not mail.raw,
            size=len(mail.raw),
            sender_address=message.from_.address if message and message.from_ else None,
            subject=message.subject if message else None,
            sent_at=message.date if message else None,
            in_reply_to=message.in_reply_to if message else None,
            references=list(message.references) if message else [],
            kind=analysis.kind if analysis else None,
            decision=analysis.decision if analysis else "manual_review",
            reasons=list(analysis.reasons) if analysis else [],
            defects=list(message.defects) if message else [],
            error=error,
        )
        session.add(inbound)
        session.flush()
        if masked_parts:
            session.add(AuditEntry(actor="mailflow", action="text_masked", source_message_id=inbound.message_id,
                                   detail={"inbound_id": inbound.id, "parts": masked_parts,
                                           "masked": analysis.masked_for if analysis else ["individual_number"]}))
        return inbound

    def _file(self, session: Session, inbound: InboundMessage, analysis: Analysis | None, error: str | None,
              stats: IntakeStats) -> None:
        reason = error or (analysis.quarantine_reason if analysis else None)
        if analysis is None or reason:
            inbound.state = "quarantined"
            inbound.folder = "quarantine"
            inbound.error = reason
            stats.quarantined += 1
            session.add(AuditEntry(actor="mailflow", action="quarantined",
                                   source_message_id=inbound.message_id,
                                   detail={"inbound_id": inbound.id, "reason": reason}))
            logger.warning("message quarantined inbound=%s", inbound.id)
            return
        if self._from_staff(analysis):
            self._as_staff_mail(inbound, analysis)
        result = file_analysis(session, self.config, self.store, inbound, analysis)
        inbound.state = "auto" if result.folder == "auto" else "processed"
        inbound.folder = result.folder
        inbound.processed_at = clock.now()
        if analysis.kind == "staff_reply":
            handle_staff_reply(session, self, inbound, analysis)
        if result.item is not None:
            stats.items.add(result.item.id)
        if analysis.remove_parts:
            session.add(AuditEntry(item_id=inbound.item_id, actor="mailflow", action="individual_number_removed",
                                   source_message_id=inbound.message_id,
                                   detail={"inbound_id": inbound.id, "parts": analysis.remove_parts}))
        logger.info("message stored inbound=%s kind=%s decision=%s folder=%s",
                    inbound.id, inbound.kind, inbound.decision, inbound.folder)

    @staticmethod
    def _as_staff_mail(inbound: InboundMessage, analysis: Analysis) -> None:
        """Treat mail from a staff address as a command or nothing, never as an application.

        A reply that lost its token is refused and reported to staff, never filed and
        answered. An automatic reply that only its subject gives away (「自動応答:」) is
        set aside like any automatic reply: filing it would notify all staff of it, and
        their own out-of-office replies to that notice would loop.
        """
        if analysis.kind == "staff_reply" or analysis.decision in ("ignore_auto_reply", "bounce"):
            return
        if analysis.kind == "auto_reply":
            analysis.decision = inbound.decision = "ignore_auto_reply"
            return
        analysis.kind = inbound.kind = "staff_reply"

    def _from_staff(self, analysis: Analysis) -> bool:
        sender = analysis.message.from_.address.lower() if analysis.message.from_ else ""
        return sender in {address.lower() for address in self.config.bureau.staff_addresses}

    def _finish_move(self, mail: FetchedMail, inbound: InboundMessage, stats: IntakeStats) -> None:
        """Move (or, for a redacted message, replace) ``mail`` and record that it was done."""
        folder = FOLDERS.get(inbound.folder or "", Folder.QUARANTINE)
        try:
            if inbound.redacted and inbound.raw is not None:
                self.source.replace(mail, self._stored_raw(inbound), folder)
            else:
                self.source.move(mail, folder)
        except Exception:
            stats.failed_moves += 1
            logger.exception("move failed inbound=%s", inbound.id)
            return
        with transaction(self.sessions) as session:
            row = session.get(InboundMessage, inbound.id)
            if row is not None:
                row.moved_at = clock.now()

    def _stored_raw(self, inbound: InboundMessage) -> bytes:
        raw = inbound.raw or b""
        return decrypt_blob(raw, self.key) if inbound.raw_encrypted and self.key else raw

    # -- planning and sending ---------------------------------------------------------

    def plan(self, flush: bool = False) -> int:
        """Run every planner once; ``flush`` ends settle windows early (used by ``--once``)."""
        with transaction(self.sessions) as session:
            planned = plan_receipts(session, self.config, self.renderer, flush=flush)
            planned += plan_event_receipts(session, self.config, self.renderer, flush=flush)
            planned += plan_staff_notifications(session, self, flush=flush)
            return planned

    def send(self) -> SendStats:
        return self.sender.run_once()

    def run_once(self) -> tuple[IntakeStats, SendStats]:
        """Run one deterministic iteration: take in, plan everything due, send it.

        Receipts do not wait for the settle time; reminders, expiries and the digest are
        planned as the scheduler would at this moment.
        """
        from mailflow.jobs import run_registry_planners

        stats = self.intake_pass()
        self.plan(flush=True)
        run_registry_planners(self)
        self.sync_mailbox_copies()  # copies the retention purge just made stale
        return stats, self.send()
