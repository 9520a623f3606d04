"""Tip adjust: add or change the tip of an approved card sale before its batch closes.

Restaurants tap the card for the bill and write the tip on the slip; the tip is added later.
`check_tip` refuses before anything is sent (`TipNotAllowed` / `UnknownTransaction`, exit code
2, HTTP 400): tip adjust switched off (`[ui] tip_adjust`), a negative tip, one above
`[ui] tip_max_percent` of the sale before tip, another currency, a sale that is not an approved
card sale of the open batch, or one approved offline whose advice has not gone yet.

An accepted adjust is journaled like a refund (its own `tip_adjust` row, id = its message id,
bytes committed before sending) and sent as protocol v1 `tip_adjust` (ref = the sale, amount =
the new total, tip = the new tip); its approval moves the sale's amount and tip in the same
commit, so the batch totals carry the adjusted total, as the bank's ledger does.

A link that carries the adjust as an advice (`Bank.advises`: ISO 8583's 0220) gets it through
the store-and-forward queue instead, like an offline sale's adjust: the sale moves when the
advice is queued, the advice is re-sent until answered, and a decline moves the sale back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime

from terminal.money import Amount
from terminal.payment.adjustments import JournalReads
from terminal.payment.api import Outcome, ProgressCallback, Result
from terminal.payment.bank import Operation
from terminal.payment.context import Core, Tracker
from terminal.payment.errors import PaymentError, UnknownTransaction
from terminal.payment.journal import Change, Journal, Reader, Transaction
from terminal.payment.queued_send import queue_and_send, queued_outcome
from terminal.payment.settlement import Settlement, Subject, finish
from terminal.payment.states import Event, State
from terminal.settings.sections import UiSection

ADJUSTABLE = frozenset({State.APPROVED, State.FORWARDED, State.APPROVED_OFFLINE})

IN_PROGRESS = ("created", "card_read", "authorising", "unknown", "reversing", "submitted")
"""States of a refund, void or tip adjust of the sale that is not answered yet (`submitted`: a
tip adjust queued as an advice, re-sent until the host answers)."""


class TipNotAllowed(PaymentError):
    """A tip adjust the settings or the journal refuse (nothing is sent)."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class TipAdjust:
    """A tip adjust the journal allowed: the sale, the new tip and the new total."""

    sale: Transaction
    tip: Amount
    total: Amount


def base_of(sale: Transaction) -> Amount:
    """The sale before any tip."""
    return sale.amount - sale.tip if sale.tip is not None else sale.amount


def check_tip(journal: JournalReads, ui: UiSection, sale_id: str, tip: Amount) -> TipAdjust:
    """The adjust of `sale_id` to `tip`, or `TipNotAllowed` / `UnknownTransaction`."""
    if not ui.tip_adjust:
        raise TipNotAllowed(
            "Tip adjust is switched off on this terminal ([ui] tip_adjust = false). "
            "Nothing was sent."
        )
    if tip.is_negative:
        raise TipNotAllowed(f"A tip cannot be negative ({tip}). Nothing was sent.")
    sale = journal.get(sale_id)
    if sale.type != "sale" or sale.entry != "nfc":
        what = "a cash payment" if sale.type == "cash" else f"a {sale.type}"
        if sale.type == "sale":
            what = "a QR payment"
        raise TipNotAllowed(
            f"{sale_id} is {what}: only card sales take a tip adjust. Nothing was sent."
        )
    if tip.currency != sale.amount.currency:
        raise TipNotAllowed(
            f"Sale {sale_id} was in {sale.amount.currency.code}; the tip must be too. "
            "Nothing was sent."
        )
    if sale.state not in ADJUSTABLE:
        state = sale.state.value.replace("_", " ")
        raise TipNotAllowed(
            f"Sale {sale_id} is {state}: its tip cannot be adjusted. Nothing was sent."
        )
    if sale.requested is not None or sale.ref:
        raise TipNotAllowed(
            f"Sale {sale_id} is part of a split payment: add the tip as a further payment "
            "instead. Nothing was sent."
        )
    if sale.batch is not None and sale.batch != journal.batch_no:
        raise TipNotAllowed(
            f"The batch of sale {sale_id} is closed (batch {sale.batch}): its tip can no "
            "longer be adjusted. Nothing was sent."
        )
    base = base_of(sale)
    limit = Amount.of(base.minor * ui.tip_max_percent // 100, base.currency)
    if tip > limit:
        raise TipNotAllowed(
            f"A tip of {tip} is above the maximum of {ui.tip_max_percent} % of {base} "
            f"({limit}). Nothing was sent."
        )
    if tip == (sale.tip or Amount.of(0, tip.currency)):
        raise TipNotAllowed(f"The tip of sale {sale_id} is already {tip}. Nothing was sent.")
    marks = ", ".join("?" * len(IN_PROGRESS))
    busy = journal.scalar(
        "SELECT type FROM transactions WHERE ref = ? AND type IN ('refund', 'void', "  # noqa: S608
        f"'tip_adjust') AND state IN ({marks}) LIMIT 1",
        (sale_id, *IN_PROGRESS),
    )
    if busy:
        raise TipNotAllowed(
            f"A {busy.replace('_', ' ')} of sale {sale_id} is already in progress; wait for "
            "its answer (history shows it). Nothing was sent."
        )
    return TipAdjust(sale, tip, base + tip)


async def run_tip_adjust(
    core: Core,
    settlement: Settlement,
    ui: UiSection,
    adjust: TipAdjust,
    progress: ProgressCallback,
    tracker: Tracker,
) -> Outcome:
    """Journal the adjust, send it and settle it (raises only for a bug or a journal failure,
    which the engine turns into an outcome)."""
    journal, bank, sale = core.journal, core.bank, adjust.sale
    txn_id = bank.new_id()
    fields = {
        "masked_pan": sale.masked_pan,
        "scheme": sale.scheme,
        "aid": sale.aid,
        "owner": core.owner.acquire(),
    }

    def still_allowed(reads: Reader) -> None:
        """The check again inside the commit that creates the row (another door may have
        adjusted, refunded or voided the sale since)."""
        check_tip(reads, ui, sale.id, adjust.tip)

    try:
        await asyncio.to_thread(
            journal.create,
            txn_id,
            "tip_adjust",
            adjust.total,
            entry=sale.entry,
            tip=adjust.tip,
            ref=sale.id,
            fields=fields,
            reserve_bytes=64 * 1024,
            guard=still_allowed,
        )
    except (TipNotAllowed, UnknownTransaction) as refusal:
        outcome = Outcome("", Result.ERROR, adjust.total, sale.entry, message=refusal.sentence)
        return finish(progress, outcome)
    tracker.txn_id = txn_id
    subject = Subject(
        txn_id,
        adjust.total,
        sale.entry,
        sale.masked_pan,
        sale.scheme,
        sale.aid,
        "tip adjust",
        sale.id,
    )

    def moves_sale() -> tuple[Change, ...]:
        new = {"amount": adjust.total.minor, "tip": adjust.tip.minor}
        return (Change(sale.id, Event.TIP_ADJUST, new),)

    operation = Operation("tip_adjust", txn_id, adjust.total, ref=sale.id, tip=adjust.tip)
    if sale.state is State.APPROVED_OFFLINE:
        return await _queue_behind_advice(core, subject, operation, moves_sale(), sale, progress)
    if core.bank.advises("tip_adjust"):
        return await _advise(core, subject, operation, moves_sale(), sale, progress)
    settled = await settlement.send(
        "tip_adjust",
        operation,
        subject,
        progress,
        announce="Sending the tip adjust to the bank…",
        moves_ref=moves_sale,
    )
    assert settled.outcome is not None, "every tip adjust row ends the operation"
    outcome = settled.outcome
    if outcome.result is Result.APPROVED:
        outcome = replace(outcome, approved_amount=adjust.total)
    return outcome


async def _queue_behind_advice(
    core: Core,
    subject: Subject,
    operation: Operation,
    moves: tuple[Change, ...],
    sale: Transaction,
    progress: ProgressCallback,
) -> Outcome:
    """A sale approved offline is adjusted here and now (the journal, the batch totals and
    the receipt carry the new total at once); the adjust is queued behind the sale's advice,
    and the forwarder sends it only once everything before it was answered. If the bank
    declines it, the sale gets its total from before back (`undo_queued_adjust`)."""
    txn_id = subject.txn_id
    message = (
        f"Tip adjusted: sale {sale.id} will be charged {subject.amount}; the adjust goes to the "
        "bank with the offline sale."
    )
    fields = {"message": message, "offline": True, "requested": sale.amount.minor}

    def encode(seq: int, at: datetime) -> bytes:
        return core.bank.encode(operation, seq, at)

    await asyncio.to_thread(
        core.journal.enqueue,
        Change(txn_id, Event.APPROVE_OFFLINE, fields),
        "tip_adjust",
        txn_id,
        subject.amount,
        encode,
        before=(Change(txn_id, Event.SEND), *moves),
    )
    core.forwarder.wake()
    outcome = subject.outcome(Result.APPROVED_OFFLINE, "00", "", message)
    return finish(progress, replace(outcome, approved_amount=subject.amount))


async def _advise(
    core: Core,
    subject: Subject,
    operation: Operation,
    moves: tuple[Change, ...],
    sale: Transaction,
    progress: ProgressCallback,
) -> Outcome:
    """A link that carries the adjust as an advice (ISO 8583: a 0220 the host is told of, not
    asked): the sale takes its new total in the commit that queues the advice (state
    `submitted`), which is then sent at once unless something is queued ahead of it (the queue
    keeps the order). Unanswered, the forwarder re-sends the same message until the host
    answers, never reverses it; a host that declines it gives the sale its total from before
    back (`undo_queued_adjust`), as for an offline sale's adjust."""
    txn = await queue_and_send(
        core,
        operation,
        subject,
        progress,
        change=Change(subject.txn_id, Event.SUBMIT, {"requested": sale.amount.minor}),
        before=moves,
        announce="Sending the tip adjust to the bank…",
        behind_queue=True,
    )
    charged = f"Tip adjusted: sale {sale.id} will be charged {subject.amount}."
    return await queued_outcome(
        core,
        subject,
        txn,
        progress,
        approved=charged,
        waiting=f"{charged} The bank did not answer yet: the adjust is stored and sent again "
        "(same message) until it answers; history shows the result.",
        charged=subject.amount,
    )


def undo_queued_adjust(journal: Journal, adjust_id: str) -> tuple[Change, ...]:
    """The bank declined a queued tip adjust: the sale's total and tip as they were before it
    (`requested` of the adjust's row keeps the old total), if the sale can still take it."""
    adjust = journal.get(adjust_id)
    sale = journal.get(adjust.ref)
    if adjust.requested is None or sale.state not in ADJUSTABLE:
        return ()
    base = adjust.amount - adjust.tip if adjust.tip is not None else adjust.amount
    old_tip = adjust.requested - base
    fields = {"amount": adjust.requested.minor, "tip": old_tip.minor if old_tip.minor else None}
    return (Change(sale.id, Event.TIP_ADJUST, fields),)
