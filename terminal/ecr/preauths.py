"""Pre-authorisations from the till: `/ecr/v1/preauths`, REST-like.

    POST   /ecr/v1/preauths                  {"amount", "reference"?} -> 202 {"id", "state"}
    GET    /ecr/v1/preauths/{id}[?wait=S]    as GET /ecr/v1/payments/{id}, plus "hold" once held
    DELETE /ecr/v1/preauths/{id}             cancel while waiting for the card
    POST   /ecr/v1/preauths/{id}/increment   {"amount", "reference"?} -> 200 outcome
    POST   /ecr/v1/preauths/{id}/capture     {"amount"?, "tip"?, "reference"?} -> 200 outcome
    POST   /ecr/v1/preauths/{id}/cancel      {"reference"?} or no body -> 200 outcome (released)

`{id}` is the till's id from the POST or the journal's id of the pre-authorisation. Creating
one waits for a tap, so it runs like a payment (one at a time with payments: one reader, one
customer) and is followed with GET. An increment, capture or cancel needs no card and answers
when the bank has (a capture the bank could not be reached for is stored and answered
`approved_offline`). A request the journal refuses (unknown id, closed hold, a negative tip,
another currency) is a 400 with the sentence and nothing is sent to the bank. Every increment,
capture and cancel is audited (`payment.<kind>`, door `ecr`), refused ones too.

A till that repeats an increment, capture or cancel after a dropped connection sends the same
"reference" (its idempotency key, as for POST /ecr/v1/payments): the repeat answers the first
request's outcome (same id) and nothing more reaches the bank; the same reference with another
amount is a 400. Without a reference a repeat is refused as before ("is captured").
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

from aiohttp import web

from terminal.ecr.errors import BadRequest, NotFound
from terminal.ecr.payments import EcrPayment, EcrPayments, SalesByReference
from terminal.ecr.requests import (
    PaymentRequest,
    _check_keys,
    parse_amount,
    parse_json_object,
    parse_payment,
    parse_reference,
    parse_wait,
)
from terminal.money import Amount, AmountError, Currency
from terminal.payment.api import (
    EntryMethod,
    Outcome,
    Progress,
    ProgressCallback,
    SaleRequest,
    TransactionView,
)
from terminal.payment.authority import audit_adjustment
from terminal.payment.errors import HoldNotAllowed, UnknownTransaction
from terminal.payment.holds import HoldAction, HoldKind
from terminal.payment.journal import Journal
from terminal.payment.reports import view
from terminal.settings import Settings

PREAUTHS: web.AppKey[Any] = web.AppKey("preauths", object)


class HoldEngine(Protocol):
    """What the pre-authorisation door needs of the engine (`terminal.payment.engine`)."""

    journal: Journal

    async def preauth(
        self, request: SaleRequest, progress: ProgressCallback, cancel: Any
    ) -> Outcome: ...

    async def check_hold(
        self,
        kind: HoldKind,
        hold_id: str,
        amount: Amount | None = None,
        tip: Amount | None = None,
        reference: str = "",
    ) -> HoldAction: ...

    async def act_on_hold(self, action: HoldAction, progress: ProgressCallback) -> Outcome: ...

    def transaction(self, transaction_id: str) -> TransactionView: ...


def preauths_by_reference(engine: HoldEngine) -> SalesByReference:
    """Pre-authorisations with exactly this till reference, newest first."""

    def find(reference: str) -> list[TransactionView]:
        rows = engine.journal.find("reference = ? AND type = 'preauth'", (reference,))
        return [view(txn) for txn in rows]

    return find


class EcrPreauths(EcrPayments):
    """The till's pre-authorisations: each waits for a tap like a payment (same rules: one
    at a time, a reference makes the POST idempotent, cancel while waiting for the card)."""

    def __init__(self, engine: HoldEngine, payments: EcrPayments) -> None:
        super().__init__(
            engine,  # type: ignore[arg-type]  # the hold methods are what this class uses
            busy=lambda: payments.running is not None or payments.busy(),
            sales_by_reference=preauths_by_reference(engine),
        )
        self.holds = engine

    async def _run(self, payment: EcrPayment) -> None:
        request = payment.request

        def progress(step: Progress) -> None:
            payment.stage = step.stage
            payment.message = step.message
            if step.transaction_id:
                payment.transaction_id = step.transaction_id

        hold = SaleRequest(request.amount, EntryMethod.NFC, request.reference)
        payment.outcome = await self.holds.preauth(hold, progress, payment.cancel)
        payment.done.set()


def _ignore(step: Progress) -> None:
    return None


def parse_preauth(body: bytes, currency: Currency) -> PaymentRequest:
    """POST /ecr/v1/preauths: {"amount", "reference"?} (always a card: no method)."""
    data = parse_json_object(body)
    _check_keys(data, {"amount", "reference"}, {"amount"})
    data["method"] = EntryMethod.NFC.value
    return parse_payment(_json(data), currency)


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def parse_tip(value: object, currency: Currency) -> Amount | None:
    """A capture's "tip": zero or more, in the terminal's currency."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(
            f'"tip" must be an object like {{"value": 800, "currency": "{currency.code}"}}.'
        )
    try:
        tip = Amount.from_json(value)
    except (AmountError, TypeError, ValueError) as error:
        raise BadRequest(f'"tip": {getattr(error, "sentence", error)}') from None
    if tip.currency != currency:
        raise BadRequest(f'"tip": this terminal takes {currency.code}, not {tip.currency.code}.')
    if tip.minor < 0:
        raise BadRequest('"tip" cannot be negative. Nothing was sent.')
    return tip if tip.minor else None


def _body_object(raw: bytes) -> dict[str, Any]:
    return parse_json_object(raw) if raw.strip() else {}


async def _read(request: web.Request) -> bytes:
    from terminal.ecr.server import _body

    return await _body(request)


def _settings(request: web.Request) -> Settings:
    from terminal.ecr.server import SETTINGS

    return request.app[SETTINGS]


async def create_preauth(request: web.Request) -> web.Response:
    preauths: EcrPreauths = request.app[PREAUTHS]
    parsed = parse_preauth(await _read(request), _settings(request).currency)
    payment, _new = preauths.start(parsed)
    if isinstance(payment, str):
        payment_id, state = payment, "completed"
    else:
        payment_id, state = payment.id, payment.state
    return web.json_response(
        {"id": payment_id, "state": state},
        status=202,
        headers={"Location": f"/ecr/v1/preauths/{payment_id}"},
    )


def _hold_json(engine: HoldEngine, transaction_id: str) -> dict[str, Any] | None:
    try:
        return engine.transaction(transaction_id).to_json()
    except UnknownTransaction:
        return None


async def get_preauth(request: web.Request) -> web.Response:
    preauths: EcrPreauths = request.app[PREAUTHS]
    wait = parse_wait(request.query.get("wait"))
    preauth_id = request.match_info["id"]
    try:
        payment = preauths.get(preauth_id)
    except NotFound:
        hold = _hold_json(preauths.holds, preauth_id)
        if hold is None or hold["type"] != "preauth":
            raise NotFound(f"No pre-authorisation {preauth_id}.") from None
        return web.json_response(
            hold | {"state": "completed", "transaction_id": preauth_id, "hold": hold}
        )
    await preauths.wait(payment, wait)
    body = payment.to_json()
    body.pop("method", None)
    if payment.outcome is not None and payment.outcome.id:
        body["hold"] = _hold_json(preauths.holds, payment.outcome.id)
    return web.json_response(body)


async def cancel_waiting_preauth(request: web.Request) -> web.Response:
    preauths: EcrPreauths = request.app[PREAUTHS]
    payment = preauths.get(request.match_info["id"])
    preauths.cancel(payment)
    return web.json_response({"id": payment.id, "state": payment.state}, status=202)


async def _on_hold(
    request: web.Request,
    kind: HoldKind,
    amount: Amount | None,
    tip: Amount | None = None,
    reference: str = "",
) -> web.Response:
    preauths: EcrPreauths = request.app[PREAUTHS]
    hold_id = preauths.transaction_id(request.match_info["id"])
    data_dir = _settings(request).data_dir
    try:
        action = await preauths.holds.check_hold(kind, hold_id, amount, tip, reference)
    except (HoldNotAllowed, UnknownTransaction) as refusal:
        await asyncio.to_thread(
            audit_adjustment, data_dir, kind, hold_id, amount, "ecr", refusal=refusal.sentence
        )
        raise BadRequest(refusal.sentence, "refused") from None
    outcome = await preauths.holds.act_on_hold(action, _ignore)
    await asyncio.to_thread(
        audit_adjustment, data_dir, kind, hold_id, outcome.amount, "ecr", outcome=outcome
    )
    body = outcome.to_json()
    body["state"] = "completed"
    body["hold"] = _hold_json(preauths.holds, hold_id)
    return web.json_response(body)


async def increment_preauth(request: web.Request) -> web.Response:
    data = _body_object(await _read(request))
    _check_keys(data, {"amount", "reference"}, {"amount"})
    amount = parse_amount(data["amount"], _settings(request).currency)
    return await _on_hold(request, "increment", amount, reference=parse_reference(data))


async def capture_preauth(request: web.Request) -> web.Response:
    currency = _settings(request).currency
    data = _body_object(await _read(request))
    _check_keys(data, {"amount", "tip", "reference"}, set())
    amount = parse_amount(data["amount"], currency) if data.get("amount") is not None else None
    tip = parse_tip(data.get("tip"), currency)
    return await _on_hold(request, "capture", amount, tip, parse_reference(data))


async def cancel_preauth(request: web.Request) -> web.Response:
    data = _body_object(await _read(request))
    if set(data) - {"reference"}:
        raise BadRequest('A cancel takes no body but an optional "reference".')
    return await _on_hold(request, "preauth_cancel", None, reference=parse_reference(data))


def add_preauth_routes(app: web.Application, engine: Any, payments: EcrPayments) -> EcrPreauths:
    """The `/ecr/v1/preauths` routes on the ECR app; the door that runs them."""
    preauths = EcrPreauths(engine, payments)
    previous = payments.busy
    payments.busy = lambda: previous() or preauths.running is not None
    app[PREAUTHS] = preauths
    app.router.add_post("/ecr/v1/preauths", create_preauth)
    app.router.add_get("/ecr/v1/preauths/{id}", get_preauth)
    app.router.add_delete("/ecr/v1/preauths/{id}", cancel_waiting_preauth)
    app.router.add_post("/ecr/v1/preauths/{id}/increment", increment_preauth)
    app.router.add_post("/ecr/v1/preauths/{id}/capture", capture_preauth)
    app.router.add_post("/ecr/v1/preauths/{id}/cancel", cancel_preauth)
    return preauths
