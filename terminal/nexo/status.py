"""What became of a request the POS asks about: `TransactionStatusRequest`, and a ServiceID sent
again after its HTTP request was gone.

A payment this process is running answers "InProgress"; one that ended here has its stored
answer. One that ran in an earlier process (posterm restarted) is looked up in the journal: by
the sale id noted when it was known, else by the till's TransactionID from the stored request
(the reference the payment was started under), so a payment killed before its journal row was
written is told apart from one still to be settled: with no row, nothing was charged and the
payment never began (`NOT_STARTED`). The rebuilt answer echoes the original SaleData
(TransactionID and TimeStamp) from the stored request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

from terminal.ecr.payments import by_reference
from terminal.errors import PostermError
from terminal.money import Amount
from terminal.nexo import answers
from terminal.nexo.errors import MessageFormat, NexoRefusal
from terminal.nexo.messages import (
    Header,
    PaymentCall,
    Request,
    parse_payment,
    parse_reference,
    parse_request,
)
from terminal.nexo.reservations import Reservations, is_reservation, parse_reservation
from terminal.nexo.store import Service, ServiceStore
from terminal.nexo.wire import dumps, loads
from terminal.payment.api import Outcome, PaymentEngine, Result, TransactionView
from terminal.settings import Settings

NOT_STARTED: Final = b""
"""`answer_of`: the payment's process ended before its journal row existed; nothing charged."""

PAYMENT_TYPES = ("sale", "refund", "preauth")
"""Journal types a nexo PaymentRequest starts (Normal, Refund, FirstReservation)."""

RESULTS = {
    "approved": Result.APPROVED,
    "approved_offline": Result.APPROVED_OFFLINE,
    "declined": Result.DECLINED,
    "cancelled": Result.CANCELLED,
    "error": Result.ERROR,
}


def outcome_of(view: TransactionView) -> Outcome | None:
    """The outcome a journal row stands for, or None while it is not final."""
    result = RESULTS.get(str(view.result))
    if result is None:
        return None
    approved: Amount | None = None
    remaining: Amount | None = None
    if view.requested is not None:  # partially approved: `amount` is what the card paid
        approved, remaining = view.amount, view.requested - view.amount
    return Outcome(
        view.id,
        result,
        view.requested or view.amount,
        view.entry,
        code=view.code,
        auth_code=view.auth_code,
        masked_pan=view.masked_pan,
        message=view.message,
        scheme=view.scheme,
        aid=view.aid,
        approved_amount=approved,
        remaining_amount=remaining,
    )


class StatusDesk:
    """Answers what the POS asks about requests the door recorded."""

    def __init__(
        self,
        settings: Settings,
        engine: PaymentEngine,
        store: ServiceStore,
        reservations: Reservations,
        poi_id: str,
        busy: Callable[[tuple[str, str]], bool],
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.store = store
        self.reservations = reservations
        self.poi_id = poi_id
        self.busy = busy
        """True while (SaleID, ServiceID) is being claimed or run by this process."""
        self.payments_with = by_reference(engine, PAYMENT_TYPES)

    async def status(self, request: Request) -> dict[str, Any]:
        """The body of a `TransactionStatusResponse`."""
        header = request.header
        reference = parse_reference(request.body, "TransactionStatusRequest", optional=True)
        if reference is None or not reference.service_id:
            sale_id = reference.sale_id if reference and reference.sale_id else header.sale_id
            found = await asyncio.to_thread(self.store.last_payment, sale_id)
        else:
            sale_id = reference.sale_id or header.sale_id
            found = await asyncio.to_thread(self.store.get, sale_id, reference.service_id)
        echo: dict[str, Any] = {}
        if found is not None:
            echo = {
                "MessageReference": {
                    "MessageCategory": found.category,
                    "ServiceID": found.service_id,
                    "SaleID": found.sale_id,
                }
            }
        if found is None or found.category not in ("Payment", "Reversal"):
            return {
                "Response": answers.failure("NotFound", "No such payment in the last 48 hours."),
                **echo,
            }
        if self.busy((found.sale_id, found.service_id)):
            return {
                "Response": answers.failure("InProgress", "The payment is still running."),
                **echo,
            }
        response = found.response or await self.answer_of(found)
        if response == NOT_STARTED:
            return {
                "Response": answers.failure(
                    "NotFound",
                    "posterm restarted before this payment began; nothing was charged. "
                    "Start the payment again.",
                ),
                **echo,
            }
        if response is None:
            return {
                "Response": answers.failure("InProgress", "The payment is still running."),
                **echo,
            }
        original = loads(response)["SaleToPOIResponse"]
        body_key = f"{found.category}Response"
        return {
            "Response": answers.success(),
            **echo,
            "RepeatedMessageResponse": {
                "MessageHeader": original["MessageHeader"],
                "RepeatedResponseMessageBody": {body_key: original.get(body_key, {})},
            },
        }

    async def answer_of(self, found: Service) -> bytes | None:
        """The answer of a payment this process did not see end (posterm restarted while it
        ran), built from its journal row and stored; None while the row is not final or cannot
        be read (or the request is no payment), `NOT_STARTED` when no row was ever written."""
        if found.category != "Payment":
            return None
        call, starts_row = self._call_of(found)
        try:
            view: TransactionView | None = None
            if found.transaction_id:
                view = await asyncio.to_thread(self.engine.transaction, found.transaction_id)
            elif call is not None and starts_row:
                view = await asyncio.to_thread(self._started_after, found, call)
            else:  # an UpdateReservation or Completion killed before its row was noted
                return None
        except PostermError:
            return None
        if view is None:
            return NOT_STARTED
        outcome = outcome_of(view)
        if outcome is None:
            return None
        header = Header("3.0", "Service", "Payment", found.service_id, found.sale_id, self.poi_id)
        if call is None:  # a row stored before requests were kept
            call = PaymentCall(view.reference, "", "", view.amount, view.tip, False)
        respond = await self.reservations.responder_for(view)
        answer = dumps(answers.document(header, respond(call, outcome, view, self.settings)))
        await asyncio.to_thread(self.store.answer, found.sale_id, found.service_id, answer, view.id)
        return answer

    def _call_of(self, found: Service) -> tuple[PaymentCall | None, bool]:
        """The payment as the POS asked for it, from the stored request, and whether it starts
        a journal row of its own under the till's TransactionID (a sale, refund or hold; not a
        hold's increment or completion, which act on the hold)."""
        if not found.request:
            return None, False
        try:
            body = parse_request(loads(found.request)).body
            if is_reservation(body):
                reservation = parse_reservation(body, self.settings.currency)
                return reservation.call, not reservation.original_id
            return parse_payment(body, self.settings.currency), True
        except (MessageFormat, NexoRefusal):  # e.g. the terminal currency changed since
            return None, False

    def _started_after(self, found: Service, call: PaymentCall) -> TransactionView | None:
        """The newest payment under the till's TransactionID started after the request was
        recorded (a till may reuse a TransactionID on another day)."""
        for view in self.payments_with(call.transaction_id):
            if view.created_at.timestamp() >= found.created_at - 1.0:
                return view
        return None
