"""The settlement table: what each delivery of each operation means, as data.

`TABLE` maps (operation, how the delivery ended) to a `Row`: what happens next (`Then`), the
state event, the operator's result, the ISO response code and the operator's sentence. How a
delivery ended is the answer's `result` ("approved", "declined", "pending", ...) when the
bank answered, else `not_sent`, `untrusted` (not sent: the bank's certificate failed
verification), `no_answer`, `refused` (retrying cannot help) or `refused_transient`; an answer
the operation does not expect falls to its `other_answer` row.

A new operation (pre-authorisation, capture) or a second acquirer protocol adds rows here,
never branches in the step that applies them (`settlement.py`: `classify` and
`Settlement.send`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from terminal.money import Amount
from terminal.payment.api import Result
from terminal.payment.bank import Reply
from terminal.payment.cross_border import debit_of_answer
from terminal.payment.response_codes import describe_code
from terminal.payment.states import Event

Name = Literal[
    "sale",
    "wallet_sale",
    "refund",
    "void",
    "qr_intent",
    "qr_status",
    "qr_withdraw",
    "advice",
    "reverse",
    "close_batch",
    "sale_split",
    "tip_adjust",
    "tip_adjust_queued",
    "preauth",
    "increment",
    "capture",
    "preauth_cancel",
]
"""The operations whose deliveries the table settles (queue items use their kind).
`sale_split` is a sale that allows partial approval (split tender); `sale` does not."""

NOT_ANSWERED = ("not_sent", "no_answer", "refused", "refused_transient", "local_fault")
"""How a delivery ends without an answer."""


class Then(StrEnum):
    """What follows a delivery."""

    DONE = "done"
    """Apply the row's event; the operation ends with the row's result."""
    OFFLINE = "offline"
    """Nothing was sent: the terminal's offline rules decide (a sale)."""
    REVERSE = "reverse"
    """The outcome is unknown: queue a reversal before telling the operator."""
    PENDING = "pending"
    """The bank says not yet: the operation goes on (a merchant-presented code)."""
    SILENT = "silent"
    """No news this time: ask again (until the operation's own deadline)."""
    PARK = "park"
    """A queued message re-sending cannot help: park it, shown by `saf status`."""
    RETRY = "retry"
    """A queued message (or the batch close) stays where it is and is sent again later."""
    REVERSE_DECLINE = "reverse_decline"
    """The bank approved part of an amount that had to be paid whole: apply the row's event
    with a reversal of the approved part queued in the same commit, then report the row's
    result (declined)."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What a sentence may name."""

    amount: Amount | None = None
    kind: str = ""
    sale_id: str = ""
    why: str = ""
    detail: str = ""
    reply: Reply | None = None
    batch: int = 0

    @property
    def approved(self) -> Amount | None:
        """A partial approval's approved amount."""
        return self.reply.approved_amount if self.reply else None

    @property
    def code(self) -> str:
        return self.reply.code if self.reply else ""

    @property
    def reason(self) -> str:
        return self.reply.reason if self.reply else ""

    @property
    def auth_code(self) -> str:
        return self.reply.auth_code if self.reply else ""

    @property
    def result(self) -> str:
        return self.reply.result if self.reply else ""


def _nothing(facts: Facts) -> str:
    return ""


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the settlement table."""

    then: Then
    event: Event | None = None
    result: Result | None = None
    code: str | None = None
    """The outcome's ISO code; None takes the answer's."""
    say: Callable[[Facts], str] = _nothing
    """The operator's sentence (for PARK and RETRY: why, for the queue's status)."""
    keep: tuple[str, ...] = ()
    """Answer fields journaled with the event ("auth_code?": only when not empty)."""
    rule: str = ""
    moves_ref: bool = False
    """The approval also moves the transaction acted on (a refund or void moves its sale)."""


# -- sentences -------------------------------------------------------------------------------
def _approved(f: Facts) -> str:
    said = "Approved" + (f" (auth code {f.auth_code})." if f.auth_code else ".")
    debit = debit_of_answer(f.reply.payload) if f.reply is not None else None
    return said + (f" {debit.sentence()}." if debit is not None else "")


def _declined(f: Facts) -> str:
    return f"Declined by the bank: {describe_code(f.code, f.reason)}."


def _sale_refused(f: Facts) -> str:
    return (
        f"The bank refused the message ({f.detail}); nothing was charged. "
        "Call the technician if this repeats."
    )


def _partial_approved(f: Facts) -> str:
    approved = f.approved
    if approved is None or f.amount is None:
        return _approved(f)
    return (
        f"Partially approved: the card paid {approved} of {f.amount}"
        + (f" (auth code {f.auth_code})" if f.auth_code else "")
        + f"; {f.amount - approved} is left to pay with another card, a QR code or cash."
    )


def _partial_refused(f: Facts) -> str:
    approved = f.approved
    part = f"{approved} of {f.amount}" if approved is not None else "part of the amount"
    return (
        f"Declined: the card covers only {part} and this payment did not allow a partial "
        "approval, so that part is being reversed and nothing is charged. Ask for another "
        "card, or start again allowing a split payment."
    )


def _adjustment_declined(f: Facts) -> str:
    return f"The bank declined the {f.kind}: {describe_code(f.code, f.reason)}."


def _adjustment_not_sent(f: Facts) -> str:
    return f"The bank cannot be reached: the {f.kind} was not sent. Try again later."


def _adjustment_refused(f: Facts) -> str:
    return (
        f"The bank refused the {f.kind} ({f.detail}); nothing changed. "
        "Call the technician if this repeats."
    )


def _local_fault(f: Facts) -> str:
    what = (
        f"the {f.kind}"
        if f.kind in ("refund", "void", "tip_adjust", "tip adjust", "increment")
        else "the payment"
    )
    return (
        f"The terminal {f.detail or 'had a local fault'}; nothing was charged and {what} was "
        "not sent to the bank. Restart the terminal or call the technician."
    )


_LOCAL_FAULT = Row(Then.DONE, Event.NOT_SENT, Result.ERROR, "96", _local_fault, rule="local_fault")
"""The terminal's own failure before sending: an error, never the offline rules."""


def _qr_never_offline(f: Facts) -> str:
    return (
        "The bank cannot be reached and QR payments are never approved offline: "
        "ask the customer to pay by card."
    )


def _untrusted(f: Facts) -> str:
    return (
        "SECURITY ALARM: the bank's certificate could not be verified, so nothing was sent and "
        "offline approval is suspended: the card was not charged. Call the technician."
    )


def _advice_declined(f: Facts) -> str:
    return (
        f"The bank declined this offline sale when it was forwarded (code {f.code}"
        + (f": {f.reason}" if f.reason else "")
        + ")."
    )


def _with_detail(words: str) -> Callable[[Facts], str]:
    return lambda f: words + (f" ({f.detail})" if f.detail else "")


def _batch_not_closed(words: str) -> Callable[[Facts], str]:
    return lambda f: (
        f"The batch could not be closed ({words}"
        + (f": {f.detail}" if f.detail else "")
        + "); it stays open. Try again later: the same close is sent again."
    )


def _batch_closed(f: Facts) -> str:
    if f.result == "balanced":
        return f"Batch {f.batch} closed and balanced with the bank."
    return (
        f"Batch {f.batch} closed OUT OF BALANCE: the bank's totals differ from the terminal's. "
        "Compare the reports and call the bank."
    )


def _preauth_never_offline(f: Facts) -> str:
    return (
        "The bank cannot be reached and a pre-authorisation is never approved offline: "
        "nothing is held on the card. Try again when the bank is reachable."
    )


def _held(f: Facts) -> str:
    code = f" (auth code {f.auth_code})" if f.auth_code else ""
    return f"Pre-authorisation approved{code}: {f.amount} is held on the card, not charged."


def _hold_expired(f: Facts) -> str:
    return (
        f"The bank declined the {f.kind}: the hold expired and was released to the card, so "
        "it can no longer be captured or raised. Take a new payment instead."
    )


def _queued_hold(name: Name, approved: Callable[[Facts], str]) -> dict[tuple[Name, str], Row]:
    """A capture or cancel: committed to the queue before it is sent, re-sent with the same id
    until answered (never reversed); its answer moves the hold (`moves_ref`)."""
    declined = Row(T.DONE, E.FORWARD_DECLINED, R.DECLINED, None, _adjustment_declined, QUEUED)
    return {
        (name, "approved"): Row(
            T.DONE, E.FORWARD_ACCEPTED, R.APPROVED, None, approved, QUEUED, moves_ref=True
        ),
        (name, "declined"): declined,
        (name, "expired"): Row(
            T.DONE, E.FORWARD_DECLINED, R.DECLINED, None, _hold_expired, QUEUED, moves_ref=True
        ),
        (name, "other_answer"): Row(
            T.PARK, say=lambda f: f"answered {f.result} ({f.code} {f.reason})"
        ),
        **_queued(name),
    }


# -- the table -------------------------------------------------------------------------------
T, E, R = Then, Event, Result
ANSWER = ("code", "auth_code", "gateway_ref", "answer")
QUEUED = ("code", "gateway_ref", "answer", "auth_code?")
_REVERSE = Row(T.REVERSE)


def _adjustment(name: Name, approved: Callable[[Facts], str]) -> dict[tuple[Name, str], Row]:
    done = Row(T.DONE, E.APPROVE, R.APPROVED, None, approved, ANSWER, moves_ref=True)
    refused = Row(T.DONE, E.REJECT, R.ERROR, "96", _adjustment_refused)
    return {
        (name, "approved"): done,
        (name, "reversed"): done,
        (name, "declined"): Row(T.DONE, E.DECLINE, R.DECLINED, None, _adjustment_declined, ANSWER),
        (name, "other_answer"): _REVERSE,
        (name, "not_sent"): Row(T.DONE, E.NOT_SENT, R.ERROR, "91", _adjustment_not_sent),
        (name, "no_answer"): _REVERSE,
        (name, "refused"): refused,
        (name, "refused_transient"): refused,
        (name, "local_fault"): _LOCAL_FAULT,
    }


def _queued(name: Name) -> dict[tuple[Name, str], Row]:
    """How a store-and-forward message's delivery ends when it is not answered."""
    return {
        (name, "not_sent"): Row(T.RETRY, say=_with_detail("gateway unreachable")),
        (name, "no_answer"): Row(T.RETRY, say=_with_detail("no answer from the gateway")),
        (name, "refused"): Row(T.PARK, say=lambda f: f"refused by the gateway: {f.detail}"),
        (name, "refused_transient"): Row(T.RETRY, say=_with_detail("gateway error")),
        (name, "local_fault"): Row(T.RETRY, say=_with_detail("local fault")),
    }


_SALE_REFUSED = Row(T.DONE, E.REJECT, R.ERROR, "96", _sale_refused)
_INTENT_REFUSED = Row(
    T.DONE,
    E.REJECT,
    R.ERROR,
    "96",
    lambda f: f"The bank refused the payment request ({f.detail}); nothing was charged.",
)
_STATUS_KEEP = ("code", "auth_code", "answer", "wallet_debit?")
_ADVICE_DECLINED = Row(T.DONE, E.FORWARD_DECLINED, R.DECLINED, None, _advice_declined, QUEUED)
_TIP_DECLINED = Row(
    T.DONE,
    E.FORWARD_DECLINED,
    R.DECLINED,
    None,
    lambda f: (
        f"The bank declined the tip adjust when it was forwarded (code {f.code}"
        + (f": {f.reason}" if f.reason else "")
        + "); the sale keeps its total from before."
    ),
    QUEUED,
)
_REVERSAL_DONE = Row(T.DONE, E.REVERSAL_DONE, R.APPROVED, keep=("answer",))
_CLOSED = Row(T.DONE, say=_batch_closed)

_SALE_ROWS: dict[tuple[Name, str], Row] = {
    ("sale", "approved"): Row(
        T.DONE, E.APPROVE, R.APPROVED, None, _approved, (*ANSWER, "wallet_debit?")
    ),
    ("sale", "declined"): Row(T.DONE, E.DECLINE, R.DECLINED, None, _declined, ANSWER),
    ("sale", "other_answer"): _REVERSE,
    ("sale", "not_sent"): Row(T.OFFLINE),
    ("sale", "untrusted"): Row(
        T.DONE, E.DECLINE_OFFLINE, R.DECLINED, "91", _untrusted, rule="link_untrusted"
    ),
    ("sale", "no_answer"): _REVERSE,
    ("sale", "refused"): _SALE_REFUSED,
    ("sale", "refused_transient"): _SALE_REFUSED,
    ("sale", "local_fault"): _LOCAL_FAULT,
}
"""A sale's own message; a wallet pay code's sale (`wallet_sale`) has the same rows, plus
`pending` (the customer is confirming on the phone) and never the offline rules."""

TABLE: dict[tuple[Name, str], Row] = {
    **_SALE_ROWS,
    ("sale", "partial"): Row(
        T.REVERSE_DECLINE, E.PARTIAL_REFUSED, R.DECLINED, None, _partial_refused, ANSWER
    ),
    # A sale that allows partial approval settles like any sale, plus its partial answer.
    **{("sale_split", ending): row for (_, ending), row in _SALE_ROWS.items()},
    ("sale_split", "partial"): Row(
        T.DONE, E.APPROVE_PARTIAL, R.APPROVED, None, _partial_approved, (*ANSWER, "approved")
    ),
    **{("wallet_sale", ending): row for (name, ending), row in _SALE_ROWS.items()},
    ("wallet_sale", "pending"): Row(T.PENDING),
    ("wallet_sale", "not_sent"): Row(
        T.DONE, E.DECLINE_OFFLINE, R.DECLINED, "91", _qr_never_offline, rule="offline_entry"
    ),
    **_adjustment("refund", lambda f: f"Refund of {f.amount} approved."),
    **_adjustment(
        "tip_adjust", lambda f: f"Tip adjusted: sale {f.sale_id} will be charged {f.amount}."
    ),
    **_adjustment("void", lambda f: f"Sale {f.sale_id} voided: {f.amount} will not be charged."),
    ("qr_intent", "pending"): Row(T.PENDING),
    ("qr_intent", "declined"): Row(
        T.DONE,
        E.DECLINE,
        R.DECLINED,
        None,
        lambda f: f"The bank refused the payment request: {describe_code(f.code, f.reason)}.",
        ("code", "answer"),
    ),
    ("qr_intent", "other_answer"): _REVERSE,
    ("qr_intent", "not_sent"): Row(
        T.DONE, E.DECLINE_OFFLINE, R.DECLINED, "91", _qr_never_offline, rule="offline_entry"
    ),
    ("qr_intent", "no_answer"): _REVERSE,
    ("qr_intent", "refused"): _INTENT_REFUSED,
    ("qr_intent", "refused_transient"): _INTENT_REFUSED,
    ("qr_intent", "local_fault"): _LOCAL_FAULT,
    ("qr_status", "approved"): Row(T.DONE, E.APPROVE, R.APPROVED, None, _approved, _STATUS_KEEP),
    ("qr_status", "declined"): Row(T.DONE, E.DECLINE, R.DECLINED, None, _declined, _STATUS_KEEP),
    ("qr_status", "expired"): Row(
        T.DONE,
        E.DECLINE,
        R.DECLINED,
        None,
        lambda f: "The code expired before it was paid.",
        _STATUS_KEEP,
    ),
    ("qr_status", "other_answer"): Row(T.PENDING),
    **{("qr_status", ending): Row(T.SILENT) for ending in NOT_ANSWERED},
    ("qr_withdraw", "approved"): Row(
        T.DONE,
        E.WITHDRAW,
        R.CANCELLED,
        "",
        lambda f: f"{f.why} Nothing was charged.",
        ("answer",),
    ),
    ("qr_withdraw", "other_answer"): _REVERSE,
    **{("qr_withdraw", ending): _REVERSE for ending in NOT_ANSWERED},
    ("advice", "approved"): Row(T.DONE, E.FORWARD_ACCEPTED, R.APPROVED, None, keep=QUEUED),
    ("advice", "declined"): _ADVICE_DECLINED,
    ("advice", "other_answer"): _ADVICE_DECLINED,
    **_queued("advice"),
    # A tip adjust of a sale approved offline, queued behind its advice.
    ("tip_adjust_queued", "approved"): Row(
        T.DONE, E.FORWARD_ACCEPTED, R.APPROVED, None, keep=QUEUED
    ),
    ("tip_adjust_queued", "declined"): _TIP_DECLINED,
    ("tip_adjust_queued", "other_answer"): _TIP_DECLINED,
    **_queued("tip_adjust_queued"),
    ("reverse", "reversed"): _REVERSAL_DONE,
    ("reverse", "approved"): _REVERSAL_DONE,
    ("reverse", "other_answer"): Row(
        T.PARK, say=lambda f: f"answered {f.result} ({f.code} {f.reason})"
    ),
    **_queued("reverse"),
    ("preauth", "approved"): Row(T.DONE, E.HOLD, R.APPROVED, None, _held, (*ANSWER, "expires_at?")),
    ("preauth", "declined"): Row(T.DONE, E.DECLINE, R.DECLINED, None, _declined, ANSWER),
    ("preauth", "other_answer"): _REVERSE,
    ("preauth", "not_sent"): Row(
        T.DONE, E.DECLINE_OFFLINE, R.DECLINED, "91", _preauth_never_offline, rule="offline_entry"
    ),
    ("preauth", "untrusted"): Row(
        T.DONE, E.DECLINE_OFFLINE, R.DECLINED, "91", _untrusted, rule="link_untrusted"
    ),
    ("preauth", "no_answer"): _REVERSE,
    ("preauth", "refused"): _SALE_REFUSED,
    ("preauth", "refused_transient"): _SALE_REFUSED,
    ("preauth", "local_fault"): _LOCAL_FAULT,
    **_adjustment("increment", lambda f: f"Hold raised by {f.amount}."),
    ("increment", "expired"): Row(T.DONE, E.DECLINE, R.DECLINED, None, _hold_expired, ANSWER),
    **_queued_hold("capture", lambda f: f"Captured {f.amount}: the hold is now one charge."),
    **_queued_hold(
        "preauth_cancel", lambda f: "Pre-authorisation cancelled: the hold is released."
    ),
    # over ISO 8583 the cancel of a hold is the reversal of its authorisation (0400/0410)
    ("preauth_cancel", "reversed"): Row(
        T.DONE,
        E.FORWARD_ACCEPTED,
        R.APPROVED,
        None,
        lambda f: "Pre-authorisation cancelled: the hold is released.",
        QUEUED,
        moves_ref=True,
    ),
    ("close_batch", "balanced"): _CLOSED,
    ("close_batch", "out_of_balance"): _CLOSED,
    ("close_batch", "other_answer"): _CLOSED,
    ("close_batch", "not_sent"): Row(T.RETRY, result=R.ERROR, say=_batch_not_closed("not sent")),
    ("close_batch", "no_answer"): Row(T.RETRY, result=R.ERROR, say=_batch_not_closed("no answer")),
    ("close_batch", "refused"): Row(T.RETRY, result=R.ERROR, say=_batch_not_closed("refused")),
    ("close_batch", "refused_transient"): Row(
        T.RETRY, result=R.ERROR, say=_batch_not_closed("refused")
    ),
    ("close_batch", "local_fault"): Row(
        T.RETRY, result=R.ERROR, say=_batch_not_closed("local fault")
    ),
}
