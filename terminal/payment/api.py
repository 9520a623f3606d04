"""The engine's public face: what the operator screen, the CLI and the ECR API may use.

All three drive the same engine through these types, so a sale looks the same whichever door
it came in by. The engine is async and never blocks the event loop; device waits run in worker
threads behind the capture protocols below.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from terminal.emv.card_data import CardData
from terminal.errors import UsageError
from terminal.money import Amount, Currency

# Re-exported: the doors cancel through the API.
from terminal.payment.cancel import CancelAnswer as CancelAnswer
from terminal.payment.cancel import CancelToken as CancelToken


class EntryMethod(StrEnum):
    """How the customer pays (CLI `--method`, ECR `method`)."""

    NFC = "nfc"
    QR_SCAN = "qr-scan"
    QR_SHOW = "qr-show"

    @property
    def protocol_entry(self) -> str:
        """The `entry` value of PROTOCOL.md."""
        return {"nfc": "nfc", "qr-scan": "qr_cpm", "qr-show": "qr_mpm"}[self.value]


class Result(StrEnum):
    """The outcome the operator and the till see."""

    APPROVED = "approved"
    APPROVED_OFFLINE = "approved_offline"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    ERROR = "error"

    @property
    def exit_code(self) -> int:
        """CLI exit status: 0 approved (online or offline), 1 declined/cancelled, 3 error."""
        return {"approved": 0, "approved_offline": 0, "declined": 1, "cancelled": 1}.get(
            self.value, 3
        )


class Stage(StrEnum):
    """Where a sale is, for the live status panel and `--json` progress on stderr."""

    CHECKING = "checking"
    WAITING_FOR_CARD = "waiting_for_card"
    READING_CARD = "reading_card"
    CARD_READ = "card_read"
    SCANNING = "scanning"
    CODE_SCANNED = "code_scanned"
    SHOWING_CODE = "showing_code"
    CONFIRMING = "confirming"
    """A wallet asked its customer to confirm on the phone; the operator may still cancel."""
    CANCELLING = "cancelling"
    """A wallet payment that was not confirmed is being cancelled (reversed) with the bank."""
    AUTHORISING = "authorising"
    RETRYING = "retrying"
    REVERSING = "reversing"
    RESULT = "result"


@dataclass(frozen=True, slots=True)
class Progress:
    """One step of a running operation; `message` is the operator's sentence."""

    stage: Stage
    message: str
    transaction_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    """Stage details, e.g. SHOWING_CODE: {"payload": str, "expires_at": iso8601}."""


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class SaleRequest:
    """What the operator or the till asks for."""

    amount: Amount
    method: EntryMethod = EntryMethod.NFC
    reference: str = ""
    tip: Amount | None = None
    """Included in `amount`; kept apart for the receipt."""
    timeout_s: float | None = None
    """Overrides the configured wait for card / code."""
    allow_partial: bool = False
    """The issuer may approve less than `amount`; the rest is paid by further tenders."""
    split_of: str = ""
    """This sale is a further tender of that partially approved sale (its id): it pays (part
    of) what is left, and the till sees both as one sale (terminal/payment/tenders.py)."""

    def check(self, currency: Currency) -> SaleRequest:
        """This request if a terminal taking `currency` may run it; else `UsageError` (exit
        code 2) with the sentence every door shows. The doors call it before the engine."""
        if self.amount.minor <= 0:
            raise UsageError("The amount must be greater than zero.")
        if self.amount.currency != currency:
            raise UsageError(
                f"This terminal takes {currency.code}, not {self.amount.currency.code}."
            )
        return self


@dataclass(frozen=True, slots=True)
class Outcome:
    """The end of a sale, refund or void: the object `posterm pay --json` prints."""

    id: str
    result: Result
    amount: Amount
    entry: str
    code: str = ""
    auth_code: str = ""
    masked_pan: str = ""
    message: str = ""
    scheme: str = ""
    aid: str = ""
    state: str = ""
    label: str = ""
    """Application label (tag 50) of the card read, e.g. "VISA CREDIT"."""
    cryptogram_type: str = ""
    """TC, ARQC or AAC: the cryptogram the card produced."""
    cvm: str = ""
    """How the cardholder was verified (no_cvm, cdcvm, pin, signature); "" without a card."""
    approved_amount: Amount | None = None
    """Set when the request allowed partial approval (or a tip adjust / split tender ran):
    what the card paid; `amount` is what was asked."""
    remaining_amount: Amount | None = None
    """What is left to pay with further tenders (zero when all is paid)."""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "result": self.result.value,
            "code": self.code,
            "auth_code": self.auth_code,
            "amount": self.amount.to_json(),
            "entry": self.entry,
            "masked_pan": self.masked_pan,
            "message": self.message,
        }
        if self.approved_amount is not None:
            body["approved_amount"] = self.approved_amount.to_json()
        if self.remaining_amount is not None:
            body["remaining_amount"] = self.remaining_amount.to_json()
        return body


@dataclass(frozen=True, slots=True)
class TransactionView:
    """A journal row as history, receipts and the ECR API show it (no sensitive data)."""

    id: str
    type: str
    """sale, refund, void, reversal."""
    state: str
    result: str
    amount: Amount
    entry: str
    masked_pan: str
    created_at: datetime
    code: str = ""
    auth_code: str = ""
    ref: str = ""
    """For refunds and voids: the sale acted on."""
    refunded: Amount | None = None
    """For sales: how much has been refunded so far."""
    scheme: str = ""
    aid: str = ""
    reference: str = ""
    tip: Amount | None = None
    message: str = ""
    label: str = ""
    """Application label (tag 50), e.g. "VISA CREDIT"."""
    cryptogram_type: str = ""
    """TC, ARQC or AAC: the cryptogram the card produced."""
    cvm: str = ""
    """How the cardholder was verified (no_cvm, cdcvm, pin, signature); "" without a card."""
    requested: Amount | None = None
    """A partially approved sale: what was asked (`amount` is what the card paid)."""
    held: Amount | None = None
    """For pre-authorisations: the amount held now (increments included)."""
    captured: Amount | None = None
    """For pre-authorisations: the amount captured (tip included), zero until captured."""
    expires_at: str = ""
    """For pre-authorisations: when the bank releases the hold if it is not captured."""
    paid_with: str = ""
    """A cross-border wallet payment: "Paid with Alipay — CNY 96.40 at 7.7120"."""

    def to_json(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.type == "preauth":
            extra = {
                "held": self.held.to_json() if self.held else None,
                "captured": self.captured.to_json() if self.captured else None,
                "expires_at": self.expires_at,
            }
        if self.tip is not None and self.type == "capture":
            extra["tip"] = self.tip.to_json()
        return {
            "id": self.id,
            "type": self.type,
            "state": self.state,
            "result": self.result,
            "amount": self.amount.to_json(),
            "entry": self.entry,
            "masked_pan": self.masked_pan,
            "created_at": self.created_at.isoformat(),
            "code": self.code,
            "auth_code": self.auth_code,
            "ref": self.ref,
            "refunded": self.refunded.to_json() if self.refunded else None,
            "scheme": self.scheme,
            "reference": self.reference,
            "message": self.message,
            "aid": self.aid,
            "label": self.label,
            "cryptogram_type": self.cryptogram_type,
            "cvm": self.cvm,
            "tip": self.tip.to_json() if self.tip else None,
            "requested": self.requested.to_json() if self.requested else None,
            "paid_with": self.paid_with,
        } | extra


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """Store-and-forward queue, for the status bar and `posterm saf status`."""

    count: int
    total: Amount
    oldest: datetime | None
    last_error: str = ""
    reversals: int = 0
    declined_offline: int = 0
    """Sales of the open batch approved offline that the bank declined when they were
    forwarded: goods given, not paid. The screen warns the merchant about each."""
    holds: int = 0
    """Captures and cancels of pre-authorisations waiting to be sent (store-and-forward)."""


# --- what the engine needs from the devices (implemented over drivers in terminal/wiring) ---


class CardCapture(Protocol):
    """Waits for a tap and runs the contactless kernel."""

    async def read_card(
        self, amount: Amount, cancel: asyncio.Event, progress: ProgressCallback
    ) -> CardData:
        """The card's data, or raises the driver's `DriverError` (reader, field, timeout,
        cancel) or the kernel's `EmvError` (this card cannot pay), with the operator's
        sentence; `terminal.payment.capture.ENDINGS` says how each ends the sale."""
        ...


class CodeScanner(Protocol):
    """Looks for a customer-presented code with the camera."""

    async def scan(self, cancel: asyncio.Event, timeout_s: float) -> str: ...


class CodePresenter(Protocol):
    """Shows a merchant-presented code (screen, customer display)."""

    def show(self, payload: str, amount: Amount, expires_at: datetime) -> None: ...

    def clear(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TotalsLine:
    """Count and sum of one kind of transaction (e.g. approved NFC sales) in one currency."""

    type: str
    entry: str
    result: str
    count: int
    total: Amount


@dataclass(frozen=True, slots=True)
class Totals:
    """Everything since the last batch close, for end of day and `close_batch`."""

    since: datetime | None
    lines: list[TotalsLine]
    by_hour: dict[int, Amount] = field(default_factory=dict)
    """Approved sales per hour of the day (local time), for the end-of-day chart."""

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "lines": [
                {
                    "type": line.type,
                    "entry": line.entry,
                    "result": line.result,
                    "count": line.count,
                    "total": line.total.to_json(),
                }
                for line in self.lines
            ],
        }


@dataclass(frozen=True, slots=True)
class BatchResult:
    """How `close_batch` ended: the gateway's answer, or why the batch stays open."""

    result: str
    """balanced or out_of_balance (closed); error: the batch stays open and `message` says
    why and what to do (queue not emptied, bank not reached or not answering)."""
    terminal_totals: dict[str, Any]
    gateway_totals: dict[str, Any]
    message: str = ""


class PaymentEngine(Protocol):
    """The engine as the screen, the CLI and the ECR API see it."""

    async def sale(
        self, request: SaleRequest, progress: ProgressCallback, cancel: asyncio.Event
    ) -> Outcome:
        """Run a checked request (`SaleRequest.check`) to a definite end; never raises for a
        runtime failure (device, journal, bank, a bug): those end as a `Result.ERROR`."""
        ...

    async def refund(
        self, sale_id: str, amount: Amount | None, progress: ProgressCallback
    ) -> Outcome:
        """Refund all that is left of a sale, or `amount` of it. Only a refusal found before
        anything runs raises (`RefundNotAllowed`, `UnknownTransaction`: exit code 2)."""
        ...

    async def card_refund(
        self, request: SaleRequest, progress: ProgressCallback, cancel: asyncio.Event
    ) -> Outcome:
        """A card-present refund without a sale to refer to: the card in `request` is read
        and credited `request.amount` (the bank applies its limit); never raises for a
        runtime failure, like `sale`."""
        ...

    async def void(self, sale_id: str, progress: ProgressCallback) -> Outcome:
        """Cancel a sale not yet settled. Only a refusal found before anything runs raises
        (`VoidNotAllowed`, `UnknownTransaction`: exit code 2)."""
        ...

    def history(self, *, limit: int = 100, search: str = "") -> list[TransactionView]: ...

    def transaction(self, transaction_id: str) -> TransactionView:
        """One transaction; raises `PostermError` (exit code 2) for an unknown id."""
        ...

    def totals(self) -> Totals: ...

    async def close_batch(self) -> BatchResult:
        """Forward the queue, then close the batch with the bank; never raises for a runtime
        failure: a batch that could not be closed ends as result "error"."""
        ...

    def queue_status(self) -> QueueStatus: ...

    @property
    def gateway_online(self) -> bool:
        """Last known state of the link to the gateway."""
        ...


class CounterEngine(PaymentEngine, Protocol):
    """The engine's counter flows (terminal/payment/counter.py): tip adjust and split tender.
    Refusals found before anything is sent raise with exit code 2 (HTTP 400 at the till)."""

    async def tip_adjust(self, sale_id: str, tip: Amount, progress: ProgressCallback) -> Outcome:
        """Set the tip of an approved card sale of the open batch (`TipNotAllowed`)."""
        ...

    async def check_tender(self, sale_id: str, amount: Amount | None) -> Amount:
        """What a further tender of a split sale may pay (`TenderNotAllowed`)."""
        ...

    async def cash_tender(self, sale_id: str, amount: Amount | None) -> Outcome:
        """Record cash paid towards a split sale (no bank message)."""
        ...

    def tenders(self, sale_id: str) -> dict[str, Any] | None:
        """The split sale with its tenders; None for a sale paid whole at once."""
        ...

    async def void_tenders(self, sale_id: str, progress: ProgressCallback) -> list[Outcome]:
        """Void a split sale as a whole (every tender)."""
        ...
