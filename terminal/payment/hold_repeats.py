"""A till's retry of an increment, capture or cancel: found in the journal, answered from it,
never sent to the bank again.

Tills retry: a nexo POS re-sends an UpdateReservation or Completion under a new ServiceID with
the same SaleTransactionID after a timeout, an ECR till repeats its POST after a dropped
connection. Such a request carries a till reference (an idempotency key), kept on the
increment's, capture's or cancel's journal row (`reference`), so a retry finds the row it
repeats, in this run or after a restart:

- the same request (same hold, kind, amount and tip) gets that row's outcome, same id and
  result; while that row still waits for the bank, the retry waits for its answer first;
- the same reference with another amount or tip is refused with a sentence, nothing sent;
- a row that ended with nothing booked and nothing decided by the bank (failed: not sent;
  reversed after no answer; cancelled) frees its reference, as a declined payment frees a
  payment's (terminal/ecr/payments.py): the retry is then a new request.

Without a reference nothing is recognised as a retry: a second capture or cancel of a closed
hold stays refused ("is captured", exit 2), as before.

The lookup runs in `check_hold` before anything is sent and again inside the commit that
creates the new row (`BEGIN IMMEDIATE`), so of two concurrent retries one is sent and the other
answers with its outcome.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Literal

from terminal.money import Amount
from terminal.payment.api import Outcome, ProgressCallback, Result
from terminal.payment.errors import HoldNotAllowed
from terminal.payment.journal import Journal, Transaction
from terminal.payment.settlement import finish
from terminal.payment.states import State

if TYPE_CHECKING:
    from terminal.payment.adjustments import JournalReads

Kind = Literal["increment", "capture", "preauth_cancel"]

FREED = ("failed", "cancelled", "reversed")
"""States of a row whose reference a retry may use again: nothing booked, nothing decided."""

WAITING = frozenset({State.CREATED, State.CARD_READ, State.AUTHORISING, State.SUBMITTED})
"""States of a repeated row whose answer may still come: a retry waits for it a while."""

WORDS = {"increment": "increment", "capture": "capture", "preauth_cancel": "cancel"}

POLL_S = 0.05


class Repeated(Exception):
    """Raised inside the commit that would create the row: `row` is the request it repeats
    (nothing is written)."""

    def __init__(self, row: Transaction) -> None:
        super().__init__(row.id)
        self.row = row


def _minor(amount: Amount | None) -> int:
    return amount.minor if amount is not None else 0


def _row(journal: JournalReads, where: str, params: tuple[str, ...]) -> Transaction | None:
    found = journal.scalar(
        f"SELECT id FROM transactions WHERE {where} ORDER BY created_at DESC, rowid DESC LIMIT 1",  # noqa: S608 - fixed text, values bound
        params,
    )
    return journal.get(str(found)) if found else None


def repeated_row(
    journal: JournalReads,
    kind: Kind,
    hold_id: str,
    reference: str,
    total: Amount | None,
    tip: Amount | None,
) -> Transaction | None:
    """The row this request repeats, or None for a new request. `total` is the increment's
    amount or the capture's amount with its tip (None for a cancel). Raises `HoldNotAllowed`
    when `reference` names a different request."""
    freed = ", ".join("?" * len(FREED))
    if reference:
        earlier = _row(
            journal,
            f"ref = ? AND type = ? AND reference = ? AND state NOT IN ({freed})",
            (hold_id, kind, reference, *FREED),
        )
        if earlier is not None:
            if not _same(earlier, kind, total, tip):
                asked = total if total is not None else earlier.amount
                raise HoldNotAllowed(
                    f'Reference "{reference}" was used for the {WORDS[kind]} {earlier.id} of '
                    f"{earlier.amount} on pre-authorisation {hold_id}, not one of {asked}; "
                    "use a new reference for a new request. Nothing was sent."
                )
            return earlier
    return None


def _same(earlier: Transaction, kind: Kind, total: Amount | None, tip: Amount | None) -> bool:
    if kind == "preauth_cancel":
        return True
    return total == earlier.amount and _minor(tip) == _minor(earlier.tip)


async def answer_repeat(
    journal: Journal, row_id: str, progress: ProgressCallback, wait_s: float
) -> Outcome:
    """The outcome of repeated row `row_id` as its own request got it: waits up to `wait_s`
    while the bank's answer may still come. Nothing is sent."""
    deadline = time.monotonic() + wait_s
    row = await asyncio.to_thread(journal.get, row_id)
    while row.state in WAITING and time.monotonic() < deadline:
        await asyncio.sleep(POLL_S)
        row = await asyncio.to_thread(journal.get, row_id)
    return finish(progress, outcome_of(row))


def outcome_of(row: Transaction) -> Outcome:
    """What an increment's, capture's or cancel's row says its request ended with."""
    words = WORDS.get(row.type, row.type)
    if row.state is State.APPROVED:
        result, message = Result.APPROVED, row.message
    elif row.state is State.DECLINED:
        result, message = Result.DECLINED, row.message
    elif row.state is State.SUBMITTED:
        result = Result.APPROVED_OFFLINE
        message = row.message or (
            f"The bank did not answer yet: the {words} of {row.amount} is stored and is sent "
            "again (same message) until the bank answers; history shows the result."
        )
    elif row.state in WAITING:
        result = Result.ERROR
        message = (
            f"The {words} {row.id} of this request is still waiting for the bank's answer; "
            "nothing more was sent. History shows its result."
        )
    else:  # no answer: it is being reversed (the row's message says so)
        result, message = Result.ERROR, row.message
    return Outcome(
        row.id,
        result,
        row.amount,
        row.entry,
        row.code,
        row.auth_code if result is not Result.ERROR else "",
        row.masked_pan,
        message,
        row.scheme,
        row.aid,
        row.state.value if result is Result.APPROVED_OFFLINE else "",
    )
