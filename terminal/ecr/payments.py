"""Payments started by the till: each runs the engine's sale as a task the till can follow,
long-poll and cancel, and the operator screen can watch (listeners).

Ids are this API's own (UUID4), handed out before the engine has done anything; the journal's
id is `transaction_id` in every answer, and refunds accept either.

A till's `reference` makes a POST idempotent: the journal is asked for sales with exactly that
reference (an indexed lookup over everything it holds, so restarts and busy days do not make
it forget); the in-memory map only spares that lookup for payments of this run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from terminal.ecr.errors import Conflict, NotFound
from terminal.ecr.requests import PaymentRequest
from terminal.payment.api import (
    Outcome,
    PaymentEngine,
    Progress,
    Result,
    SaleRequest,
    Stage,
    TransactionView,
)
from terminal.payment.cancel import CancelToken
from terminal.payment.journal import Journal
from terminal.payment.reports import view

log = logging.getLogger(__name__)

KEEP = 500
"""Finished payments remembered for GET (older ones are answered from the journal)."""

APPROVED = {Result.APPROVED, Result.APPROVED_OFFLINE, "approved", "approved_offline"}

CHARGED = APPROVED | {"pending"}
"""Journal results a reference retry must not charge again (pending: may still be approved)."""

SalesByReference = Callable[[str], list[TransactionView]]
"""Sales with exactly this reference, newest first, from the whole journal."""


def journal_sales(engine: PaymentEngine) -> SalesByReference:
    """The exact-reference lookup of sales for `engine` (see `by_reference`)."""
    return by_reference(engine, ("sale",))


def by_reference(engine: PaymentEngine, types: tuple[str, ...]) -> SalesByReference:
    """The exact-reference lookup of transactions of `types` for `engine`: its journal's index
    (the real engine), else its history filtered to exact matches (an engine that keeps its
    history in memory)."""
    journal = getattr(engine, "journal", None)
    if isinstance(journal, Journal):
        found = journal

        def from_journal(reference: str) -> list[TransactionView]:
            return [view(txn) for txn in found.with_reference(reference, types)]

        return from_journal

    def from_history(reference: str) -> list[TransactionView]:
        return [
            txn
            for txn in engine.history(limit=sys.maxsize, search=reference)
            if txn.type in types and txn.reference == reference
        ]

    return from_history


class PaymentListener(Protocol):
    """Something that follows till payments (the operator screen)."""

    def payment_started(self, payment: EcrPayment) -> None: ...

    def payment_progress(self, payment: EcrPayment, step: Progress) -> None: ...

    def payment_ended(self, payment: EcrPayment, outcome: Outcome) -> None: ...


@dataclass(eq=False)
class EcrPayment:
    id: str
    request: PaymentRequest
    cancel: CancelToken = field(default_factory=CancelToken)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    stage: Stage | None = None
    message: str = ""
    transaction_id: str = ""
    outcome: Outcome | None = None
    task: asyncio.Task[None] | None = None

    @property
    def state(self) -> str:
        """in_progress, cancelling or completed."""
        if self.outcome is not None:
            return "completed"
        if self.cancel.is_set():
            return "cancelling"
        return "in_progress"

    def to_json(self) -> dict[str, Any]:
        """The `posterm pay --json` object (with this API's id) plus state and progress, and the
        card's aid, application label, cryptogram type and CVM."""
        if self.outcome is not None:
            body = self.outcome.to_json()
            body["id"] = self.id
            body["transaction_id"] = self.outcome.id
        else:
            body = {
                "id": self.id,
                "result": None,
                "code": "",
                "auth_code": "",
                "amount": self.request.amount.to_json(),
                "entry": self.request.method.protocol_entry,
                "masked_pan": "",
                "message": self.message,
                "transaction_id": self.transaction_id,
            }
        # What a till needs to print a scheme-compliant slip of its own ("" until a card is read).
        outcome = self.outcome
        body["aid"] = outcome.aid if outcome else ""
        body["label"] = outcome.label if outcome else ""
        body["cryptogram_type"] = outcome.cryptogram_type if outcome else ""
        body["cvm"] = outcome.cvm if outcome else ""
        body["state"] = self.state
        body["stage"] = self.stage.value if self.stage else None
        body["reference"] = self.request.reference
        body["method"] = self.request.method.value
        return body


class EcrPayments:
    """The till's payments; one at a time, since there is one reader and one customer."""

    def __init__(
        self,
        engine: PaymentEngine,
        *,
        busy: Callable[[], bool] | None = None,
        sales_by_reference: SalesByReference | None = None,
    ) -> None:
        self.engine = engine
        self.busy = busy or (lambda: False)
        self.sales_by_reference = sales_by_reference or journal_sales(engine)
        self._payments: OrderedDict[str, EcrPayment] = OrderedDict()
        self._by_reference: dict[str, str] = {}
        self.listeners: list[PaymentListener] = []

    @property
    def running(self) -> EcrPayment | None:
        for payment in reversed(self._payments.values()):
            if payment.outcome is None:
                return payment
        return None

    def start(self, request: PaymentRequest) -> tuple[EcrPayment | str, bool]:
        """Start a payment: (payment, True). A till retrying its POST with a reference it used
        gets the earlier payment back, (payment, False), while that one runs or if it was
        approved, so nothing is charged twice; a declined or cancelled one may be retried. After
        a restart an approved sale with that reference is found in the journal: (its journal
        id, False)."""
        if request.reference and not request.refund:  # a refund is never a sale's retry
            earlier = self._earlier(request)
            if earlier is not None:
                return earlier, False
        running = self.running
        if running is not None:
            raise Conflict(
                f"Another payment is in progress (id {running.id}); wait for it or cancel it.",
                "busy",
            )
        if self.busy():
            raise Conflict(
                "The operator is taking a payment at the terminal; try again when it has ended.",
                "busy",
            )
        payment = EcrPayment(str(uuid.uuid4()), request)
        self._payments[payment.id] = payment
        if request.reference:
            self._by_reference[request.reference] = payment.id
        self._forget_old()
        for listener in self.listeners:
            _safely(listener.payment_started, payment)
        payment.task = asyncio.ensure_future(self._run(payment))
        return payment, True

    def _earlier(self, request: PaymentRequest) -> EcrPayment | str | None:
        """The payment this reference already stands for, if it must not be charged again.

        Raises `Conflict` when that payment was for another amount or method, and lets the
        journal's `PostermError` through: a retry the terminal cannot check is not charged.
        """
        payment = self._payments.get(self._by_reference.get(request.reference, ""))
        if payment is not None:
            if payment.outcome is None or payment.outcome.result in APPROVED:
                if payment.request != request:
                    raise _reused(request.reference, payment.id)
                return payment
            # declined or cancelled here: the till may try again, unless the journal says
            # this reference was charged by an earlier run
        for sale in self.sales_by_reference(request.reference):
            if sale.result not in CHARGED:
                continue
            asked = sale.requested or sale.amount  # a partial approval kept what was asked
            if asked != request.amount or sale.entry != request.method.protocol_entry:
                raise _reused(request.reference, sale.id)
            return sale.id
        return None

    async def _run(self, payment: EcrPayment) -> None:
        request = payment.request

        def progress(step: Progress) -> None:
            payment.stage = step.stage
            payment.message = step.message
            if step.transaction_id:
                payment.transaction_id = step.transaction_id
            for listener in self.listeners:
                _safely(listener.payment_progress, payment, step)

        sale = SaleRequest(
            request.amount,
            request.method,
            request.reference,
            tip=request.tip,
            allow_partial=request.allow_partial,
            split_of=request.split_of,
        )
        if request.refund:
            outcome = await self.engine.card_refund(sale, progress, payment.cancel)
        else:
            outcome = await self.engine.sale(sale, progress, payment.cancel)
        payment.outcome = outcome
        payment.done.set()
        for listener in self.listeners:
            _safely(listener.payment_ended, payment, outcome)

    def get(self, payment_id: str) -> EcrPayment:
        payment = self._payments.get(payment_id)
        if payment is None:
            raise NotFound(f"No payment {payment_id} (the till's id from POST /ecr/v1/payments).")
        return payment

    async def wait(self, payment: EcrPayment, seconds: float) -> None:
        if seconds > 0 and payment.outcome is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(payment.done.wait(), seconds)

    def cancel(self, payment: EcrPayment) -> None:
        """Cancel now or refuse at once: an accepted cancel (202) means the customer is not
        charged; once the request is with the bank the answer is 409 with the state."""
        if payment.outcome is not None:
            raise Conflict("The payment has already ended.", "already_completed")
        answer = payment.cancel.request()
        if not answer.accepted:
            raise Conflict(answer.sentence, "not_cancellable")

    def transaction_id(self, payment_or_transaction_id: str) -> str:
        """The journal id for a till payment id, or the argument itself (a journal id)."""
        payment = self._payments.get(payment_or_transaction_id)
        if payment is None:
            return payment_or_transaction_id
        if payment.outcome is None:
            raise Conflict("The payment has not ended yet.", "in_progress")
        if not payment.outcome.id:
            raise Conflict("The payment ended without a transaction to act on.", "no_transaction")
        return payment.outcome.id

    async def close(self) -> None:
        """Cancel what can be cancelled and let running sales reach their end."""
        for payment in list(self._payments.values()):
            if payment.outcome is None:
                payment.cancel.request()  # refused once with the bank: it runs to its end
        tasks = [p.task for p in self._payments.values() if p.task and not p.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=60)

    def _forget_old(self) -> None:
        while len(self._payments) > KEEP:
            oldest_id, oldest = next(iter(self._payments.items()))
            if oldest.outcome is None:
                break
            del self._payments[oldest_id]
            if oldest.request.reference:
                self._by_reference.pop(oldest.request.reference, None)


def _reused(reference: str, payment_id: str) -> Conflict:
    return Conflict(
        f'Reference "{reference}" was used for another payment (id {payment_id}); '
        "use a new reference.",
        "reference_conflict",
    )


def _safely(call: Callable[..., None], *args: Any) -> None:
    try:
        call(*args)
    except Exception:
        log.exception("ECR listener failed")
