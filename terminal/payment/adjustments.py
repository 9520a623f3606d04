"""Refunds, voids and the batch close: operations on sales already made, online only.

A refund or void is checked against the journal first (`check_refund`, `check_void`: unknown
id, refund above what is left, void of a settled or refunded sale, a sale not yet confirmed by
the bank). A refusal raises a `PaymentError` with exit code 2 before anything runs, so nothing
is sent; what passes is an `Adjustment`, the request the engine then runs to an `Outcome`
without raising. An accepted refund or void is journaled like a sale (its own row, id = its
message id, encoded bytes committed before sending), and its approval moves the sale
(refunded amount, `voided`) in the same commit; the settlement table says what each delivery
means.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from terminal.money import Amount
from terminal.payment import reports
from terminal.payment.api import BatchResult, Outcome, ProgressCallback, Result
from terminal.payment.bank import Operation
from terminal.payment.context import Core, Tracker
from terminal.payment.errors import (
    RefundNotAllowed,
    UnknownTransaction,
    VoidNotAllowed,
)
from terminal.payment.forwarder import FlushReport
from terminal.payment.journal import Change, Journal, Reader, Transaction
from terminal.payment.settlement import Settlement, Subject, classify, finish
from terminal.payment.settlement_table import Facts, Then
from terminal.payment.states import REFUNDABLE, VOIDABLE, Event, State

_COUNTED_SALES = frozenset(
    {State.APPROVED, State.PARTIALLY_REFUNDED, State.REFUNDED, State.FORWARDED}
)


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A refund or void the journal allowed: what the engine sends."""

    kind: Literal["refund", "void"]
    sale: Transaction
    amount: Amount


class JournalReads(Protocol):
    """The reads a check needs: the journal itself, or a `Reader` inside a commit."""

    def get(self, txn_id: str) -> Transaction: ...

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any: ...

    @property
    def batch_no(self) -> int: ...


ADJUSTMENT_IN_PROGRESS = ("created", "card_read", "authorising", "unknown", "reversing")
"""States of a refund or void whose outcome is not known yet."""


def _one_at_a_time(
    journal: JournalReads, sale_id: str, error: type[RefundNotAllowed | VoidNotAllowed]
) -> None:
    """Refuse a second refund or void of a sale while one is not finished: their answers would
    move the sale twice (the assessor's concurrent voids left rows stuck in authorising)."""
    marks = ", ".join("?" * len(ADJUSTMENT_IN_PROGRESS))
    kind = journal.scalar(
        f"SELECT type FROM transactions WHERE ref = ? AND type IN ('refund', 'void') "  # noqa: S608
        f"AND state IN ({marks}) LIMIT 1",
        (sale_id, *ADJUSTMENT_IN_PROGRESS),
    )
    if kind:
        raise error(
            f"A {kind} of sale {sale_id} is already in progress; wait for its answer "
            "(history shows it). Nothing was sent."
        )


def _sale_of(
    journal: JournalReads, sale_id: str, action: str, error: type[Exception]
) -> Transaction:
    sale = journal.get(sale_id)  # UnknownTransaction (exit 2) for an unknown id
    if sale.type != "sale":
        raise error(f"{sale_id} is a {sale.type}, not a sale: only sales can be {action}.")
    return sale


def _why_not(sale: Transaction, action: str) -> str:
    if sale.state is State.APPROVED_OFFLINE:
        return (
            f"Sale {sale.id} was approved offline and has not reached the bank yet; it can be "
            f"{action} once it is forwarded (`posterm saf flush`). Nothing was sent."
        )
    state = sale.state.value.replace("_", " ")
    return f"Sale {sale.id} is {state}: it cannot be {action}. Nothing was sent."


def refund_in_flight(journal: JournalReads, sale_id: str) -> int:
    """Minor units of refunds of this sale that may still be approved (sent, not answered)."""
    value = journal.scalar(
        "SELECT COALESCE(SUM(amount), 0) FROM transactions WHERE type = 'refund' AND ref = ? "
        "AND state IN ('created', 'card_read', 'authorising')",
        (sale_id,),
    )
    return int(value)


def check_refund(journal: JournalReads, sale_id: str, amount: Amount | None) -> Adjustment:
    """A refund of all that is left of a sale, or of `amount` of it; `RefundNotAllowed` or
    `UnknownTransaction` (exit code 2, nothing sent) when the journal says no."""
    sale = _sale_of(journal, sale_id, "refunded", RefundNotAllowed)
    if sale.state not in REFUNDABLE:
        raise RefundNotAllowed(_why_not(sale, "refunded"))
    _one_at_a_time(journal, sale_id, RefundNotAllowed)
    pending = refund_in_flight(journal, sale_id)
    remaining = sale.amount - sale.refunded - Amount.of(pending, sale.amount.currency)
    wanted = remaining if amount is None else amount
    if wanted.currency != sale.amount.currency:
        raise RefundNotAllowed(
            f"Sale {sale_id} was in {sale.amount.currency.code}; a refund must be too. "
            "Nothing was sent."
        )
    if wanted.minor <= 0:
        raise RefundNotAllowed(
            f"Nothing is left to refund on sale {sale_id} ({sale.amount}, "
            f"{sale.refunded} refunded). Nothing was sent."
            if amount is None
            else "A refund must be more than zero. Nothing was sent."
        )
    if wanted > remaining:
        raise RefundNotAllowed(
            f"Refund of {wanted} refused: only {remaining} of sale {sale_id} ({sale.amount}) "
            "is left to refund. Nothing was sent."
        )
    return Adjustment("refund", sale, wanted)


def check_void(journal: JournalReads, sale_id: str) -> Adjustment:
    """A void of a sale not yet settled; `VoidNotAllowed` or `UnknownTransaction` else."""
    sale = _sale_of(journal, sale_id, "voided", VoidNotAllowed)
    if sale.state not in VOIDABLE:
        raise VoidNotAllowed(_why_not(sale, "voided"))
    _one_at_a_time(journal, sale_id, VoidNotAllowed)
    if sale.batch is not None and sale.batch != journal.batch_no:
        raise VoidNotAllowed(
            f"Sale {sale_id} was settled in batch {sale.batch}: it can no longer be voided; "
            "refund it instead. Nothing was sent."
        )
    return Adjustment("void", sale, sale.amount)


async def run_adjustment(
    core: Core,
    settlement: Settlement,
    adjustment: Adjustment,
    progress: ProgressCallback,
    tracker: Tracker,
) -> Outcome:
    """Journal the refund or void, send it and settle it (raises only for a bug or a
    journal failure, which the engine turns into an outcome)."""
    journal, bank, sale = core.journal, core.bank, adjustment.sale
    kind, amount = adjustment.kind, adjustment.amount
    owner = core.owner.acquire()
    txn_id = bank.new_id()
    fields = {
        "masked_pan": sale.masked_pan,
        "scheme": sale.scheme,
        "aid": sale.aid,
        "label": sale.label,
        "owner": owner,
    }

    def still_allowed(reads: Reader) -> None:
        """The check again, inside the commit that creates the row: another door or process
        may have started a refund or void of this sale since (serialised per sale)."""
        if kind == "void":
            check_void(reads, sale.id)
        else:
            check_refund(reads, sale.id, amount)

    try:
        await asyncio.to_thread(
            journal.create,
            txn_id,
            kind,
            amount,
            entry=sale.entry,
            ref=sale.id,
            fields=fields,
            reserve_bytes=64 * 1024,
            guard=still_allowed,
        )
    except (RefundNotAllowed, VoidNotAllowed, UnknownTransaction) as refusal:
        outcome = Outcome("", Result.ERROR, amount, sale.entry, message=refusal.sentence)
        return finish(progress, outcome)
    tracker.txn_id = txn_id
    subject = Subject(
        txn_id,
        amount,
        sale.entry,
        sale.masked_pan,
        sale.scheme,
        sale.aid,
        kind,
        sale.id,
        label=sale.label,
    )

    def moves_sale() -> tuple[Change, ...]:
        if kind == "void":
            return (Change(sale.id, Event.VOID),)
        current = journal.get(sale.id)
        refunded = current.refunded + amount
        event = Event.REFUND_FULL if refunded >= current.amount else Event.REFUND_PART
        return (Change(sale.id, event, {"refunded": refunded.minor}),)

    operation = Operation(kind, txn_id, amount, ref=sale.id)
    settled = await settlement.send(
        kind,
        operation,
        subject,
        progress,
        announce=f"Sending the {kind} to the bank…",
        moves_ref=moves_sale,
    )
    assert settled.outcome is not None, "every refund and void row ends the operation"
    return settled.outcome


def batch_totals(journal: Journal) -> dict[str, Any]:
    """The close_batch totals in the gateway's canonical form (per kind and currency):
    approved sales online and offline minus voided or reversed, and approved captures of
    pre-authorisations (counted as sales); approved refunds."""
    totals: dict[str, dict[str, dict[str, Any]]] = {"sale": {}, "refund": {}}
    for txn in reports.batch_transactions(journal):
        if txn.type == "sale" and txn.state in _COUNTED_SALES:
            kind = "sale"
        elif txn.type == "refund" and txn.state is State.APPROVED:
            kind = "refund"
        elif txn.type == "capture" and txn.state is State.APPROVED:
            kind = "sale"  # a captured pre-authorisation is charged like a sale
        else:
            continue
        code = txn.amount.currency.code
        line = totals[kind].setdefault(code, {"count": 0, "value": 0})
        line["count"] += 1
        line["value"] += txn.amount.minor
    return {
        kind: {
            code: {"count": line["count"], "total": {"value": line["value"], "currency": code}}
            for code, line in by_currency.items()
        }
        for kind, by_currency in totals.items()
    }


async def close_batch(core: Core, report: FlushReport) -> BatchResult:
    """Send the totals once `report` (the queue's flush) left nothing waiting; the bank
    balances and a new batch opens. When the queue was not emptied or the close is not
    answered, the result is "error" with the sentence, and the batch stays open."""
    waiting = report.left - await asyncio.to_thread(reports.parked_count, core.journal)
    if waiting > 0:
        return BatchResult(
            Result.ERROR,
            await asyncio.to_thread(batch_totals, core.journal),
            {},
            f"{waiting} offline sale(s) or reversal(s) could not be forwarded "
            f"({report.last_error or 'gateway unreachable'}); the batch stays open. "
            "Try again when the bank is reachable.",
        )
    journal, bank = core.journal, core.bank
    pending = await asyncio.to_thread(journal.pending_close)
    if pending is not None:  # an earlier close went out without an answer: same id, same bytes
        message_id, totals_text, body = pending
        totals = json.loads(totals_text)
    else:
        totals = await asyncio.to_thread(batch_totals, journal)
        message_id = bank.new_id()
        close = Operation("close_batch", message_id, totals=totals)

        def encode(seq: int, at: datetime) -> bytes:
            return bank.encode(close, seq, at)

        body = await asyncio.to_thread(
            journal.store_close, message_id, json.dumps(totals, sort_keys=True), encode
        )
    delivery = await bank.deliver(message_id, body)
    row, reply, detail = classify("close_batch", delivery)
    if row.then is not Then.DONE or reply is None:  # the table's RETRY rows: result error
        return BatchResult(row.result or Result.ERROR, totals, {}, row.say(Facts(detail=detail)))
    gateway_totals = reply.payload.get("totals", {})
    if not isinstance(gateway_totals, dict):
        gateway_totals = {}
    number = await asyncio.to_thread(
        journal.close_batch, reply.result, json.dumps(gateway_totals, sort_keys=True)
    )
    message = row.say(Facts(reply=reply, batch=number))
    return BatchResult(reply.result, totals, gateway_totals, message)
