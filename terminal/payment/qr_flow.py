"""The QR parts of a sale, both ways, for the payment engine to call.

Customer-presented (`--method qr-scan`): `read_customer_code` scans until the camera sees a
consumer-presented code (the simulator wallet's one-time codes are EMVCo CPM too), telling the
operator about anything else it sees (a shop's code, a web address) and scanning on; then
`pay_with_customer_code` asks the engine's exchange to send `authorize` with `entry: qr_cpm`.

Merchant-presented (`--method qr-show`): `pay_with_merchant_code` asks `qr_intent`, builds the
dynamic payload of PROTOCOL.md rule 5, shows it, and polls `qr_status` until approved,
declined or expired; an operator cancel sends `void` for the intent.

The engine owns the journal, signing, retries and reversals: it hands these functions a
`QrExchange` whose methods send one journaled message each. QR is never approved offline
(rule 4): when the exchange reports that nothing could be sent (`GatewayDown`), the operator is
told to take a card instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from terminal.errors import PostermError
from terminal.money import Amount
from terminal.payment.api import (
    CodePresenter,
    CodeScanner,
    Progress,
    ProgressCallback,
    Result,
    Stage,
)
from terminal.qr.cpm import ConsumerCode, parse_consumer_code
from terminal.qr.errors import NotAPaymentCode, QrError
from terminal.qr.mpm import looks_like_merchant_code
from terminal.qr.recognise import CodeKind, guess_kind
from terminal.qr.terminal_code import intent_payload
from terminal.settings import Settings

USE_A_CARD = (
    "The bank cannot be reached, and QR payments need the bank online: "
    "ask the customer to pay by card."
)
STATUS_GRACE_S = 5.0
"""How long past the intent's expiry the terminal keeps asking before it gives up."""


class GatewayDown(PostermError):
    """Raised by a `QrExchange` when nothing could be sent (no connection to any gateway)."""

    exit_code = 3


class GatewayAnswer(Protocol):
    """What the flows read from a verified gateway answer (`terminal.gateway.messages.Answer`)."""

    @property
    def result(self) -> str: ...

    @property
    def code(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def auth_code(self) -> str: ...

    @property
    def intent_id(self) -> str: ...

    @property
    def expires_at(self) -> datetime | None: ...


class QrExchange(Protocol):
    """One journaled, signed message per call, for the sale being run (the engine's side)."""

    async def authorize_code(self, code_text: str) -> GatewayAnswer:
        """`authorize` with `entry: qr_cpm` and `qr.data` = JWE of exactly `code_text`."""
        ...

    async def intent(self) -> GatewayAnswer:
        """`qr_intent` for the sale amount."""
        ...

    async def status(self, intent_id: str) -> GatewayAnswer:
        """`qr_status` with `ref` = the intent id."""
        ...

    async def void(self, intent_id: str) -> GatewayAnswer:
        """`void` with `ref` = the intent id."""
        ...


@dataclass(frozen=True, slots=True)
class QrOutcome:
    """How a QR sale ended, for the engine to journal and turn into an `Outcome`."""

    result: Result
    message: str
    code: str = ""
    auth_code: str = ""
    masked_pan: str = ""
    aid: str = ""
    intent_id: str = ""
    payload: str = ""
    """The merchant-presented payload shown (qr-show)."""
    answer: Any = None
    """The last gateway answer, if any."""
    details: dict[str, Any] = field(default_factory=dict)


# --- customer-presented ------------------------------------------------------------------


def recognise_customer_code(text: str) -> ConsumerCode:
    """The scanned text as a customer's payment code, or a `QrError` the operator can act on."""
    kind = guess_kind(text)
    if kind is CodeKind.CPM:
        return parse_consumer_code(text)
    if looks_like_merchant_code(text):
        raise NotAPaymentCode(
            "That is a shop's payment code, not the customer's: ask the customer to open "
            "the 'pay' code in their banking or wallet app."
        )
    stripped = text.strip()
    if "://" in stripped or stripped.lower().startswith("www."):
        raise NotAPaymentCode("That code is a web address, not a payment code.")
    raise NotAPaymentCode("That code is not a payment code.")


async def read_customer_code(
    scanner: CodeScanner,
    cancel: asyncio.Event,
    timeout_s: float,
    progress: ProgressCallback,
    *,
    transaction_id: str = "",
    clock: Callable[[], float] = time.monotonic,
) -> tuple[str, ConsumerCode]:
    """Scan until a customer code is read; other codes are reported and scanning goes on.

    Raises the scanner's `PostermError`s (no code in time, camera trouble, cancelled).
    """
    deadline = clock() + timeout_s
    progress(
        Progress(
            Stage.SCANNING,
            "Ask the customer to show the payment code from their app to the camera.",
            transaction_id,
        )
    )
    while True:
        remaining = max(0.05, deadline - clock())
        text = await scanner.scan(cancel, remaining)
        try:
            return text, recognise_customer_code(text)
        except QrError as error:
            if clock() >= deadline:
                raise
            progress(Progress(Stage.SCANNING, f"{error.sentence} Scanning again.", transaction_id))


async def pay_with_customer_code(
    exchange: QrExchange,
    scanner: CodeScanner,
    cancel: asyncio.Event,
    timeout_s: float,
    progress: ProgressCallback,
    *,
    transaction_id: str = "",
) -> QrOutcome:
    """Scan the customer's code and authorise it online (never offline)."""
    text, code = await read_customer_code(
        scanner, cancel, timeout_s, progress, transaction_id=transaction_id
    )
    app = code.applications[0]
    shown = f"{app.label or 'wallet'} {app.masked_pan}".strip()
    progress(
        Progress(
            Stage.CODE_SCANNED,
            f"Code read: {shown}.",
            transaction_id,
            {"masked_pan": app.masked_pan, "aid": app.aid},
        )
    )
    progress(Progress(Stage.AUTHORISING, "Asking the bank...", transaction_id))
    try:
        answer = await exchange.authorize_code(text)
    except GatewayDown:
        return QrOutcome(Result.ERROR, USE_A_CARD, masked_pan=app.masked_pan, aid=app.aid)
    return _from_answer(answer, masked_pan=app.masked_pan, aid=app.aid)


# --- merchant-presented ------------------------------------------------------------------


async def pay_with_merchant_code(
    exchange: QrExchange,
    presenter: CodePresenter,
    settings: Settings,
    amount: Amount,
    cancel: asyncio.Event,
    progress: ProgressCallback,
    *,
    transaction_id: str = "",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> QrOutcome:
    """Show a dynamic code for `amount` and wait until it is paid, refused, expired or cancelled."""
    progress(Progress(Stage.AUTHORISING, "Creating the payment code...", transaction_id))
    try:
        created = await exchange.intent()
    except GatewayDown:
        return QrOutcome(Result.ERROR, USE_A_CARD)
    if created.result not in ("pending", "approved") or not created.intent_id:
        return _from_answer(created)
    intent_id = created.intent_id
    expires_at = created.expires_at or now() + timedelta(seconds=settings.qr.intent_timeout_s)
    try:
        payload = intent_payload(settings, amount, intent_id)
    except QrError as error:
        await _void_quietly(exchange, intent_id)
        return QrOutcome(Result.ERROR, error.sentence, intent_id=intent_id)
    presenter.show(payload, amount, expires_at)
    progress(
        Progress(
            Stage.SHOWING_CODE,
            f"Ask the customer to scan the code and pay {amount}.",
            transaction_id,
            {"payload": payload, "expires_at": expires_at.isoformat(), "intent_id": intent_id},
        )
    )
    try:
        outcome = await _wait_for_payment(
            exchange, settings, intent_id, expires_at, cancel, progress, transaction_id, now
        )
    finally:
        presenter.clear()
    return QrOutcome(
        outcome.result,
        outcome.message,
        outcome.code,
        outcome.auth_code,
        intent_id=intent_id,
        payload=payload,
        answer=outcome.answer,
    )


async def _wait_for_payment(
    exchange: QrExchange,
    settings: Settings,
    intent_id: str,
    expires_at: datetime,
    cancel: asyncio.Event,
    progress: ProgressCallback,
    transaction_id: str,
    now: Callable[[], datetime],
) -> QrOutcome:
    interval = settings.qr.poll_interval_s
    last: GatewayAnswer | None = None
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(cancel.wait(), timeout=interval)
        if cancel.is_set():
            return await _cancel(exchange, intent_id)
        try:
            last = await exchange.status(intent_id)
        except GatewayDown:
            if now() > expires_at + timedelta(seconds=STATUS_GRACE_S):
                return QrOutcome(
                    Result.ERROR,
                    "The bank could not be reached to confirm the QR payment before the code "
                    "expired: check the sale in the bank's records before taking another payment.",
                )
            progress(
                Progress(Stage.RETRYING, "The bank is not answering; still asking.", transaction_id)
            )
            continue
        if last.result == "pending":
            if now() > expires_at + timedelta(seconds=STATUS_GRACE_S):
                return await _cancel(exchange, intent_id, expired=True)
            continue
        if last.result == "expired":
            return QrOutcome(
                Result.CANCELLED, "The code expired before the customer paid.", answer=last
            )
        return _from_answer(last)


async def _cancel(exchange: QrExchange, intent_id: str, *, expired: bool = False) -> QrOutcome:
    """Withdraw the intent; if the customer paid in the meantime, the void gives it back."""
    why = "The code expired before the customer paid" if expired else "The QR payment was cancelled"
    try:
        answer = await exchange.void(intent_id)
    except GatewayDown:
        return QrOutcome(
            Result.ERROR,
            f"{why}, but the bank could not be told: check the sale in the bank's records.",
        )
    if answer.result in ("approved", "reversed"):
        return QrOutcome(Result.CANCELLED, f"{why}; nothing was charged.", answer=answer)
    return QrOutcome(
        Result.ERROR,
        f"{why}, but the bank refused to withdraw the code ({answer.reason or answer.code}): "
        "check the sale in the bank's records.",
        answer.code,
        answer=answer,
    )


async def _void_quietly(exchange: QrExchange, intent_id: str) -> None:
    with contextlib.suppress(PostermError):
        await exchange.void(intent_id)


def _from_answer(answer: GatewayAnswer, *, masked_pan: str = "", aid: str = "") -> QrOutcome:
    if answer.result == "approved":
        return QrOutcome(
            Result.APPROVED,
            "Approved.",
            answer.code or "00",
            answer.auth_code,
            masked_pan,
            aid,
            answer=answer,
        )
    reason = answer.reason or _REASONS.get(answer.code, "the bank declined the payment")
    return QrOutcome(
        Result.DECLINED,
        f"Declined ({answer.code}): {reason}.",
        answer.code,
        masked_pan=masked_pan,
        aid=aid,
        answer=answer,
    )


_REASONS = {
    "05": "do not honour",
    "13": "invalid amount",
    "14": "invalid card or code",
    "51": "insufficient funds",
    "54": "expired card or code",
    "59": "suspected fraud",
    "61": "over the amount limit",
    "65": "this code was already used; ask for a new one",
    "91": "issuer unavailable",
    "94": "duplicate",
    "96": "system error",
}
