"""The ECR API over aiohttp: routes, bearer-token check, and errors as JSON sentences.

Hardened for a port anyone on the network segment might reach: header lines and counts are
bounded, a connection without the token is closed after `ecr.header_timeout_s` and pushed out
first when `ecr.max_connections` is reached (connections.py), a body must arrive within
`ecr.body_timeout_s`, an answer to a request without the token closes its connection, and
bodies are parsed with depth and number limits (requests.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from terminal.ecr.connections import ConnectionGuard
from terminal.ecr.errors import (
    BadRequest,
    Conflict,
    EcrError,
    Forbidden,
    NotFound,
    RequestTimeout,
    Unauthorized,
)
from terminal.ecr.payments import EcrPayments
from terminal.ecr.preauths import PREAUTHS, add_preauth_routes
from terminal.ecr.requests import MAX_BODY, parse_payment, parse_refund, parse_wait
from terminal.ecr.token_alarm import WrongTokenWatch
from terminal.errors import PostermError
from terminal.money import Amount
from terminal.payment.api import Outcome, PaymentEngine, Progress
from terminal.payment.authority import PinError, audit_adjustment, check_supervisor_pin
from terminal.payment.qr_link import method_refusal
from terminal.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PAYMENTS: web.AppKey[EcrPayments] = web.AppKey("payments", EcrPayments)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
ENGINE: web.AppKey[Any] = web.AppKey("engine", object)
GUARD: web.AppKey[ConnectionGuard] = web.AppKey("guard", ConnectionGuard)

KEEPALIVE_S = 75.0
"""Idle time after which a trusted keep-alive connection is closed (aiohttp's default: 1 h)."""
HTTP_LIMITS: dict[str, Any] = {
    "max_line_size": 4096,
    "max_field_size": 4096,
    "max_headers": 32,
    "lingering_time": 1.0,
    "keepalive_timeout": KEEPALIVE_S,
}
"""aiohttp's request-handler limits: a till sends a handful of short headers."""


def error_body(error: EcrError) -> dict[str, str]:
    return {"error": error.code, "message": error.sentence}


def check_token(header: str | None, token: str) -> None:
    """Raise `Unauthorized` unless `header` is "Bearer <token>" (compared in constant time)."""
    if not header:
        raise Unauthorized("Send the ECR token: Authorization: Bearer <ecr.token>.")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized("Send the ECR token: Authorization: Bearer <ecr.token>.")
    if not token or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("The ECR token is wrong.")


def _middleware(token: str, connections: ConnectionGuard, wrong_tokens: WrongTokenWatch) -> Any:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            check_token(request.headers.get("Authorization"), token)
            connections.trust(request.protocol)
            return await handler(request)
        except EcrError as error:
            headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
            answer = web.json_response(error_body(error), status=error.status, headers=headers)
            if error.status == 401:
                wrong_tokens.refused(request.remote)
            if error.status in (401, 408):
                answer.force_close()  # a stranger keeps no connection; a stalled body ends it
            return answer
        except web.HTTPException as error:
            if error.status == 413:
                body = {
                    "error": "malformed",
                    "message": f"The body is larger than {MAX_BODY} bytes.",
                }
                return web.json_response(body, status=400)
            body = {
                "error": "not_found" if error.status == 404 else "http",
                "message": error.reason or "Not found.",
            }
            return web.json_response(body, status=error.status)
        except PostermError as error:
            return web.json_response(
                {"error": "terminal", "message": error.sentence},
                status=503 if error.exit_code == 3 else 409,
            )
        except Exception:
            log.exception("ECR request %s %s failed", request.method, request.path)
            return web.json_response(
                {
                    "error": "internal",
                    "message": "The terminal had an internal problem; details are in its log.",
                },
                status=500,
            )

    return guard


async def _body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadRequest(f"The body is larger than {MAX_BODY} bytes.")
    seconds = request.app[SETTINGS].ecr.body_timeout_s
    try:
        async with asyncio.timeout(seconds):
            return await request.read()
    except TimeoutError:
        raise RequestTimeout(
            f"The body did not arrive within {seconds:g} seconds; send it again."
        ) from None


async def create_payment(request: web.Request) -> web.Response:
    payments = request.app[PAYMENTS]
    settings = request.app[SETTINGS]
    parsed = parse_payment(await _body(request), settings.currency)
    refused = method_refusal(settings, parsed.method)
    if refused:  # no link carries this method (QR on the ISO 8583 link)
        raise BadRequest(refused, "method_unavailable")
    if parsed.split_of:  # a further tender of a split sale: checked before anything runs
        from terminal.ecr import tender_routes

        split_of = payments.transaction_id(parsed.split_of)
        await tender_routes.check_split(request.app[ENGINE], split_of, parsed.amount)
        parsed = dataclasses.replace(parsed, split_of=split_of)
    payment, _new = payments.start(parsed)
    if isinstance(payment, str):  # approved before a restart: its journal id
        payment_id, state = payment, "completed"
    else:
        payment_id, state = payment.id, payment.state
    return web.json_response(
        {"id": payment_id, "state": state},
        status=202,
        headers={"Location": f"/ecr/v1/payments/{payment_id}"},
    )


async def get_payment(request: web.Request) -> web.Response:
    payments = request.app[PAYMENTS]
    wait = parse_wait(request.query.get("wait"))
    payment_id = request.match_info["id"]
    try:
        payment = payments.get(payment_id)
    except NotFound:
        # Not one of ours since start-up: a journal id is answered from the journal.
        engine: PaymentEngine = request.app[ENGINE]
        try:
            view = engine.transaction(payment_id)
        except PostermError:
            raise NotFound(f"No payment {payment_id}.") from None
        body = view.to_json()
        body["state"] = "completed"
        body["transaction_id"] = view.id
        return web.json_response({**body, **_split_view(request, view.id)})
    await payments.wait(payment, wait)
    body = payment.to_json()
    if payment.outcome is not None:
        body.update(_split_view(request, payment.outcome.id))
    return web.json_response(body)


def _split_view(request: web.Request, transaction_id: str) -> dict[str, Any]:
    from terminal.ecr import tender_routes

    return tender_routes.split_view(request.app[ENGINE], transaction_id)


async def cancel_payment(request: web.Request) -> web.Response:
    payments = request.app[PAYMENTS]
    payment = payments.get(request.match_info["id"])
    payments.cancel(payment)
    return web.json_response({"id": payment.id, "state": payment.state}, status=202)


def _ignore(step: Progress) -> None:
    return None


async def _authority(request: web.Request, kind: str, sale_id: str, body: bytes) -> bytes:
    """`[ecr] refunds` decides whether the till may refund or void, and with which PIN;
    returns the body without the PIN. Raises `Forbidden` (403, audited) when it may not."""
    settings = request.app[SETTINGS]
    policy = settings.ecr.refunds
    pin: object = None
    if body.strip():
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and "supervisor_pin" in data:
            pin = data.pop("supervisor_pin")
            body = json.dumps(data).encode()
    refusal = ""
    if policy == "refused":
        refusal = (
            f"Refunds and voids from the till are switched off on this terminal "
            f'([ecr] refunds = "refused"): the {kind} was not sent. Do it at the terminal.'
        )
    elif policy == "supervisor_pin":
        pin_hash = settings.ui.supervisor_pin_hash
        if not pin_hash:
            refusal = (
                f"This terminal needs the supervisor PIN for a {kind} from the till, but none "
                f"is set (ui.supervisor_pin_hash): the {kind} was not sent."
            )
        elif not isinstance(pin, str) or not pin:
            refusal = (
                f"This terminal needs the supervisor PIN for a {kind} from the till: send it "
                f'as "supervisor_pin" in the body. The {kind} was not sent.'
            )
        else:
            try:
                await asyncio.to_thread(
                    check_supervisor_pin, settings.data_dir, pin_hash, pin, f"ecr {kind}"
                )
            except PinError as error:
                refusal = (
                    f"{error.sentence[:1].upper()}{error.sentence[1:]}: the {kind} was not sent."
                )
    if refusal:
        await asyncio.to_thread(
            audit_adjustment, settings.data_dir, kind, sale_id, None, "ecr", refusal=refusal
        )
        raise Forbidden(refusal)
    return body


async def _adjust(
    request: web.Request, kind: str, sale_id: str, amount: Amount | None, run: Any
) -> web.Response:
    """Run the refund or void and audit how it ended (refused by the journal included)."""
    settings = request.app[SETTINGS]
    supervisor = settings.ecr.refunds == "supervisor_pin"
    try:
        outcome: Outcome = await run()
    except PostermError as error:
        await asyncio.to_thread(
            audit_adjustment,
            settings.data_dir,
            kind,
            sale_id,
            amount,
            "ecr",
            refusal=error.sentence,
            supervisor=supervisor,
        )
        raise
    await asyncio.to_thread(
        audit_adjustment,
        settings.data_dir,
        kind,
        sale_id,
        amount if amount is not None else outcome.amount,
        "ecr",
        outcome=outcome,
        supervisor=supervisor,
    )
    body = outcome.to_json()
    body["state"] = "completed"
    return web.json_response(body)


async def refund_payment(request: web.Request) -> web.Response:
    payments = request.app[PAYMENTS]
    engine: PaymentEngine = request.app[ENGINE]
    raw = await _authority(request, "refund", request.match_info["id"], await _body(request))
    amount = parse_refund(raw, request.app[SETTINGS].currency)
    transaction_id = payments.transaction_id(request.match_info["id"])
    _known(engine, transaction_id)
    return await _adjust(
        request,
        "refund",
        transaction_id,
        amount,
        lambda: engine.refund(transaction_id, amount, _ignore),
    )


async def void_payment(request: web.Request) -> web.Response:
    payments = request.app[PAYMENTS]
    engine: PaymentEngine = request.app[ENGINE]
    raw = await _authority(request, "void", request.match_info["id"], await _body(request))
    if raw.strip() not in (b"", b"{}"):
        raise BadRequest("A void takes no body.")
    transaction_id = payments.transaction_id(request.match_info["id"])
    _known(engine, transaction_id)
    from terminal.ecr import tender_routes

    whole = await tender_routes.void_split(request, engine, transaction_id)
    if whole is not None:  # a split sale is voided as a whole, every tender
        return whole
    return await _adjust(
        request, "void", transaction_id, None, lambda: engine.void(transaction_id, _ignore)
    )


def _known(engine: PaymentEngine, transaction_id: str) -> None:
    try:
        engine.transaction(transaction_id)
    except PostermError:
        raise NotFound(f"No payment {transaction_id}.") from None


async def totals(request: web.Request) -> web.Response:
    engine: PaymentEngine = request.app[ENGINE]
    return web.json_response(engine.totals().to_json())


async def status(request: web.Request) -> web.Response:
    engine: PaymentEngine = request.app[ENGINE]
    payments = request.app[PAYMENTS]
    queue = engine.queue_status()
    running = payments.running
    return web.json_response(
        {
            "terminal_id": request.app[SETTINGS].terminal.terminal_id,
            "gateway_online": engine.gateway_online,
            "queue": {
                "count": queue.count,
                "total": queue.total.to_json(),
                "oldest": queue.oldest.isoformat() if queue.oldest else None,
            },
            "payment_in_progress": running.id if running else None,
        }
    )


def build_ecr_app(
    settings: Settings, engine: PaymentEngine, payments: EcrPayments
) -> web.Application:
    """The aiohttp application (tests run it with aiohttp's test server or `EcrServer`)."""
    guard = ConnectionGuard(settings.ecr.max_connections, settings.ecr.header_timeout_s)
    app = web.Application(
        middlewares=[_middleware(settings.ecr.token, guard, WrongTokenWatch("ecr"))],
        client_max_size=MAX_BODY,
    )
    app[GUARD] = guard
    app[PAYMENTS] = payments
    app[SETTINGS] = settings
    app[ENGINE] = engine
    app.router.add_post("/ecr/v1/payments", create_payment)
    app.router.add_get("/ecr/v1/payments/{id}", get_payment)
    app.router.add_delete("/ecr/v1/payments/{id}", cancel_payment)
    app.router.add_post("/ecr/v1/payments/{id}/refund", refund_payment)
    app.router.add_post("/ecr/v1/payments/{id}/void", void_payment)
    from terminal.ecr import tender_routes

    tender_routes.add_routes(app)
    add_preauth_routes(app, engine, payments)
    app.router.add_get("/ecr/v1/totals", totals)
    app.router.add_get("/ecr/v1/status", status)
    return app


class EcrServer:
    """Runs the ECR API on `ecr.listen` inside the current event loop (screen or `serve`)."""

    def __init__(
        self, settings: Settings, engine: PaymentEngine, payments: EcrPayments | None = None
    ) -> None:
        self.settings = settings
        self.payments = payments or EcrPayments(engine)
        self.app = build_ecr_app(settings, engine, self.payments)
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        host, _, port = settings.ecr.listen.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)

    async def start(self) -> None:
        if not self.settings.ecr.token:
            raise Conflict("The ECR API needs ecr.token to be set.")
        runner = web.AppRunner(self.app, access_log=None, **HTTP_LIMITS)
        await runner.setup()
        server = runner.server
        assert server is not None  # setup() made it
        factory = self.app[GUARD].protocol_factory(server)
        try:
            self._listener = await asyncio.get_running_loop().create_server(
                factory, self.host, self.port
            )
        except OSError as error:
            await runner.cleanup()
            raise EcrUnavailable(
                f"The ECR API cannot listen on {self.settings.ecr.listen}: {error.strerror}. "
                "Change ecr.listen or stop what uses that port."
            ) from None
        self._runner = runner
        log.info("ECR API listening on %s", self.settings.ecr.listen)

    @property
    def connections(self) -> ConnectionGuard:
        return self.app[GUARD]

    async def stop(self) -> None:
        await self.payments.close()
        await self.app[PREAUTHS].close()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if listener is not None:
            await listener.wait_closed()


class EcrUnavailable(PostermError):
    """The API cannot start (port in use, bad address)."""

    exit_code = 3
