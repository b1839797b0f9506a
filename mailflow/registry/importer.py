"""Import a registry list (.xlsx or .csv) into the mentor table: all rows or none.

Every row is checked first (:mod:`mailflow.registry.rows`). Then, in one transaction, each
row is matched to a mentor by registration number, then by mail address, and the mentor is
created or updated, with a MentorHistory row for every change. Any problem, in the file or
against the database, rolls the whole import back. Importing the same list again changes
nothing, and an empty optional cell leaves the stored value as it is.

An active row whose expiry date has passed is imported, with a warning: the daemon's next
expiry run revokes that mentor (reason ``not_renewed``) unless a renewal is under review.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailflow import clock
from mailflow.db.models import AuditEntry, Mentor, MentorHistory
from mailflow.registry.period import PeriodSettings
from mailflow.registry.rows import HEADINGS, Problem, RegistryRow, parse_list
from mailflow.registry.table import read_table

logger = logging.getLogger(__name__)

IMPORT_ACTION = "imported"
AUDIT_ACTION = "registry_imported"
# Fields a row sets when its cell is not empty; the others are always set.
OPTIONAL_FIELDS = ("registration_number", "kana", "email", "fields")
ALWAYS_FIELDS = ("name", "registered_on", "expires_on", "status")

Progress = Callable[[int, int], None]


@dataclass
class ImportResult:
    """The outcome of one import; nothing was written when ``problems`` is not empty or on a dry run."""

    rows: int = 0
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    ignored_headings: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def committed(self) -> bool:
        """Return whether the import was written to the database."""
        return not self.problems and not self.dry_run


def import_registry(
    sessions: sessionmaker[Session],
    path: Path,
    settings: PeriodSettings,
    *,
    actor: str,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import the list at ``path``; return the counts by row number and every problem found.

    ``progress(done, total)`` is called after each row is applied. Raises TableError when
    the file cannot be read at all.
    """
    table = read_table(path)
    parsed = parse_list(table, settings)
    result = ImportResult(rows=len(parsed.rows), problems=list(parsed.problems),
                          warnings=expiry_warnings(parsed.rows, clock.today()),
                          ignored_headings=parsed.ignored_headings, dry_run=dry_run)
    if result.problems:
        return result
    now = clock.now()
    session = sessions()
    try:
        session.begin()
        for done, row in enumerate(parsed.rows, start=1):
            _apply_row(session, row, actor, now, result)
            if progress is not None:
                progress(done, len(parsed.rows))
        if not result.committed:
            session.rollback()
            return result
        session.add(AuditEntry(actor=actor, action=AUDIT_ACTION, at=now, detail={
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "rows": result.rows, "created": len(result.created),
            "updated": len(result.updated), "unchanged": len(result.unchanged),
        }))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    logger.info("registry imported rows=%d created=%d updated=%d unchanged=%d expired=%d", result.rows,
                len(result.created), len(result.updated), len(result.unchanged), len(result.warnings))
    return result


def expiry_warnings(rows: list[RegistryRow], today: dt.date) -> list[Problem]:
    """Return a warning at the expiry cell of each active row whose expiry date is before ``today``."""
    warnings = []
    for row in rows:
        if row.status != "active" or row.expires_on >= today:
            continue
        warnings.append(Problem(
            row.row, row.columns.get("expires_on"), HEADINGS["expires_on"],
            f"満了日 {row.expires_on.isoformat()} は過ぎています。状態が登録中のまま取り込むと、"
            "更新の申請が審査中でない限り、mailflow run が次の処理でこの登録を取り消し"
            "（期間満了までに更新なし）、本人に取り消しの通知を送ります",
        ))
    return warnings


def _apply_row(session: Session, row: RegistryRow, actor: str, now: dt.datetime, result: ImportResult) -> None:
    mentor = _match(session, row, result)
    if mentor is False:
        return
    wanted = _wanted_values(row)
    if mentor is None:
        mentor = Mentor(**wanted)
        if row.status != "active":
            mentor.status_changed_at = now
        session.add(mentor)
        session.flush()
        changes = {name: {"old": None, "new": _plain(value)} for name, value in wanted.items()}
        session.add(MentorHistory(mentor_id=mentor.id, at=now, actor=actor, action=IMPORT_ACTION, changes=changes))
        result.created.append(row.row)
        return
    changes = {}
    for name, value in wanted.items():
        old = getattr(mentor, name)
        if old != value:
            changes[name] = {"old": _plain(old), "new": _plain(value)}
            setattr(mentor, name, value)
    if not changes:
        result.unchanged.append(row.row)
        return
    if "status" in changes:
        mentor.status_changed_at = now
    session.add(MentorHistory(mentor_id=mentor.id, at=now, actor=actor, action=IMPORT_ACTION, changes=changes))
    session.flush()
    result.updated.append(row.row)


def _wanted_values(row: RegistryRow) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in ALWAYS_FIELDS}
    values.update({name: getattr(row, name) for name in OPTIONAL_FIELDS if getattr(row, name) is not None})
    return values


def _match(session: Session, row: RegistryRow, result: ImportResult) -> Mentor | None | bool:
    """Return the mentor ``row`` describes, None for a new one, or False after recording a problem."""
    by_number = None
    if row.registration_number is not None:
        by_number = session.scalar(select(Mentor).where(Mentor.registration_number == row.registration_number))
        if by_number is not None:
            return by_number
    if row.email is None:
        return None
    by_email = list(session.scalars(select(Mentor).where(func.lower(Mentor.email) == row.email.lower())))
    if len(by_email) > 1:
        _problem(result, row, "email", "このメールアドレスの登録者が複数います。登録番号の列で区別してください")
        return False
    if not by_email:
        return None
    found = by_email[0]
    if row.registration_number is not None and found.registration_number not in (None, row.registration_number):
        _problem(result, row, "registration_number",
                 f"メールアドレスが登録番号 {found.registration_number} の登録者と同じですが、登録番号が違います。"
                 "どちらが正しいか確認してください")
        return False
    return found


def _problem(result: ImportResult, row: RegistryRow, name: str, message: str) -> None:
    column = row.columns.get(name)
    result.problems.append(Problem(row.row, column, HEADINGS[name], message))


def _plain(value: Any) -> Any:
    """Return ``value`` as JSON can store it in a history row."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
