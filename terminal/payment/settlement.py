"""What a bank delivery means, decided in one place: a table and the one step that applies it.

`TABLE` maps (operation, how the delivery ended) to a `Row`: what happens next (`Then`), the
state event, the operator's result, the ISO response code and the operator's sentence. How a
delivery ended is the answer's `result` ("approved", "declined", "pending", ...) when the
bank answered, else `not_sent`, `untrusted` (not sent: the bank's certificate failed
verification), `no_answer`, `refused` (retrying cannot help) or `refused_transient`; an answer
the operation does not expect falls to its `other_answer` row, an `untrusted` delivery without
a row of its own (or with `offline.suspend_on_tls_failure` off) to `not_sent`.
`classify` is the only code that takes a `Delivery` apart (an exhaustive `match`, checked by
mypy), so a new operation (pre-authorisation, capture) or a second acquirer protocol adds rows,
never branches.

`Settlement.send` is the one function that sends, waits and settles a transaction's message:
the signed bytes are committed (state `authorising`) before they leave, and a `no_answer`
queues the reversal in the same commit that records `unknown`, before the operator is told
(PROTOCOL.md rule 3). The store-and-forward queue (forwarder.py) and the batch close read the
same table for their own messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, assert_never

from terminal.money import Amount
from terminal.payment.api import Outcome, Progress, ProgressCallback, Result, Stage
from terminal.payment.bank import (
    Answered,
    Delivery,
    LocalFault,
    NoAnswer,
    NotSent,
    Operation,
    Refused,
    Reply,
)
from terminal.payment.cancel import CancelledBeforeSend
from terminal.payment.context import Core
from terminal.payment.cross_border import debit_of_answer
from terminal.payment.journal import Change
from terminal.payment.response_codes import describe_code
from terminal.payment.states import Event, State

log = logging.getLogger("terminal.payment.settlement")

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


def ending_of(delivery: Delivery) -> tuple[str, Reply | None, str]:
    """(how it ended, the answer if any, detail): the one place a `Delivery` is taken apart."""
    match delivery:
        case Answered(reply=reply):
            return reply.result, reply, ""
        case NotSent(detail=detail, untrusted=untrusted):
            return ("untrusted" if untrusted else "not_sent"), None, detail
        case NoAnswer(detail=detail):
            return "no_answer", None, detail
        case Refused(detail=detail, final=final):
            return ("refused" if final else "refused_transient"), None, detail
        case LocalFault(detail=detail):
            return "local_fault", None, detail
        case _:
            assert_never(delivery)


def classify(
    name: Name,
    delivery: Delivery,
    *,
    suspend_untrusted: bool = True,
    asked: Amount | None = None,
) -> tuple[Row, Reply | None, str]:
    """The table's row for this delivery of operation `name`, with the answer and detail.

    `suspend_untrusted` is `offline.suspend_on_tls_failure`: off, an untrusted link counts as
    an unreachable one (the offline rules decide again). A `partial` answer whose approved
    amount is missing, in another currency, or not between zero and `asked` is an answer the
    terminal cannot trust: its `other_answer` row (a reversal)."""
    ending, reply, detail = ending_of(delivery)
    if ending == "partial" and not _sound_partial(reply, asked):
        ending = "other_answer"
    if ending == "untrusted" and (not suspend_untrusted or (name, ending) not in TABLE):
        ending = "not_sent"
    row = TABLE.get((name, ending))
    if row is None:
        row = TABLE[(name, "other_answer")]
    return row, reply, detail


def _sound_partial(reply: Reply | None, asked: Amount | None) -> bool:
    approved = reply.approved_amount if reply is not None else None
    return (
        approved is not None
        and asked is not None
        and approved.currency == asked.currency
        and 0 < approved.minor < asked.minor
    )


def journal_fields(row: Row, facts: Facts) -> dict[str, Any]:
    """The columns a settled row writes with its event."""
    fields: dict[str, Any] = {}
    reply = facts.reply
    if reply is not None:
        debit = debit_of_answer(reply.payload) if reply.result == "approved" else None
        values = {
            "code": reply.code,
            "auth_code": reply.auth_code,
            "gateway_ref": reply.gateway_ref,
            "answer": reply.raw,
            "expires_at": str(reply.payload.get("expires_at", "") or ""),
            "wallet_debit": debit.to_text() if debit is not None else "",
        }
        for name in row.keep:
            if name == "approved":  # a partial approval: the sale is what the card paid
                approved = reply.approved_amount
                if approved is not None and facts.amount is not None:
                    fields["amount"] = approved.minor
                    fields["requested"] = facts.amount.minor
                continue
            if name.endswith("?"):
                name = name[:-1]
                if not values[name]:
                    continue
            fields[name] = values[name]
    else:
        if row.code:
            fields["code"] = row.code
        if row.rule:
            fields["rule"] = row.rule
    message = row.say(facts)
    if message:
        fields["message"] = message
    return fields


# -- the step -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Subject:
    """The transaction a delivery settles, as its outcome shows it."""

    txn_id: str
    amount: Amount
    entry: str
    masked_pan: str = ""
    scheme: str = ""
    aid: str = ""
    kind: str = "sale"
    sale_id: str = ""
    """For a refund or void: the sale acted on."""
    label: str = ""
    cryptogram_type: str = ""
    cvm: str = ""
    """What the card said for the receipt (application label, TC/ARQC, CVM performed)."""

    def outcome(
        self,
        result: Result,
        code: str = "",
        auth_code: str = "",
        message: str = "",
        state: str = "",
    ) -> Outcome:
        return Outcome(
            self.txn_id,
            result,
            self.amount,
            self.entry,
            code,
            auth_code,
            self.masked_pan,
            message,
            self.scheme,
            self.aid,
            state,
            label=self.label,
            cryptogram_type=self.cryptogram_type,
            cvm=self.cvm,
        )


@dataclass(frozen=True, slots=True)
class Settled:
    """Where a delivery left the operation: ended (`outcome`), or going on (PENDING, SILENT)."""

    outcome: Outcome | None
    row: Row
    reply: Reply | None = None
    bank_s: float = 0.0
    """Seconds spent waiting for the bank."""


def finish(progress: ProgressCallback, outcome: Outcome) -> Outcome:
    """Tell the operator the end, and return it."""
    progress(Progress(Stage.RESULT, outcome.message, outcome.id, {"result": outcome.result.value}))
    return outcome


class Settlement:
    """Sends a transaction's message and settles its delivery by the table."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def send(
        self,
        name: Name,
        operation: Operation,
        subject: Subject,
        progress: ProgressCallback,
        *,
        announce: str = "",
        before: tuple[Change, ...] = (),
        stored: bool = True,
        deadline_s: float | None = None,
        why: str = "",
        offline: Callable[[], Awaitable[Outcome]] | None = None,
        moves_ref: Callable[[], tuple[Change, ...]] | None = None,
        gate: Callable[[], bool] | None = None,
    ) -> Settled:
        """Encode, (commit,) send, wait and settle one message.

        `stored`: the message is the transaction's own request, committed with `before` and
        the `send` event before it leaves; otherwise (a status question, an intent's void) it
        only takes the next `seq`. `offline` runs when the row says the offline rules decide;
        `moves_ref` gives the changes of the transaction acted on, committed with the approval.
        `gate` is asked inside the commit that stores the request (the point of no return): when
        it says no (a cancel was accepted), nothing is committed or sent and
        `CancelledBeforeSend` is raised.
        """
        core = self.core

        def encode(seq: int, at: datetime) -> bytes:
            if gate is not None and not gate():
                raise CancelledBeforeSend(subject.txn_id)
            return core.bank.encode(operation, seq, at)

        if stored:
            change = Change(subject.txn_id, Event.SEND)
            body = await asyncio.to_thread(
                core.journal.sign_and_apply, change, encode, before=before
            )
        else:
            seq = await asyncio.to_thread(core.journal.next_seq)
            body = encode(seq, core.journal.clock())
        if announce:
            progress(Progress(Stage.AUTHORISING, announce, subject.txn_id))
        started = time.perf_counter()
        delivery = await core.bank.deliver(operation.id, body, deadline_s=deadline_s)
        bank_s = time.perf_counter() - started
        row, reply, detail = classify(
            name,
            delivery,
            suspend_untrusted=core.settings.offline.suspend_on_tls_failure,
            asked=subject.amount,
        )
        facts = Facts(subject.amount, subject.kind, subject.sale_id, why, detail, reply)
        outcome: Outcome | None = None
        match row.then:
            case Then.DONE:
                outcome = await self._record(row, facts, subject, progress, moves_ref)
            case Then.REVERSE:
                if reply is not None:
                    log.error(
                        "%s %s: unexpected answer %r; reversing", name, operation.id, reply.result
                    )
                outcome = await self.reverse_unknown(subject, progress)
            case Then.REVERSE_DECLINE:
                outcome = await self.reverse_declined(row, facts, subject, progress)
            case Then.OFFLINE:
                if offline is None:
                    raise ValueError(f"{name} has no offline rules")
                outcome = await offline()
            case Then.PENDING | Then.SILENT:
                pass
            case Then.PARK | Then.RETRY:
                raise ValueError(f"{name}: a queue row for a transaction's own message")
            case _:
                assert_never(row.then)
        return Settled(outcome, row, reply, bank_s)

    async def cancelled_before_send(
        self, subject: Subject, progress: ProgressCallback, message: str, *also: Change
    ) -> Outcome:
        """The end of a send the operator cancelled before anything left (`send` raised
        `CancelledBeforeSend`): the cancel is committed, with `also` in the same commit."""
        cancel = Change(subject.txn_id, Event.CANCEL, {"message": message})
        await asyncio.to_thread(self.core.journal.apply, *also, cancel)
        return finish(progress, subject.outcome(Result.CANCELLED, message=message))

    async def _record(
        self,
        row: Row,
        facts: Facts,
        subject: Subject,
        progress: ProgressCallback,
        moves_ref: Callable[[], tuple[Change, ...]] | None,
    ) -> Outcome:
        assert row.event is not None and row.result is not None, row
        journal = self.core.journal
        change = Change(subject.txn_id, row.event, journal_fields(row, facts))

        def commit() -> None:
            others = moves_ref() if row.moves_ref and moves_ref is not None else ()
            journal.apply(change, *others)

        await asyncio.to_thread(commit)
        code = row.code if row.code is not None else facts.code
        auth_code = facts.auth_code if row.result is Result.APPROVED else ""
        return finish(progress, subject.outcome(row.result, code, auth_code, row.say(facts)))

    async def reverse_declined(
        self, row: Row, facts: Facts, subject: Subject, progress: ProgressCallback
    ) -> Outcome:
        """The bank approved part of an amount that had to be paid whole: the reversal of that
        part is committed with the row's event before the operator is told, then tried at once
        (the queue keeps trying if the bank does not answer)."""
        assert row.event is not None and row.result is not None, row
        core, txn_id = self.core, subject.txn_id
        approved = facts.approved or subject.amount
        reverse = Operation("reverse", core.bank.new_id(), amount=approved, ref=txn_id)

        def encode(seq: int, at: datetime) -> bytes:
            return core.bank.encode(reverse, seq, at)

        fields = {**journal_fields(row, facts), "rule": "partial_not_allowed"}
        item = await asyncio.to_thread(
            core.journal.enqueue,
            Change(txn_id, row.event, fields),
            "reverse",
            reverse.id,
            approved,
            encode,
        )
        await core.forwarder.forward_one(item, deadline_s=core.settings.gateway.timeout_s)
        state = (await asyncio.to_thread(core.journal.get, txn_id)).state
        if state is not State.REVERSED:
            core.forwarder.wake()
        code = row.code if row.code is not None else facts.code
        outcome = subject.outcome(row.result, code, "", row.say(facts), state.value)
        return finish(progress, outcome)

    async def reverse_unknown(self, subject: Subject, progress: ProgressCallback) -> Outcome:
        """Commit a reversal with `unknown` before telling the operator, then try it at once
        (PROTOCOL.md rule 3)."""
        return await self._reverse(
            subject,
            progress,
            "No answer from the bank: reversing the payment…",
            (
                "No answer from the bank in time, so the payment was reversed: nothing is "
                "charged. Ask for the payment again."
            ),
            (
                "No answer from the bank in time. A reversal is stored and will be sent as soon "
                "as the bank answers, so nothing stays charged. Ask for another payment."
            ),
            Result.ERROR,
            "68",
        )

    async def cancel_unconfirmed(
        self, subject: Subject, progress: ProgressCallback, why: str
    ) -> Outcome:
        """A wallet payment the customer did not confirm (or the operator stopped): cancel it
        with the wallet by a reversal of the sale's id, committed before anything is said. The
        wallet closes an unconfirmed payment for good and refunds a confirmed one, so nothing
        stays charged either way."""
        return await self._reverse(
            subject,
            progress,
            f"{why} Cancelling the payment with the wallet…",
            f"{why} The payment was cancelled with the wallet: nothing was charged.",
            (
                f"{why} The cancellation is stored and will be sent as soon as the bank answers, "
                "so nothing stays charged."
            ),
            Result.CANCELLED,
            "",
            Stage.CANCELLING,
        )

    async def _reverse(
        self,
        subject: Subject,
        progress: ProgressCallback,
        announce: str,
        reversed_sentence: str,
        queued_sentence: str,
        result: Result,
        code: str,
        stage: Stage = Stage.REVERSING,
    ) -> Outcome:
        core, txn_id = self.core, subject.txn_id
        progress(Progress(stage, announce, txn_id))
        reverse = Operation("reverse", core.bank.new_id(), amount=subject.amount, ref=txn_id)

        def encode(seq: int, at: datetime) -> bytes:
            return core.bank.encode(reverse, seq, at)

        item = await asyncio.to_thread(
            core.journal.enqueue,
            Change(txn_id, Event.REVERSE),
            "reverse",
            reverse.id,
            subject.amount,
            encode,
            before=(Change(txn_id, Event.NO_ANSWER),),
        )
        # Committed: now try it at once; if it fails the forwarder keeps trying.
        await core.forwarder.forward_one(item, deadline_s=core.settings.gateway.timeout_s)
        state = (await asyncio.to_thread(core.journal.get, txn_id)).state
        if state is State.REVERSED:
            message = reversed_sentence
        else:
            core.forwarder.wake()
            message = queued_sentence
        await asyncio.to_thread(core.journal.note, txn_id, message)
        return finish(progress, subject.outcome(result, code, "", message, state.value))
