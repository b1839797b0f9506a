"""Review items: numbering, staff tokens, follow-up matching and the checklist state."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow import clock
from mailflow.db.models import Event, ReviewItem
from mailflow.intake.findings import DOCUMENT_ROLES
from mailflow.review import states

APPLICATION_KINDS = ("registration", "renewal")

# Crockford base32 without I, L, O, U: tokens survive being read aloud or retyped.
TOKEN_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TOKEN_PREFIX = "MF"
TOKEN_LENGTH = 10


def new_token() -> str:
    """Return a fresh staff-reply token such as ``"MF7K3Q9P2XWD"`` (50 random bits)."""
    return TOKEN_PREFIX + "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def fiscal_year(day: dt.date) -> int:
    """Return the fiscal year (1 April – 31 March) that contains ``day``."""
    return day.year if day.month >= 4 else day.year - 1


def assign_number(item: ReviewItem) -> None:
    """Give a flushed item its receipt number, e.g. ``"2026-0012"`` (fiscal year and id)."""
    created = clock.as_utc(item.created_at) or clock.now()
    item.number = f"{fiscal_year(created.astimezone(clock.TOKYO).date())}-{item.id:04d}"


def event_number(event: Event) -> str:
    """Return the receipt number of a challenge list, e.g. ``"E2026-0003"``."""
    created = clock.as_utc(event.created_at) or clock.now()
    return f"E{fiscal_year(created.astimezone(clock.TOKYO).date())}-{event.id:04d}"


def create_item(session: Session, kind: str, sender_address: str | None, sender_name: str | None,
                token_days: int) -> ReviewItem:
    """Insert a new item in state ``received`` with a number and a staff token."""
    item = ReviewItem(
        kind=kind,
        state=states.RECEIVED,
        sender_address=sender_address,
        sender_name=sender_name,
        checklist={role: False for role in DOCUMENT_ROLES} if kind in APPLICATION_KINDS else {},
        token=new_token(),
        token_expires_at=clock.now() + dt.timedelta(days=token_days),
        details={},
    )
    session.add(item)
    session.flush()
    assign_number(item)
    return item


def same_address(left: str | None, right: str | None) -> bool:
    """Compare mail addresses ignoring case and surrounding blanks.

    RFC 5321 lets a local part be case-sensitive, but no mail provider applicants use
    treats it so, and applicants retype their address in varying case.
    """
    if not left or not right:
        return False
    return left.strip().lower() == right.strip().lower()


@dataclass
class FollowUp:
    """The open application a follow-up names, and whether it may join it.

    ``foreign`` is set when the mail replies to that application's thread from an address
    that is neither the one it came from nor the form's: it must not join the item,
    because its sender would then receive the applicant's details.
    """

    item: ReviewItem
    foreign: bool = False


def find_open_application(session: Session, sender: str | None, thread_ids: Iterable[str]) -> FollowUp | None:
    """Return the open application a follow-up belongs to.

    A reply (In-Reply-To or References naming the applicant's earlier mail or our receipt)
    wins over a match by sender address; among several, the newest item is taken.
    """
    wanted = {value for value in thread_ids if value}
    candidates = list(
        session.scalars(
            select(ReviewItem)
            .where(ReviewItem.kind.in_(APPLICATION_KINDS), ReviewItem.state.in_(sorted(states.OPEN)))
            .order_by(ReviewItem.id.desc())
        )
    )
    for item in candidates:
        if wanted.intersection(item.thread_ids or []):
            known = same_address(item.sender_address, sender) or same_address(item.applicant_email, sender)
            return FollowUp(item, foreign=not known)
    for item in candidates:
        if same_address(item.sender_address, sender):
            return FollowUp(item)
    return None


def add_thread_ids(item: ReviewItem, *message_ids: str | None) -> None:
    known = list(item.thread_ids or [])
    for message_id in message_ids:
        if message_id and message_id not in known:
            known.append(message_id)
    item.thread_ids = known


def merge_unique(existing: list[Any] | None, new: Iterable[Any], key=lambda value: value) -> list[Any]:
    """Append the values of ``new`` whose key is not in ``existing`` yet, keeping order."""
    merged = list(existing or [])
    seen = {key(value) for value in merged}
    for value in new:
        if key(value) not in seen:
            merged.append(value)
            seen.add(key(value))
    return merged


def checklist_complete(item: ReviewItem) -> bool:
    return bool(item.checklist) and all(item.checklist.get(role) for role in DOCUMENT_ROLES)


def missing_documents(item: ReviewItem) -> list[str]:
    return [role for role in DOCUMENT_ROLES if item.checklist and not item.checklist.get(role)]


def attention_reasons(item: ReviewItem) -> list[str]:
    return list((item.details or {}).get("attention", []))


def flag_items_of_ended_mentor(session: Session, mentor_id: int, keep_item_id: int | None, reason: str) -> int:
    """Give the mentor's other open items an attention reason once the registration ended; return how many.

    A renewal or change notice of a mentor who has since left the registry cannot be
    approved; the reason tells staff why, so the item does not wait as if it could.
    """
    flagged = 0
    for item in session.scalars(select(ReviewItem).where(ReviewItem.mentor_id == mentor_id,
                                                          ReviewItem.state.in_(sorted(states.OPEN)))):
        if item.id == keep_item_id or item.state == states.ON_HOLD:
            continue
        details = dict(item.details or {})
        details["attention"] = merge_unique(details.get("attention"), [reason])
        item.details = details
        recompute_state(item)
        flagged += 1
    return flagged


def recompute_state(item: ReviewItem) -> str:
    """Move an open item to the state its checklist and open questions call for.

    Closed and held items keep their state; the new state is returned.
    """
    if item.state in states.CLOSED or item.state == states.ON_HOLD:
        return item.state
    if attention_reasons(item):
        target = states.NEEDS_ATTENTION
    elif item.kind not in APPLICATION_KINDS or checklist_complete(item):
        target = states.READY
    else:
        target = states.INCOMPLETE
    if target == states.READY and item.complete_at is None:
        item.complete_at = clock.now()
    item.state = target
    return target
