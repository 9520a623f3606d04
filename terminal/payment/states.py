"""The life of a transaction, declared in one place.

Every state a sale, refund or void can be in, and every event that moves it, are listed in
`TRANSITIONS`; `next_state` is the only way to move, and an event the table does not list
raises `IllegalTransition`. The journal records each move in its history table in the same
commit as the new state, so the history is the transaction's complete story.

    created ─► card_read ─► authorising ─► approved ─► voided | partially_refunded | refunded
       │           ├► declined   │    ├──► declined | failed
       └──────────►└► cancelled  │    ├──► approved_offline ─► forwarded | declined_after_forward
                                 │    └──► unknown ─► reversing ─► reversed

A pre-authorisation (type `preauth`) is approved into `held` instead; its increments, capture
and cancel are transactions of their own whose answers move it (see holds.py):

    authorising ─► held ─► incremented ─► captured | released | expired

A capture or cancel is committed to the store-and-forward queue (`submitted`) before it is sent,
so one that got no answer is re-sent with the same id until the bank answers:

    created ─► submitted ─► approved | declined
"""

from __future__ import annotations

from enum import StrEnum

from terminal.payment.errors import IllegalTransition


class State(StrEnum):
    CREATED = "created"
    """The row exists (the journal is writable); nothing has been read or sent."""
    CARD_READ = "card_read"
    """The card or code was captured; nothing has been sent."""
    AUTHORISING = "authorising"
    """The signed message is committed and may have left the terminal."""
    APPROVED = "approved"
    DECLINED = "declined"
    FAILED = "failed"
    """Not processed: the gateway refused the message itself (signature, format, id conflict)
    or could not be reached for an online-only operation. No money moved."""
    CANCELLED = "cancelled"
    """Stopped before anything was sent (operator, timeout, device problem, restart), or a
    merchant-presented code the gateway confirmed withdrawn unpaid."""
    APPROVED_OFFLINE = "approved_offline"
    """Approved by the terminal's own rules; its advice waits in the store-and-forward queue."""
    FORWARDED = "forwarded"
    """The advice reached the gateway, which accepted it."""
    DECLINED_AFTER_FORWARD = "declined_after_forward"
    """The gateway declined the advice: the merchant carries the loss, reports show it."""
    UNKNOWN = "unknown"
    """Sent, no valid answer: a reversal must be queued before the operator is told."""
    REVERSING = "reversing"
    """A reversal is committed to the queue and is being forwarded."""
    REVERSED = "reversed"
    VOIDED = "voided"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    HELD = "held"
    """A pre-authorisation the bank approved: the amount is held on the card."""
    INCREMENTED = "incremented"
    """A hold the bank raised at least once (its `held` column is the total)."""
    CAPTURED = "captured"
    """The hold became one charge of the captured amount; the rest went back to the card."""
    RELEASED = "released"
    """The merchant cancelled the hold; nothing was charged."""
    EXPIRED = "expired"
    """The bank released the hold because it was not captured in time."""
    SUBMITTED = "submitted"
    """A capture or cancel committed to the store-and-forward queue; sent until answered."""


class Event(StrEnum):
    CARD_READ = "card_read"
    SEND = "send"
    APPROVE = "approve"
    DECLINE = "decline"
    REJECT = "reject"
    CANCEL = "cancel"
    WITHDRAW = "withdraw"
    APPROVE_OFFLINE = "approve_offline"
    DECLINE_OFFLINE = "decline_offline"
    NOT_SENT = "not_sent"
    NO_ANSWER = "no_answer"
    REVERSE = "reverse"
    REVERSAL_DONE = "reversal_done"
    FORWARD_ACCEPTED = "forward_accepted"
    FORWARD_DECLINED = "forward_declined"
    VOID = "void"
    REFUND_PART = "refund_part"
    REFUND_FULL = "refund_full"
    APPROVE_PARTIAL = "approve_partial"
    """The issuer approved part of the amount and the request allowed it (split tender)."""
    PARTIAL_REFUSED = "partial_refused"
    """The issuer approved part of an amount that had to be paid whole: reversed at once."""
    TIP_ADJUST = "tip_adjust"
    """The tip of an approved sale changed before the batch closed (the amount with it)."""
    CASH = "cash"
    """A cash tender of a split sale: recorded, no bank message."""
    HOLD = "hold"
    INCREMENT = "increment"
    CAPTURE = "capture"
    RELEASE = "release"
    EXPIRE = "expire"
    SUBMIT = "submit"


S = State
E = Event

TRANSITIONS: dict[tuple[State, Event], State] = {
    (S.CREATED, E.CARD_READ): S.CARD_READ,
    (S.CREATED, E.SEND): S.AUTHORISING,
    (S.CREATED, E.CANCEL): S.CANCELLED,
    (S.CREATED, E.DECLINE): S.DECLINED,
    (S.CARD_READ, E.SEND): S.AUTHORISING,
    (S.CARD_READ, E.CANCEL): S.CANCELLED,
    (S.CARD_READ, E.DECLINE): S.DECLINED,
    (S.AUTHORISING, E.APPROVE): S.APPROVED,
    (S.AUTHORISING, E.DECLINE): S.DECLINED,
    (S.AUTHORISING, E.REJECT): S.FAILED,
    (S.AUTHORISING, E.APPROVE_OFFLINE): S.APPROVED_OFFLINE,
    (S.AUTHORISING, E.DECLINE_OFFLINE): S.DECLINED,
    (S.AUTHORISING, E.NOT_SENT): S.FAILED,
    (S.AUTHORISING, E.WITHDRAW): S.CANCELLED,
    (S.AUTHORISING, E.NO_ANSWER): S.UNKNOWN,
    (S.UNKNOWN, E.REVERSE): S.REVERSING,
    (S.REVERSING, E.REVERSAL_DONE): S.REVERSED,
    (S.APPROVED_OFFLINE, E.FORWARD_ACCEPTED): S.FORWARDED,
    (S.APPROVED_OFFLINE, E.FORWARD_DECLINED): S.DECLINED_AFTER_FORWARD,
    (S.APPROVED, E.VOID): S.VOIDED,
    (S.FORWARDED, E.VOID): S.VOIDED,
    (S.APPROVED, E.REFUND_PART): S.PARTIALLY_REFUNDED,
    (S.FORWARDED, E.REFUND_PART): S.PARTIALLY_REFUNDED,
    (S.PARTIALLY_REFUNDED, E.REFUND_PART): S.PARTIALLY_REFUNDED,
    (S.APPROVED, E.REFUND_FULL): S.REFUNDED,
    (S.FORWARDED, E.REFUND_FULL): S.REFUNDED,
    (S.PARTIALLY_REFUNDED, E.REFUND_FULL): S.REFUNDED,
    (S.AUTHORISING, E.APPROVE_PARTIAL): S.APPROVED,
    (S.AUTHORISING, E.PARTIAL_REFUSED): S.REVERSING,
    (S.APPROVED, E.TIP_ADJUST): S.APPROVED,
    (S.FORWARDED, E.TIP_ADJUST): S.FORWARDED,
    (S.APPROVED_OFFLINE, E.TIP_ADJUST): S.APPROVED_OFFLINE,
    (S.CREATED, E.CASH): S.APPROVED,
    # pre-authorisations and their captures / cancels
    (S.AUTHORISING, E.HOLD): S.HELD,
    (S.HELD, E.INCREMENT): S.INCREMENTED,
    (S.INCREMENTED, E.INCREMENT): S.INCREMENTED,
    (S.HELD, E.CAPTURE): S.CAPTURED,
    (S.INCREMENTED, E.CAPTURE): S.CAPTURED,
    (S.HELD, E.RELEASE): S.RELEASED,
    (S.INCREMENTED, E.RELEASE): S.RELEASED,
    (S.HELD, E.EXPIRE): S.EXPIRED,
    (S.INCREMENTED, E.EXPIRE): S.EXPIRED,
    (S.CREATED, E.SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, E.FORWARD_ACCEPTED): S.APPROVED,
    (S.SUBMITTED, E.FORWARD_DECLINED): S.DECLINED,
}

FINAL: frozenset[State] = frozenset(
    {S.DECLINED, S.FAILED, S.CANCELLED, S.DECLINED_AFTER_FORWARD, S.REVERSED, S.VOIDED, S.REFUNDED}
    | {S.CAPTURED, S.RELEASED, S.EXPIRED}
)
"""No event leaves these states."""

IN_FLIGHT: frozenset[State] = frozenset({S.CREATED, S.CARD_READ, S.AUTHORISING, S.UNKNOWN})
"""States a crash can leave a transaction in; start-up recovery moves them on."""

MONEY_MOVED: frozenset[State] = frozenset(
    {S.APPROVED, S.APPROVED_OFFLINE, S.FORWARDED, S.PARTIALLY_REFUNDED, S.REFUNDED}
)
"""The sale counts in totals (refunds are counted separately)."""

REFUNDABLE: frozenset[State] = frozenset({S.APPROVED, S.FORWARDED, S.PARTIALLY_REFUNDED})
VOIDABLE: frozenset[State] = frozenset({S.APPROVED, S.FORWARDED})
OPEN_HOLD: frozenset[State] = frozenset({S.HELD, S.INCREMENTED})
"""A pre-authorisation that can still be raised, captured or cancelled."""


def next_state(transaction_id: str, state: State | str, event: Event) -> State:
    """The state `event` leads to from `state`, or `IllegalTransition`."""
    try:
        current = State(state)
    except ValueError:
        raise IllegalTransition(transaction_id, str(state), event.value) from None
    target = TRANSITIONS.get((current, event))
    if target is None:
        raise IllegalTransition(transaction_id, current.value, event.value)
    return target
