"""The review item lifecycle: its states, their Japanese labels and the allowed moves.

::

    received ─► incomplete ─► ready ─► approved
       │            ▲   │        ├──► rejected
       │            └───┘        ├──► returned ─► incomplete (the applicant mails again)
       │                         └──► on_hold  ─► ready (staff resume)
       └─► needs_attention (unreadable, ambiguous, individual number found, …)

An item with nothing to decide (an inquiry, other mail, a change notice whose changes
could not be read) is closed as done (完了) from any open state but on_hold.
An item is *open* in every state before approved, rejected or done.
"""

from __future__ import annotations

from mailflow.errors import MailflowError

RECEIVED = "received"
INCOMPLETE = "incomplete"
READY = "ready"
APPROVED = "approved"
REJECTED = "rejected"
RETURNED = "returned"
ON_HOLD = "on_hold"
NEEDS_ATTENTION = "needs_attention"
DONE = "done"

LABELS = {
    RECEIVED: "受付",
    INCOMPLETE: "書類待ち",
    READY: "審査待ち",
    APPROVED: "承認",
    REJECTED: "却下",
    RETURNED: "差戻し",
    ON_HOLD: "保留",
    NEEDS_ATTENTION: "要確認",
    DONE: "完了",
}

CLOSED = frozenset({APPROVED, REJECTED, DONE})
OPEN = frozenset(LABELS) - CLOSED

TRANSITIONS: dict[str, frozenset[str]] = {
    RECEIVED: frozenset({INCOMPLETE, READY, NEEDS_ATTENTION}),
    INCOMPLETE: frozenset({INCOMPLETE, READY, NEEDS_ATTENTION, REJECTED, ON_HOLD, DONE}),
    READY: frozenset({APPROVED, REJECTED, RETURNED, ON_HOLD, NEEDS_ATTENTION, INCOMPLETE, DONE}),
    RETURNED: frozenset({INCOMPLETE, READY, NEEDS_ATTENTION, REJECTED, ON_HOLD, DONE}),
    # A held item is decided only after 再開, so that no decision skips the hold.
    ON_HOLD: frozenset({READY, INCOMPLETE, NEEDS_ATTENTION}),
    NEEDS_ATTENTION: frozenset({READY, INCOMPLETE, APPROVED, REJECTED, RETURNED, ON_HOLD, NEEDS_ATTENTION, DONE}),
    APPROVED: frozenset(),
    REJECTED: frozenset(),
    DONE: frozenset(),
}


class TransitionError(MailflowError):
    """A move the lifecycle does not allow, such as approving a rejected item."""


def check_transition(current: str, target: str) -> None:
    """Raise TransitionError unless an item in ``current`` may move to ``target``."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise TransitionError(
            f"状態「{LABELS.get(current, current)}」の案件は「{LABELS.get(target, target)}」にできません",
            current=current,
            target=target,
        )


def is_open(state: str) -> bool:
    return state in OPEN
