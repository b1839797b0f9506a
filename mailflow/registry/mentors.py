"""The registry of mentors: registration numbers, status changes and the history of every change.

A registration number reads ``MM-2026-0001``: "MM" (management mentor), the fiscal year
(1 April - 31 March) of the registration day, and a serial number within that fiscal
year, four digits with leading zeros (a fifth digit appears after 9999). Numbers are
unique (a database constraint) and never reused, since a withdrawn or revoked mentor
keeps theirs.

Every change to a mentor writes a MentorHistory row that names the actor, the action,
the review item behind it and each changed field as ``{"old": …, "new": …}``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.db.models import Mentor, MentorHistory
from mailflow.errors import MailflowError
from mailflow.registry.period import Period, fiscal_year

logger = logging.getLogger(__name__)

ACTIVE = "active"
WITHDRAWN = "withdrawn"
REVOKED = "revoked"
STATUS_LABELS = {ACTIVE: "登録中", WITHDRAWN: "取り消し（本人の申し出）", REVOKED: "取り消し（局の判断）"}

# Reasons for a revocation by the bureau, as the registry stores them, with their wording.
REVOCATION_REASONS = {
    "requirements_not_met": "登録の要件を満たさなくなったため",
    "false_statement": "申請の内容に偽りがあったため",
    "unresolved_trouble": "解決されないトラブルがあるため",
    "not_renewed": "登録期間の満了までに更新の手続きがなかったため",
}

NUMBER_PREFIX = "MM"
NUMBER_PATTERN = re.compile(r"MM-(\d{4})-(\d{4,})")
_NUMBER_ATTEMPTS = 5

# Fields a change notice may change, as columns of Mentor; anything else goes to ``profile``.
CONTACT_COLUMNS = ("name", "kana", "email", "phone", "mobile", "postal_code", "address")
PROFILE_KEYS = ("last_employer", "position", "employment_status", "retirement_date", "experience_years",
                "qualifications", "pr", "areas", "career")


class RegistryError(MailflowError):
    """A registry change that cannot be made, such as renewing a withdrawn mentor."""


@dataclass(frozen=True)
class MentorMatch:
    """The mentor a notice or renewal refers to and how it was found.

    ``method`` is ``item``, ``registration_number``, ``address`` or ``name_and_birth_date``;
    ``confirm`` is True when staff must confirm the match (the sender's address is not
    the registered one).
    """

    mentor: Mentor
    method: str
    confirm: bool


def format_registration_number(fiscal: int, serial: int) -> str:
    """Return ``MM-<fiscal year>-<serial>``, e.g. ``format_registration_number(2026, 1)`` → ``"MM-2026-0001"``."""
    return f"{NUMBER_PREFIX}-{fiscal:04d}-{serial:04d}"


def next_registration_number(session: Session, registered_on: dt.date) -> str:
    """Return the next free number in the fiscal year of ``registered_on``."""
    fiscal = fiscal_year(registered_on)
    prefix = f"{NUMBER_PREFIX}-{fiscal:04d}-"
    numbers = session.scalars(select(Mentor.registration_number).where(Mentor.registration_number.like(prefix + "%")))
    serials = [int(match.group(2)) for number in numbers if number and (match := NUMBER_PATTERN.fullmatch(number))]
    return format_registration_number(fiscal, max(serials, default=0) + 1)


def normalize_name(name: str | None) -> str:
    """Return a name for comparison: NFKC, without any blanks (「山田　太郎」 == 「山田太郎」)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or ""))


def record_history(session: Session, mentor: Mentor, actor: str, action: str, changes: dict[str, Any],
                   item_id: int | None) -> MentorHistory:
    row = MentorHistory(mentor_id=mentor.id, actor=actor, action=action, changes=changes, item_id=item_id)
    session.add(row)
    return row


def register_mentor(session: Session, values: dict[str, Any], period: Period, actor: str,
                    item_id: int | None) -> Mentor:
    """Insert an active mentor from Form 1 ``values`` with the period and a new number.

    Raises RegistryError when an active mentor with the same name and birth date exists
    (that person should renew instead).
    """
    birth_date = _date(values.get("birth_date"))
    existing = find_by_name_and_birth_date(session, values.get("name"), birth_date)
    if existing is not None:
        raise RegistryError(
            f"同じ氏名・生年月日のメンターが登録済みです（登録番号 {existing.registration_number}）。"
            "この申請は却下して更新の申請を求めるか、別人であれば登録簿を確認してください",
            mentor_id=existing.id,
        )
    mentor = Mentor(
        name=values.get("name") or "",
        kana=values.get("kana"),
        email=values.get("email"),
        phone=values.get("phone"),
        mobile=values.get("mobile"),
        postal_code=values.get("postal_code"),
        address=values.get("address"),
        birth_date=birth_date,
        sex=values.get("sex"),
        fields=list(values.get("fields") or []),
        profile={key: values[key] for key in PROFILE_KEYS if values.get(key) not in (None, "", [])},
        status=ACTIVE,
        status_changed_at=clock.now(),
        registered_on=period.registered_on,
        expires_on=period.expires_on,
    )
    _insert_numbered(session, mentor, period.registered_on)
    record_history(session, mentor, actor, "registered", {
        "registration_number": {"old": None, "new": mentor.registration_number},
        "registered_on": {"old": None, "new": period.registered_on.isoformat()},
        "expires_on": {"old": None, "new": period.expires_on.isoformat()},
    }, item_id)
    logger.info("mentor registered mentor=%s item=%s", mentor.id, item_id)
    return mentor


def _insert_numbered(session: Session, mentor: Mentor, registered_on: dt.date) -> None:
    """Insert ``mentor`` with the next number, retrying when another daemon took it first."""
    for _ in range(_NUMBER_ATTEMPTS):
        mentor.registration_number = next_registration_number(session, registered_on)
        try:
            with session.begin_nested():
                session.add(mentor)
                session.flush()
            return
        except IntegrityError:
            logger.info("registration number taken, retrying number=%s", mentor.registration_number)
    raise RegistryError("登録番号を割り当てられませんでした。もう一度実行してください")


def renew_mentor(session: Session, mentor: Mentor, period: Period, actor: str, item_id: int | None) -> dict:
    """Give an active mentor the renewed ``period``; returns the changes recorded."""
    require_active(mentor)
    changes = {
        "registered_on": {"old": _iso(mentor.registered_on), "new": period.registered_on.isoformat()},
        "expires_on": {"old": _iso(mentor.expires_on), "new": period.expires_on.isoformat()},
    }
    mentor.registered_on = period.registered_on
    mentor.expires_on = period.expires_on
    record_history(session, mentor, actor, "renewed", changes, item_id)
    return changes


def apply_changes(session: Session, mentor: Mentor, new_values: dict[str, Any], actor: str,
                  item_id: int | None) -> dict:
    """Set each field of ``new_values`` on an active mentor; returns the changes recorded.

    Contact fields are columns; other fields go to ``profile``. Unchanged values are left out.
    """
    require_active(mentor)
    changes: dict[str, dict[str, Any]] = {}
    profile = dict(mentor.profile or {})
    for field_name, value in new_values.items():
        if field_name in CONTACT_COLUMNS:
            old = getattr(mentor, field_name)
            if old != value:
                setattr(mentor, field_name, value)
                changes[field_name] = {"old": old, "new": value}
        elif profile.get(field_name) != value:
            changes[field_name] = {"old": profile.get(field_name), "new": value}
            profile[field_name] = value
    mentor.profile = profile
    if "email" in changes:
        mentor.email_bouncing = False
        mentor.bounce_status = None
    if changes:
        record_history(session, mentor, actor, "changed", changes, item_id)
    return changes


def end_registration(session: Session, mentor: Mentor, status: str, reason: str, actor: str,
                     item_id: int | None) -> dict:
    """Withdraw or revoke an active mentor's registration with ``reason``; returns the changes."""
    if status not in (WITHDRAWN, REVOKED):
        raise ValueError(f"not an ending status: {status!r}")
    require_active(mentor)
    changes = {"status": {"old": mentor.status, "new": status},
               "status_reason": {"old": mentor.status_reason, "new": reason}}
    mentor.status = status
    mentor.status_reason = reason
    mentor.status_changed_at = clock.now()
    record_history(session, mentor, actor, status, changes, item_id)
    logger.info("mentor registration ended mentor=%s status=%s", mentor.id, status)
    return changes


def revocation_reason(text: str) -> str:
    """Return the stored form of a revocation reason: its code when ``text`` names one, else the text."""
    stripped = unicodedata.normalize("NFKC", text).strip()
    for code, wording in REVOCATION_REASONS.items():
        if stripped.lower() == code or stripped == wording:
            return code
    return stripped


def reason_wording(reason: str | None) -> str:
    """Return the Japanese wording of a stored reason (codes are translated)."""
    return REVOCATION_REASONS.get(reason or "", reason or "")


def require_active(mentor: Mentor) -> None:
    if mentor.status != ACTIVE:
        raise RegistryError(
            f"登録番号 {mentor.registration_number} のメンターは「{STATUS_LABELS.get(mentor.status, mentor.status)}」です。"
            "登録中のメンターにしか行えません",
            mentor_id=mentor.id,
        )


def find_by_number(session: Session, number: str | None) -> Mentor | None:
    if not number:
        return None
    return session.scalar(select(Mentor).where(Mentor.registration_number == number.strip().upper()))


def find_by_address(session: Session, address: str | None) -> Mentor | None:
    """Return the active mentor registered with ``address`` (case-insensitive), or None.

    When several active mentors share the address (a couple's shared mailbox), none is
    returned, because the address alone cannot tell them apart.
    """
    if not address:
        return None
    found = list(session.scalars(
        select(Mentor).where(func.lower(Mentor.email) == address.strip().lower(), Mentor.status == ACTIVE)))
    return found[0] if len(found) == 1 else None


def find_by_name_and_birth_date(session: Session, name: str | None, birth_date: dt.date | str | None) -> Mentor | None:
    """Return the one active mentor with this name (blanks ignored) and birth date, or None."""
    birth_date = _date(birth_date)
    if not name or birth_date is None:
        return None
    wanted = normalize_name(name)
    found = [mentor for mentor in session.scalars(
        select(Mentor).where(Mentor.birth_date == birth_date, Mentor.status == ACTIVE))
        if normalize_name(mentor.name) == wanted]
    return found[0] if len(found) == 1 else None


def match_mentor(session: Session, sender: str | None, number: str | None, name: str | None,
                 birth_date: dt.date | str | None) -> MentorMatch | None:
    """Find the mentor a notice refers to: by the sender's address, else by number or name.

    A match by registration number or by name and birth date asks staff to confirm it,
    because the notice then comes from an address the registry does not have. When the
    notice names a registration number that belongs to another mentor than the sender's
    address, the number wins and staff confirm.
    """
    by_address = find_by_address(session, sender)
    by_number = find_by_number(session, number)
    if by_address is not None and (by_number is None or by_number.id == by_address.id):
        return MentorMatch(by_address, "address", confirm=False)
    if by_number is not None:
        return MentorMatch(by_number, "registration_number", confirm=True)
    by_name = find_by_name_and_birth_date(session, name, birth_date)
    if by_name is not None:
        return MentorMatch(by_name, "name_and_birth_date", confirm=True)
    return None


def _date(value: dt.date | str | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None
