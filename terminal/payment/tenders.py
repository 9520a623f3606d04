"""Split tender: one sale paid by several tenders (cards, QR codes, cash).

A sale that allowed partial approval and got one keeps what was asked in `requested` and what
the card paid in `amount`. Every further tender is its own journal row whose `ref` is that
first sale's id: a card or QR tender is a sale like any other (same engine, same settlement
table, same bank messages), a cash tender is a `cash` row with no bank message. The till and
the screen see the first sale with its tenders (`summary`); batch totals count the card and QR
tenders as the sales they are, and never cash, so the terminal's totals and the bank's ledger
agree.

Refusals (`TenderNotAllowed`, exit code 2 / HTTP 400) are found before anything is sent: an
unknown sale, one that was not partially approved, an amount above what is left, another
currency. The check runs again inside the commit that creates the tender's row, so two doors
cannot both pay the last part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from terminal.money import Amount
from terminal.payment.api import Outcome, Result, SaleRequest
from terminal.payment.bank import Reply
from terminal.payment.errors import PaymentError
from terminal.payment.journal import Change, Journal, Reader, Transaction
from terminal.payment.states import Event, State

PAID = ("approved", "approved_offline", "forwarded", "partially_refunded", "refunded")
"""Tender states whose money counts towards the sale."""

UNDER_WAY = ("created", "card_read", "authorising", "unknown")
"""Tender states that may still pay: what they ask for is not left for another tender."""

TENDER_TYPES = ("sale", "cash")


class TenderNotAllowed(PaymentError):
    """A further tender the journal refuses (nothing is sent)."""

    exit_code = 2


class Reads(Protocol):
    """The journal, or a `Reader` inside a commit."""

    def get(self, txn_id: str) -> Transaction: ...

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any: ...


def first_tender(reads: Reads, sale_id: str) -> Transaction:
    """The sale that started a split payment (given its id or any of its tenders' ids)."""
    sale = reads.get(sale_id)  # UnknownTransaction (exit 2) for an unknown id
    if sale.type in TENDER_TYPES and sale.ref:
        sale = reads.get(sale.ref)
    return sale


def committed(reads: Reads, first: Transaction) -> int:
    """Minor units paid or under way over all tenders of `first` (itself included)."""
    marks = ", ".join("?" * (len(PAID) + len(UNDER_WAY)))
    value = reads.scalar(
        "SELECT COALESCE(SUM(amount), 0) FROM transactions WHERE (id = ? OR ref = ?) "  # noqa: S608
        f"AND type IN ('sale', 'cash') AND state IN ({marks})",
        (first.id, first.id, *PAID, *UNDER_WAY),
    )
    return int(value)


def remaining(reads: Reads, first: Transaction) -> Amount:
    """What is left to pay of a split sale (zero for a sale paid whole)."""
    if first.requested is None:
        return Amount.of(0, first.amount.currency)
    left = first.requested.minor - committed(reads, first)
    return Amount.of(max(0, left), first.amount.currency)


def check_tender(reads: Reads, sale_id: str, amount: Amount) -> Transaction:
    """The first sale a further tender of `amount` pays into; `TenderNotAllowed` else."""
    first = reads.get(sale_id)
    if first.type != "sale" or first.ref:
        raise TenderNotAllowed(
            f"{sale_id} is not the first payment of a split sale; give the id of the sale "
            "that was partially approved. Nothing was sent."
        )
    if first.requested is None:
        raise TenderNotAllowed(
            f"Sale {sale_id} was not partially approved: there is nothing left to pay on it. "
            "Nothing was sent."
        )
    if first.state.value not in PAID:
        state = first.state.value.replace("_", " ")
        raise TenderNotAllowed(
            f"Sale {sale_id} is {state}: no further payment can be added to it. Nothing was sent."
        )
    if amount.currency != first.amount.currency:
        raise TenderNotAllowed(
            f"Sale {sale_id} is in {first.amount.currency.code}; the next payment must be too. "
            "Nothing was sent."
        )
    left = remaining(reads, first)
    if amount.minor <= 0:
        raise TenderNotAllowed("A payment must be more than zero. Nothing was sent.")
    if amount > left:
        raise TenderNotAllowed(
            f"Only {left} is left to pay on sale {sale_id}; {amount} is too much. Nothing was sent."
        )
    return first


def tender_guard(request: SaleRequest) -> Callable[[Reader], object] | None:
    """The check a further tender's row is created under (None for an ordinary sale)."""
    if not request.split_of:
        return None
    split_of, amount = request.split_of, request.amount

    def guard(reads: Reader) -> object:
        return check_tender(reads, split_of, amount)

    return guard


def with_tender_amounts(
    journal: Journal, outcome: Outcome, reply: Reply | None, request: SaleRequest
) -> Outcome:
    """`outcome` with `approved_amount` and `remaining_amount` of the whole split sale."""
    zero = Amount.of(0, outcome.amount.currency)
    approved_now = outcome.result in (Result.APPROVED, Result.APPROVED_OFFLINE)
    paid = zero
    if approved_now:
        partial = reply.approved_amount if reply is not None and reply.result == "partial" else None
        paid = partial if partial is not None else outcome.amount
    first_id = request.split_of or outcome.id
    if not first_id:
        return replace(outcome, approved_amount=paid, remaining_amount=outcome.amount - paid)
    first = first_tender(journal, first_id)
    if first.requested is None:  # paid whole at once (or not at all)
        left = zero if approved_now else outcome.amount
    else:
        left = remaining(journal, first)
    return replace(outcome, approved_amount=paid, remaining_amount=left)


def record_cash(journal: Journal, new_id: str, sale_id: str, amount: Amount) -> Transaction:
    """A cash tender of a split sale: journaled as paid, no bank message."""
    journal.create(
        new_id,
        "cash",
        amount,
        entry="cash",
        ref=sale_id,
        reserve_bytes=64 * 1024,
        guard=lambda reads: check_tender(reads, sale_id, amount),
    )
    journal.apply(Change(new_id, Event.CASH, {"message": f"Cash {amount} received."}))
    return journal.get(new_id)


def tenders_of(journal: Journal, first: Transaction) -> list[Transaction]:
    """The first sale and every further tender, oldest first."""
    rows = journal.find("ref = ? AND type IN ('sale', 'cash')", (first.id,))
    return [first, *reversed(rows)]


def summary(journal: Journal, sale_id: str) -> dict[str, Any] | None:
    """The split sale as the till sees it (None for a sale paid whole at once)."""
    first = first_tender(journal, sale_id)
    if first.requested is None:
        return None
    tenders = tenders_of(journal, first)
    paid = sum(t.amount.minor for t in tenders if t.state.value in PAID)
    currency = first.amount.currency
    return {
        "requested": first.requested.to_json(),
        "paid": Amount.of(paid, currency).to_json(),
        "remaining": remaining(journal, first).to_json(),
        "tenders": [
            {
                "transaction_id": t.id,
                "method": "cash" if t.type == "cash" else t.entry,
                "amount": t.amount.to_json(),
                "state": t.state.value,
                "masked_pan": t.masked_pan,
                "auth_code": t.auth_code,
            }
            for t in tenders
        ],
    }


def voidable_tenders(journal: Journal, sale_id: str) -> list[Transaction]:
    """The tenders a whole void must undo, newest first (cash and cards not yet settled)."""
    first = first_tender(journal, sale_id)
    return [t for t in reversed(tenders_of(journal, first)) if t.state is not State.VOIDED]
