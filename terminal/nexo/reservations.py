"""nexo pre-authorisation: what PaymentType FirstReservation, UpdateReservation and Completion,
and a ReversalRequest of a hold, do with the engine's holds.

The same engine calls as `/ecr/v1/preauths` (terminal/ecr/preauths.py), so the journal's checks,
the settlement table and the audit are shared and no payment decision lives here:

- FirstReservation: the card is tapped and the amount held (`Engine.preauth`), run like a sale
  (one at a time with payments, Abort while waiting for the card, SaleTransactionID makes a
  retry idempotent). Never offline: with the bank down the answer is Failure with the sentence.
- UpdateReservation: the hold named by `PaymentTransaction.OriginalPOITransaction` is raised by
  RequestedAmount (an increment); no card.
- Completion: the hold is captured for RequestedAmount plus TipAmount; no card. A capture the
  bank could not be reached for is queued and answered with OnlineFlag false.
- ReversalRequest whose original is a hold: the hold is released (a preauth cancel).

SaleData.SaleTransactionID.TransactionID of an UpdateReservation or Completion is its till
reference (idempotency key): the official clients re-send a request that timed out under a new
ServiceID with the same TransactionID, and the engine answers such a repeat with the first
outcome instead of raising or capturing the hold again; the same TransactionID with another
amount is a Failure NotAllowed and nothing is sent (payment/hold_repeats.py).

A reference the journal refuses (unknown POITransactionID, a captured or released hold, a tip
on anything but a Completion) is a Failure with the sentence, and nothing is sent to the bank.
Every increment, capture and release is audited (door `nexo`), refused ones too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from terminal.ecr.errors import Conflict
from terminal.ecr.payments import EcrPayment, EcrPayments
from terminal.ecr.preauths import EcrPreauths
from terminal.ecr.requests import PaymentRequest
from terminal.errors import PostermError
from terminal.money import Amount, Currency
from terminal.nexo import answers
from terminal.nexo.errors import MessageFormat, NexoRefusal
from terminal.nexo.messages import PaymentCall, parse_payment
from terminal.nexo.wire import decimal_of
from terminal.payment.api import EntryMethod, Outcome, Progress, TransactionView
from terminal.payment.authority import audit_adjustment
from terminal.payment.errors import HoldNotAllowed, UnknownTransaction
from terminal.payment.holds import HoldKind
from terminal.settings import Settings

RESERVATION_TYPES = frozenset({"FirstReservation", "UpdateReservation", "Completion"})
"""PaymentTypes this module answers (the others stay with the door's payment)."""

HOLD_KINDS: dict[str, HoldKind] = {"UpdateReservation": "increment", "Completion": "capture"}

JOURNAL_TYPES = {
    "preauth": "FirstReservation",
    "increment": "UpdateReservation",
    "capture": "Completion",
}
"""The PaymentType a journal row's answer is rebuilt with (after a restart)."""

Responder = Callable[[PaymentCall, Outcome, TransactionView | None, Settings], dict[str, Any]]
"""Builds a PaymentResponse body (`answers.payment_response` and its reservation forms)."""


@dataclass(frozen=True, slots=True)
class ReservationCall:
    payment_type: str
    call: PaymentCall
    """SaleData and amounts, checked exactly as a Normal payment's (amount: tip included)."""
    original_id: str
    """The hold's POITransactionID (UpdateReservation, Completion); "" for FirstReservation."""

    @property
    def requested(self) -> Amount:
        """RequestedAmount alone (without the tip)."""
        tip = self.call.tip.minor if self.call.tip else 0
        return Amount.of(self.call.amount.minor - tip, self.call.amount.currency)


def payment_type_of(body: dict[str, Any]) -> str:
    """`PaymentData.PaymentType` of a PaymentRequest, "" when absent or not text (the door's
    own parsing then says what is wrong)."""
    data = body.get("PaymentData")
    if not isinstance(data, dict):
        return ""
    value = data.get("PaymentType")
    return value if isinstance(value, str) else ""


def is_reservation(body: dict[str, Any]) -> bool:
    return payment_type_of(body) in RESERVATION_TYPES


def parse_reservation(body: dict[str, Any], currency: Currency) -> ReservationCall:
    """A FirstReservation, UpdateReservation or Completion PaymentRequest."""
    payment_type = payment_type_of(body)
    path = "PaymentRequest"
    normal = {**body, "PaymentData": {**body["PaymentData"], "PaymentType": "Normal"}}
    call = parse_payment(normal, currency)
    if call.tip is not None and payment_type != "Completion":
        raise MessageFormat(
            f"{path}.PaymentTransaction.AmountsReq.TipAmount: only a Completion carries a tip "
            f"(this is a {payment_type})."
        )
    original_id = ""
    transaction = body["PaymentTransaction"]
    original = transaction.get("OriginalPOITransaction")
    original_path = f"{path}.PaymentTransaction.OriginalPOITransaction"
    if payment_type == "FirstReservation":
        if original is not None:
            raise MessageFormat(
                f"{original_path}: a FirstReservation opens a new hold and refers to none."
            )
    else:
        poi = original.get("POITransactionID") if isinstance(original, dict) else None
        value = poi.get("TransactionID") if isinstance(poi, dict) else None
        if not isinstance(value, str) or not value:
            raise MessageFormat(
                f"{original_path}.POITransactionID.TransactionID is missing or not text: "
                f"an {payment_type} names the hold (the FirstReservation's POITransactionID)."
            )
        if len(value) > 64:
            raise MessageFormat(
                f"{original_path}.POITransactionID.TransactionID is longer than 64 characters."
            )
        original_id = value
    return ReservationCall(payment_type, call, original_id)


def reservation_response(payment_type: str, held: Amount | None = None) -> Responder:
    """`answers.payment_response` with the PaymentType echoed, and AuthorizedAmount the total
    held now when `held` is given (an UpdateReservation)."""

    def respond(
        call: PaymentCall, outcome: Outcome, view: TransactionView | None, settings: Settings
    ) -> dict[str, Any]:
        body = answers.payment_response(call, outcome, view, settings)
        result = body.get("PaymentResult")
        if isinstance(result, dict):
            result["PaymentType"] = payment_type
            if held is not None and body["Response"]["Result"] == "Success":
                result["AmountsResp"]["AuthorizedAmount"] = decimal_of(held)
        return body

    return respond


def _ignore(step: Progress) -> None:
    return None


class Reservations:
    """The door's pre-authorisations: card taps run through their own `EcrPreauths` (busy
    with the door's and the ECR API's payments), the rest through the engine's hold calls."""

    def __init__(self, settings: Settings, engine: Any, payments: EcrPayments) -> None:
        self.settings = settings
        self.engine = engine
        self.preauths = EcrPreauths(engine, payments)
        previous = payments.busy
        payments.busy = lambda: previous() or self.preauths.running is not None

    @property
    def running(self) -> EcrPayment | None:
        return self.preauths.running

    def start(self, reservation: ReservationCall) -> EcrPayment | str:
        """Start a FirstReservation (the card tap): the running hold, or the journal id of the
        one already held under this SaleTransactionID."""
        call = reservation.call
        wanted = PaymentRequest(call.amount, EntryMethod.NFC, call.transaction_id)
        try:
            started, _new = self.preauths.start(wanted)
        except Conflict as conflict:
            condition = "Busy" if conflict.code == "busy" else "NotAllowed"
            raise NexoRefusal(condition, conflict.sentence) from None
        except PostermError as error:
            raise NexoRefusal("UnavailableService", error.sentence) from None
        return started

    async def is_hold(self, transaction_id: str) -> bool:
        try:
            found = await asyncio.to_thread(self.engine.transaction, transaction_id)
        except PostermError:
            return False
        return bool(found.type == "preauth")

    async def _act(
        self,
        kind: HoldKind,
        hold_id: str,
        amount: Amount | None,
        tip: Amount | None,
        noted: Callable[[str], None] | None = None,
        reference: str = "",
    ) -> Outcome:
        """Check, send, audit. `noted` gets the new row's id (in a thread) as soon as it has
        one, so TransactionStatus can rebuild the answer if posterm restarts meanwhile."""
        data_dir = self.settings.data_dir
        try:
            action = await self.engine.check_hold(kind, hold_id, amount, tip, reference)
        except UnknownTransaction:
            sentence = f"No pre-authorisation {hold_id} on this terminal; nothing was sent."
            await asyncio.to_thread(
                audit_adjustment, data_dir, kind, hold_id, amount, "nexo", refusal=sentence
            )
            raise NexoRefusal("NotFound", sentence) from None
        except HoldNotAllowed as refusal:
            await asyncio.to_thread(
                audit_adjustment, data_dir, kind, hold_id, amount, "nexo", refusal=refusal.sentence
            )
            raise NexoRefusal("NotAllowed", refusal.sentence) from None  # says nothing was sent
        recording: list[asyncio.Future[None]] = []

        def progress(step: Progress) -> None:
            if noted is not None and step.transaction_id and not recording:
                recording.append(
                    asyncio.ensure_future(asyncio.to_thread(noted, step.transaction_id))
                )

        outcome: Outcome = await self.engine.act_on_hold(action, progress)
        if recording:
            await recording[0]
        await asyncio.to_thread(
            audit_adjustment, data_dir, kind, hold_id, outcome.amount, "nexo", outcome=outcome
        )
        return outcome

    async def on_hold(
        self, reservation: ReservationCall, noted: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        """An UpdateReservation or Completion: the PaymentResponse body."""
        kind = HOLD_KINDS[reservation.payment_type]
        hold_id = reservation.original_id
        tip = reservation.call.tip if kind == "capture" else None
        reference = reservation.call.transaction_id
        outcome = await self._act(kind, hold_id, reservation.requested, tip, noted, reference)

        def journal() -> tuple[TransactionView | None, Amount | None]:
            view = held = None
            try:
                if outcome.id:
                    view = self.engine.transaction(outcome.id)
                held = self.engine.transaction(hold_id).held
            except PostermError:
                pass
            return view, held

        view, held = await asyncio.to_thread(journal)
        respond = reservation_response(
            reservation.payment_type, held if kind == "increment" else None
        )
        return respond(reservation.call, outcome, view, self.settings)

    async def release(self, hold_id: str) -> dict[str, Any]:
        """A ReversalRequest of a hold: the hold released; the ReversalResponse body."""
        outcome = await self._act("preauth_cancel", hold_id, None, None)
        return answers.reversal_response(hold_id, outcome)

    async def responder_for(self, view: TransactionView) -> Responder:
        """How the answer of journal row `view` is rebuilt: its reservation PaymentType (an
        increment's AuthorizedAmount the hold's total), or the door's plain payment answer."""
        payment_type = JOURNAL_TYPES.get(view.type)
        if payment_type is None:
            return answers.payment_response
        held: Amount | None = None
        if view.type == "increment" and view.ref:
            try:
                hold = await asyncio.to_thread(self.engine.transaction, view.ref)
                held = hold.held
            except PostermError:
                held = None
        return reservation_response(payment_type, held)
