"""How the bank's answer to an increment, capture or cancel moves the pre-authorisation it acts
on (the hold), in the same commit as the answer itself.

Kept apart from holds.py (which runs the operations) because the store-and-forward queue
records capture and cancel answers too, and must not import the engine's operations.
"""

from __future__ import annotations

from typing import Protocol

from terminal.payment.records import Change, Transaction
from terminal.payment.states import FINAL, Event

HOLD_EVENTS: dict[tuple[str, str], Event] = {
    ("increment", "approved"): Event.INCREMENT,
    ("increment", "expired"): Event.EXPIRE,
    ("capture", "approved"): Event.CAPTURE,
    ("capture", "expired"): Event.EXPIRE,
    ("preauth_cancel", "approved"): Event.RELEASE,
    ("preauth_cancel", "reversed"): Event.RELEASE,  # ISO 8583: a 0410 to the hold's 0400
    ("preauth_cancel", "expired"): Event.EXPIRE,
}
"""(operation, the bank's result) -> the hold's event."""

QUEUED_HOLD_KINDS = ("capture", "preauth_cancel")
"""Operations on a hold that go through the store-and-forward queue (re-sent, never reversed)."""


class Reads(Protocol):
    def get(self, txn_id: str) -> Transaction: ...


def hold_moves(reads: Reads, txn: Transaction, result: str) -> tuple[Change, ...]:
    """The hold's change for `txn` (an increment, capture or cancel) answered `result`."""
    event = HOLD_EVENTS.get((txn.type, result))
    if event is None or not txn.ref:
        return ()
    hold = reads.get(txn.ref)
    if hold.state in FINAL:  # already ended (a cancel answered "already expired"): stays so
        return ()
    fields: dict[str, int] = {}
    if event is Event.CAPTURE:
        fields = {"captured": txn.amount.minor}
    elif event is Event.INCREMENT:
        held = hold.held if hold.held is not None else hold.amount
        fields = {"held": (held + txn.amount).minor}
    return (Change(hold.id, event, dict(fields)),)
