"""Pre-authorisations: hold an amount on a card, raise it, capture the final amount, release it.

A pre-authorisation is a transaction of type `preauth` (its own states in states.py: `held`,
`incremented`, `captured`, `released`, `expired`); its increments, capture and cancel are
transactions of their own (`ref` = the hold) whose approval moves the hold in the same commit
(hold_moves.py), as a refund moves its sale.

Why each runs the way it does:
- `preauth` reads the card and is sent like a sale (request committed before it leaves; no
  answer → reversed, PROTOCOL.md rule 3), but it is never approved offline: with the bank
  unreachable it is refused with a sentence (settlement table, row `preauth/not_sent`).
- `increment` is online only, like a refund: no answer → the increment is reversed, the hold
  stays as it was.
- `capture` and `preauth_cancel` settle money the customer already agreed to: they are
  committed to the store-and-forward queue before they are sent (state `submitted`) and re-sent
  with the same id until the bank answers, never reversed; the bank answers a repeated id once,
  so a capture is booked exactly once whatever crashes. With the bank unreachable they wait in
  the queue like an offline sale's advice.

Every check runs before anything is sent and again inside the commit that creates the row
(`check_hold` with a `Reader`): an unknown id, a closed hold, a negative tip, another currency
or a second capture raise `HoldNotAllowed` / `UnknownTransaction` (exit code 2, ECR 400).
A till's retry (its reference again) is answered with the first request's outcome and nothing
is sent (hold_repeats.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from terminal.money import Amount
from terminal.payment.adjustments import JournalReads
from terminal.payment.api import (
    CardCapture,
    Outcome,
    ProgressCallback,
    Result,
    SaleRequest,
)
from terminal.payment.bank import Operation
from terminal.payment.cancel import CancelledBeforeSend, pass_point_of_no_return
from terminal.payment.capture import Stopped, read_card
from terminal.payment.card_read import card_read
from terminal.payment.context import Core, Tracker
from terminal.payment.errors import HoldNotAllowed, JournalUnavailable, UnknownTransaction
from terminal.payment.hold_moves import hold_moves
from terminal.payment.hold_repeats import Repeated, answer_repeat, repeated_row
from terminal.payment.journal import Change, Reader, Transaction
from terminal.payment.queued_send import queue_and_send, queued_outcome
from terminal.payment.risk import Limits, check_card, check_sale
from terminal.payment.settlement import Settlement, Subject, finish
from terminal.payment.states import OPEN_HOLD, Event

HoldKind = Literal["increment", "capture", "preauth_cancel"]

RESERVE_BYTES = 256 * 1024
"""Free space a pre-authorisation needs before the card is read (as a sale)."""

IN_PROGRESS = ("created", "card_read", "authorising", "unknown", "reversing", "submitted")
"""States of an increment, capture or cancel whose outcome is not known yet."""

WORDS = {"increment": "increment", "capture": "capture", "preauth_cancel": "cancel"}


@dataclass(frozen=True, slots=True)
class HoldAction:
    """An increment, capture or cancel the journal allowed: what the engine sends."""

    kind: HoldKind
    hold: Transaction
    amount: Amount
    """Increment: the amount added; capture: the final amount, tip included; cancel: held."""
    tip: Amount | None = None
    reference: str = ""
    """The till's reference (idempotency key), kept on the new row."""
    repeat_of: Transaction | None = None
    """The row this request repeats (a till's retry): answered from it, nothing sent."""

    @property
    def requested(self) -> Amount:
        """The amount as asked (a capture's without its tip), for the check in the commit."""
        return self.amount - self.tip if self.tip is not None else self.amount


def held_now(hold: Transaction) -> Amount:
    """What a pre-authorisation holds now (its amount plus approved increments)."""
    return hold.held if hold.held is not None else hold.amount


def _refuse(sentence: str) -> HoldNotAllowed:
    return HoldNotAllowed(f"{sentence} Nothing was sent.")


def check_hold(
    journal: JournalReads,
    kind: HoldKind,
    hold_id: str,
    amount: Amount | None = None,
    tip: Amount | None = None,
    reference: str = "",
) -> HoldAction:
    """The action the journal allows on pre-authorisation `hold_id`; `HoldNotAllowed` or
    `UnknownTransaction` (exit code 2, nothing sent) when it does not. A retry of an earlier
    request under its `reference` is allowed as `repeat_of` that row, whatever the hold's
    state now."""
    hold = journal.get(hold_id)
    words = WORDS[kind]
    if hold.type != "preauth":
        raise _refuse(f"{hold_id} is a {hold.type}, not a pre-authorisation: it has no hold.")
    earlier = _repeated(journal, kind, hold, amount, tip, reference)
    if earlier is not None:
        return HoldAction(kind, hold, earlier.amount, earlier.tip, reference, earlier)
    if hold.state not in OPEN_HOLD:
        state = hold.state.value.replace("_", " ")
        raise _refuse(f"Pre-authorisation {hold_id} is {state}: no {words} is possible.")
    busy = journal.scalar(
        "SELECT type FROM transactions WHERE ref = ? AND type IN "  # noqa: S608 - fixed marks
        f"('increment', 'capture', 'preauth_cancel') AND state IN ({', '.join('?' * 6)}) LIMIT 1",
        (hold_id, *IN_PROGRESS),
    )
    if busy:
        raise _refuse(
            f"A {WORDS.get(busy, busy)} of pre-authorisation {hold_id} is already under way; "
            "wait for its answer (history shows it)."
        )
    currency = hold.amount.currency
    for name, value in (("amount", amount), ("tip", tip)):
        if value is not None and value.currency != currency:
            raise _refuse(
                f"Pre-authorisation {hold_id} is in {currency.code}: the {name} must be too, "
                f"not {value.currency.code}."
            )
    if tip is not None and tip.minor < 0:
        raise _refuse("A tip cannot be negative.")
    if tip is not None and kind != "capture":
        raise _refuse("Only a capture carries a tip.")
    if kind == "preauth_cancel":
        return HoldAction(kind, hold, held_now(hold), reference=reference)
    if kind == "increment":
        if amount is None or amount.minor <= 0:
            raise _refuse("An increment must be more than zero.")
        return HoldAction(kind, hold, amount, reference=reference)
    base = held_now(hold) if amount is None else amount
    if base.minor <= 0:
        raise _refuse("A capture must be more than zero.")
    total = base + tip if tip is not None else base
    return HoldAction(kind, hold, total, tip, reference)


def _repeated(
    journal: JournalReads,
    kind: HoldKind,
    hold: Transaction,
    amount: Amount | None,
    tip: Amount | None,
    reference: str,
) -> Transaction | None:
    """The row this request repeats (hold_repeats.py), the totals compared as a new request
    would be sent: an increment's amount, a capture's amount (default all held) plus tip."""
    if kind == "increment":
        total = amount
    elif kind == "capture":
        base = held_now(hold) if amount is None else amount
        total = base + tip if tip is not None and tip.currency == base.currency else base
    else:
        total = None
    return repeated_row(journal, kind, hold.id, reference, total, tip)


class PreauthRun:
    """Runs pre-authorisations over a `Core` (the card read and sent like a sale)."""

    def __init__(
        self,
        core: Core,
        settlement: Settlement,
        limits: Limits,
        fingerprint: Callable[[str], str],
    ) -> None:
        self.core = core
        self.settlement = settlement
        self.limits = limits
        self.fingerprint = fingerprint

    async def run(
        self,
        request: SaleRequest,
        capture: CardCapture | None,
        progress: ProgressCallback,
        cancel: asyncio.Event,
        tracker: Tracker,
    ) -> Outcome:
        """The pre-authorisation's end; raises only for a bug or a journal failure."""
        core, amount = self.core, request.amount
        refusal = check_sale(self.limits, amount, "nfc")
        if refusal is not None:
            result = Result.ERROR if refusal.rule in ("amount", "currency") else Result.DECLINED
            code = "" if result is Result.ERROR else refusal.code
            return finish(
                progress, Outcome("", result, amount, "nfc", code, message=refusal.reason)
            )
        txn_id = core.bank.new_id()
        try:
            owner = core.owner.acquire()
            await asyncio.to_thread(
                core.journal.create,
                txn_id,
                "preauth",
                amount,
                entry="nfc",
                reference=request.reference,
                fields={"owner": owner, "held": amount.minor},
                reserve_bytes=RESERVE_BYTES,
            )
        except JournalUnavailable as error:
            return finish(
                progress, Outcome("", Result.ERROR, amount, "nfc", message=error.sentence)
            )
        tracker.txn_id = txn_id
        started = time.perf_counter()
        try:
            timeout = request.timeout_s or core.settings.nfc.tap_timeout_s
            card = await read_card(capture, txn_id, request, timeout, progress, cancel)
        except Stopped as stop:
            event = Event.DECLINE if stop.result is Result.DECLINED else Event.CANCEL
            fields = {"message": stop.sentence}
            if event is Event.DECLINE:
                fields.update(code=stop.code, rule="card")
            await asyncio.to_thread(core.journal.apply, Change(txn_id, event, fields))
            return finish(
                progress,
                Outcome(txn_id, stop.result, amount, "nfc", stop.code, message=stop.sentence),
            )
        finally:
            tracker.device_s = time.perf_counter() - started
        subject, read = card_read(
            txn_id, amount, "nfc", card, self.fingerprint, progress, kind="pre-authorisation"
        )
        objection = check_card(self.limits, amount, cdcvm=card.cdcvm)
        if objection is not None:
            fields = {"code": objection.code, "rule": objection.rule, "message": objection.reason}
            await asyncio.to_thread(core.journal.apply, read, Change(txn_id, Event.DECLINE, fields))
            return finish(
                progress, subject.outcome(Result.DECLINED, objection.code, "", objection.reason)
            )
        operation = Operation("preauth", txn_id, amount, "nfc", card=card)
        try:
            settled = await self.settlement.send(
                "preauth",
                operation,
                subject,
                progress,
                announce="Asking the bank to hold the amount…",
                before=(read,),
                gate=lambda: pass_point_of_no_return(cancel),
            )
        except CancelledBeforeSend:
            return await self.settlement.cancelled_before_send(
                subject,
                progress,
                "Cancelled by the operator before anything was sent; nothing is held.",
                read,
            )
        tracker.bank_s = settled.bank_s
        assert settled.outcome is not None, "every preauth row ends the operation"
        return settled.outcome


async def run_hold_action(
    core: Core,
    settlement: Settlement,
    action: HoldAction,
    progress: ProgressCallback,
    tracker: Tracker,
) -> Outcome:
    """Journal the increment, capture or cancel, send it and settle it (raises only for a bug
    or a journal failure, which the engine turns into an outcome)."""
    journal, bank, hold = core.journal, core.bank, action.hold
    kind, amount = action.kind, action.amount
    wait_s = core.settings.gateway.timeout_s + 2.0
    if action.repeat_of is not None:
        return await answer_repeat(journal, action.repeat_of.id, progress, wait_s)
    owner = core.owner.acquire()
    txn_id = bank.new_id()

    def still_allowed(reads: Reader) -> None:
        """The check again inside the commit that creates the row (another door or process
        may have captured or cancelled this hold since, or a concurrent retry of this request
        created its row first: `Repeated`, nothing written)."""
        again = check_hold(
            reads,
            kind,
            hold.id,
            None if kind == "preauth_cancel" else action.requested,
            action.tip,
            action.reference,
        )
        if again.repeat_of is not None:
            raise Repeated(again.repeat_of)

    try:
        await asyncio.to_thread(
            journal.create,
            txn_id,
            kind,
            amount,
            entry=hold.entry,
            reference=action.reference,
            ref=hold.id,
            tip=action.tip,
            fields={
                "masked_pan": hold.masked_pan,
                "scheme": hold.scheme,
                "aid": hold.aid,
                "owner": owner,
            },
            reserve_bytes=64 * 1024,
            guard=still_allowed,
        )
    except (HoldNotAllowed, UnknownTransaction) as refusal:
        outcome = Outcome("", Result.ERROR, amount, hold.entry, message=refusal.sentence)
        return finish(progress, outcome)
    except Repeated as repeated:
        return await answer_repeat(journal, repeated.row.id, progress, wait_s)
    tracker.txn_id = txn_id
    words = WORDS[kind]
    subject = Subject(
        txn_id, amount, hold.entry, hold.masked_pan, hold.scheme, hold.aid, words, hold.id
    )
    operation = Operation(kind, txn_id, amount, ref=hold.id, tip=action.tip)
    if kind == "increment":
        return await _increment(core, settlement, operation, subject, progress)
    return await _queued(core, operation, subject, progress)


async def _increment(
    core: Core,
    settlement: Settlement,
    operation: Operation,
    subject: Subject,
    progress: ProgressCallback,
) -> Outcome:
    """Online only, like a refund; an expired hold is marked expired after the answer."""
    journal = core.journal

    def moves_hold() -> tuple[Change, ...]:
        return hold_moves(journal, journal.get(subject.txn_id), "approved")

    settled = await settlement.send(
        "increment",
        operation,
        subject,
        progress,
        announce="Asking the bank to raise the hold…",
        moves_ref=moves_hold,
    )
    if settled.reply is not None and settled.reply.result == "expired":
        txn = await asyncio.to_thread(journal.get, subject.txn_id)
        await asyncio.to_thread(journal.apply, *hold_moves(journal, txn, "expired"))
    assert settled.outcome is not None, "every increment row ends the operation"
    return settled.outcome


async def _queued(
    core: Core, operation: Operation, subject: Subject, progress: ProgressCallback
) -> Outcome:
    """Commit the capture or cancel to the queue (same id for every re-send), then send it at
    once; unanswered, it stays queued and the forwarder keeps sending the same bytes."""
    txn = await queue_and_send(
        core,
        operation,
        subject,
        progress,
        change=Change(subject.txn_id, Event.SUBMIT),
        announce=f"Sending the {subject.kind} to the bank…",
    )
    return await queued_outcome(
        core,
        subject,
        txn,
        progress,
        waiting=f"The bank did not answer yet: the {subject.kind} of {subject.amount} is stored "
        "and is sent again (same message) until the bank answers; history shows the result.",
    )
