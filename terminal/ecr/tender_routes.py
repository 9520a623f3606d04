"""The till's tip adjust and split tender (docs/tender.md):

    POST /ecr/v1/payments/{id}/tip    {"amount": {"value": 600, "currency": "EUR"}}: the new tip
                                      of an approved card sale of the open batch; the answer is
                                      the adjust's outcome, `amount` the new total
    POST /ecr/v1/payments/{id}/cash   {"amount"?: {...}}: cash paid towards a split sale (all
                                      that is left without an amount); no bank message

A split sale starts with `"allow_partial": true` in POST /ecr/v1/payments; its next card or QR
tender is another POST /ecr/v1/payments with `"split_of": ID`. GET /ecr/v1/payments/{id} of any
tender shows the whole sale: `requested_amount`, `paid_amount`, `remaining_amount` and
`tenders`; POST .../void voids every tender.

A refusal found before anything is sent (unknown id, negative tip, tip above the maximum, batch
closed, more than what is left) is 400 with the sentence; tips follow `[ecr] refunds` like
refunds and voids (supervisor PIN, or refused) and are audited.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from aiohttp import web

from terminal.ecr import server as base
from terminal.ecr.errors import BadRequest, Conflict
from terminal.ecr.requests import parse_cash, parse_tip
from terminal.money import Amount
from terminal.payment.api import CounterEngine, Outcome, PaymentEngine
from terminal.payment.authority import audit_adjustment
from terminal.payment.errors import PaymentError


def counter(engine: PaymentEngine) -> CounterEngine:
    """The engine's tip adjust and split tender, or 409 when this engine has none."""
    if not hasattr(engine, "tip_adjust"):
        raise Conflict("This terminal's engine takes no tip adjust or split payments.", "busy")
    return cast(CounterEngine, engine)


def refused(error: PaymentError) -> BadRequest:
    """A refusal of the payment core (exit code 2) as the till's 400."""
    return BadRequest(error.sentence, "refused")


async def tip_payment(request: web.Request) -> web.Response:
    payments = request.app[base.PAYMENTS]
    engine = counter(request.app[base.ENGINE])
    raw = await base._authority(request, "tip", request.match_info["id"], await base._body(request))
    tip = parse_tip(raw, request.app[base.SETTINGS].currency)
    transaction_id = payments.transaction_id(request.match_info["id"])

    async def run() -> Outcome:
        try:
            return await engine.tip_adjust(transaction_id, tip, base._ignore)
        except PaymentError as error:
            if error.exit_code != 2:
                raise
            raise refused(error) from None

    return await base._adjust(request, "tip", transaction_id, tip, run)


async def cash_payment(request: web.Request) -> web.Response:
    payments = request.app[base.PAYMENTS]
    engine = counter(request.app[base.ENGINE])
    amount = parse_cash(await base._body(request), request.app[base.SETTINGS].currency)
    transaction_id = payments.transaction_id(request.match_info["id"])
    try:
        outcome = await engine.cash_tender(transaction_id, amount)
    except PaymentError as error:
        if error.exit_code != 2:
            raise
        raise refused(error) from None
    body = outcome.to_json()
    body["state"] = "completed"
    body["transaction_id"] = outcome.id
    return web.json_response(body)


async def check_split(engine: PaymentEngine, transaction_id: str, amount: Amount) -> None:
    """A further tender must fit what is left of its sale (400 before anything runs)."""
    try:
        await counter(engine).check_tender(transaction_id, amount)
    except PaymentError as error:
        if error.exit_code != 2:
            raise
        raise refused(error) from None


def split_view(engine: PaymentEngine, transaction_id: str) -> dict[str, Any]:
    """The fields a split sale adds to a payment's JSON (none for a sale paid whole)."""
    if not transaction_id or not hasattr(engine, "tenders"):
        return {}
    try:
        summary = counter(engine).tenders(transaction_id)
    except PaymentError:
        return {}
    if summary is None:
        return {}
    return {
        "requested_amount": summary["requested"],
        "paid_amount": summary["paid"],
        "remaining_amount": summary["remaining"],
        "tenders": summary["tenders"],
    }


def add_routes(app: web.Application) -> None:
    app.router.add_post("/ecr/v1/payments/{id}/tip", tip_payment)
    app.router.add_post("/ecr/v1/payments/{id}/cash", cash_payment)


async def void_split(
    request: web.Request, engine: PaymentEngine, transaction_id: str
) -> web.Response | None:
    """POST .../void of a split sale: every tender voided and audited (None for a sale paid
    whole)."""
    if not split_view(engine, transaction_id):
        return None
    settings = request.app[base.SETTINGS]
    supervisor = settings.ecr.refunds == "supervisor_pin"
    try:
        outcomes = await counter(engine).void_tenders(transaction_id, base._ignore)
    except PaymentError as error:
        await asyncio.to_thread(
            audit_adjustment,
            settings.data_dir,
            "void",
            transaction_id,
            None,
            "ecr",
            refusal=error.sentence,
            supervisor=supervisor,
        )
        if error.exit_code != 2:
            raise
        raise refused(error) from None
    for outcome in outcomes:
        await asyncio.to_thread(
            audit_adjustment,
            settings.data_dir,
            "void",
            transaction_id,
            outcome.amount,
            "ecr",
            outcome=outcome,
            supervisor=supervisor,
        )
    done = all(o.result.value == "approved" for o in outcomes)
    body: dict[str, Any] = {
        "id": transaction_id,
        "result": "approved" if done else "error",
        "message": "Every payment of the sale was voided."
        if done
        else "Not every payment of the sale could be voided; see each tender's message.",
        "voids": [o.to_json() for o in outcomes],
        "state": "completed",
    }
    body.update(split_view(engine, transaction_id))
    return web.json_response(body)
