"""The simulator's admin API under /sim/ (JSON), on its own listener only (the protocol port
answers 404 there), for loopback clients (others get 403) that show the bearer token of
DIR/admin-token (`Authorization: Bearer TOKEN`; without it or with another one: 401).

    GET  /sim/ledger[?terminal_id=T]  {"entries": [{"id", "ref", "type", "terminal_id",
                                      "amount": {"value", "currency"}, "result", "code", "at",
                                      "state" (active, reversed, voided)}],
                                      "holds": [{"id", "terminal_id", "held", "captured",
                                      "state" (held|captured|released|expired|reversed),
                                      "expires_at", "capture_id"}]}
    GET  /sim/holds/rules, POST       {"expiry_s", "tolerance_percent"}: how long a hold lives
                                      and how far a capture may exceed it (default 7 days, 20)
    GET  /sim/terminals               {"terminals": [{"kid", "terminal_id", "enrolled_at"}]}
    POST /sim/terminals               {"terminal_id": T, "jwk": {...}} or {"terminal_id", "jwks":
                                      [...]} -> 201 {"enrolled": [kid, ...]}
    GET  /sim/faults, POST /sim/faults  {"drop_before", "drop_after", "delay_ms", "error_5xx",
                                      "down"}; a POST replaces all faults (missing ones: off)
    GET  /sim/cards                   {"cards": [card view]}
    POST /sim/cards                   {"name"?, "pan"?, "expiry"?, "psn"?, "status"?, "balance"?
                                      (decimal text or {"value","currency"}), "currency"?,
                                      "issuer"?, "aid"?, "label"?, "partial"? (never, allowed,
                                      always: prepaid partial approvals)} -> the card view;
                                      updates the card named (by name or pan) or adds it (pan,
                                      expiry needed)
    GET  /sim/fraud, POST /sim/fraud  {"enabled", "max_count", "max_total" (minor units),
                                      "window_s"}
    GET  /sim/refund-limit, POST      {"max": minor units}: the most a card-present refund
                                      without a sale may credit (default 50000); above: 61
    POST /sim/wallet/pay              {"payload": EMVCo MPM text} or {"intent_id": ...}, optional
                                      "card" (profile, default wallet-token) and "scheme" (a
                                      national scheme's wallet: pays only a payload carrying
                                      that scheme's template, else 409) -> {"intent_id",
                                      "result", "code", "auth_code"?}
    POST /sim/wallet/code             {"card"?: profile, "expires_in_s"?: 1..3600} -> {"code",
                                      "format", "card", "masked_pan", "expires_at"}
    POST /sim/wallet/paycode          {"scheme": wechatpay|alipay|unionpay, "card"?: profile,
                                      "expires_in_s"?: 1..3600 (60), "confirm_after_s"?: seconds
                                      (0: pays at once; null: the payer never confirms)} ->
                                      {"code", "scheme", "card", "currency", "expires_at",
                                      "confirm_after_s"} (a numeric wallet pay code, one use)

Errors: {"error": CODE, "message"}: 400 malformed, 401 unauthorized, 403 forbidden, 404 not_found,
409 conflict (intent not payable, kid of another terminal), never 500; a refused call changes
nothing.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web

from simulators.bank.faults import Faults
from simulators.bank.holds import hold_rules
from simulators.bank.issuer import FraudRule
from simulators.bank.ledger import Ledger
from simulators.bank.paycodes import CODE_TTL_S
from simulators.bank.processor import Processor
from simulators.bank.wallet import WalletError, parse_mpm, pays_through
from simulators.card.testcards import IssuerKeys
from terminal.gateway.jose import import_public_jwk
from terminal.gateway.messages import utc_timestamp
from terminal.iso_codes import UnknownCurrency, currency
from terminal.money import Amount, AmountError
from terminal.qr.schemes import SCHEMES
from terminal.security.pan import luhn_valid, mask_pan


class Simulator(Protocol):
    """What the admin API reads and changes of the running simulator (`server.Simulator`)."""

    ledger: Ledger
    issuers: dict[str, IssuerKeys]
    processor: Processor
    faults: Faults

    async def settle(self) -> None: ...

    async def flush(self) -> None: ...


class Service(Protocol):
    """The listening side (`server.Service`): the admin API can take the protocol port down."""

    @property
    def main_app(self) -> web.Application: ...

    async def set_down(self, down: bool, *, asked_on_main: bool = False) -> None: ...


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _bad(message: str) -> AdminError:
    return AdminError(400, "malformed", message)


def enroll(ledger: Ledger, terminal_id: object, jwk: object) -> str:
    """Enrol one public key for a terminal; returns its kid. AdminError when unusable."""
    if not isinstance(terminal_id, str) or not re.fullmatch(r"[A-Za-z0-9]{8}", terminal_id):
        raise _bad("terminal_id must be 8 letters or digits")
    if not isinstance(jwk, dict):
        raise _bad("jwk must be a JSON object")
    try:
        import_public_jwk(jwk, "Ed25519")
    except ValueError as error:
        raise _bad(f"jwk: {error}") from None
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not re.fullmatch(re.escape(terminal_id) + r"-\d{1,6}", kid):
        raise _bad(f'jwk.kid must be "{terminal_id}-<n>"')
    public = {k: jwk[k] for k in ("kty", "crv", "x", "kid")}
    ledger.run(
        "INSERT OR REPLACE INTO terminals (kid, terminal_id, jwk, enrolled_at) VALUES (?,?,?,?)",
        kid,
        terminal_id,
        json.dumps(public, sort_keys=True),
        utc_timestamp(datetime.now(UTC)),
    )
    return kid


def card_view(row: Any) -> dict[str, Any]:
    return {
        "name": row["name"],
        "masked_pan": row["masked_pan"],
        "expiry": row["expiry"],
        "status": row["status"],
        "balance": {"value": row["balance"], "currency": row["currency"]},
        "issuer": row["issuer"],
        "partial": row["partial"],
    }


def upsert_card(sim: Simulator, data: dict[str, Any]) -> dict[str, Any]:
    """POST /sim/cards."""
    ledger = sim.ledger
    pan, name = data.get("pan"), data.get("name")
    if pan is not None and (
        not isinstance(pan, str) or not re.fullmatch(r"\d{12,19}", pan) or not luhn_valid(pan)
    ):
        raise _bad("pan must be 12 to 19 digits passing the Luhn check")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 40):
        raise _bad("name must be text of 1 to 40 characters")
    row = (
        ledger.card(ledger.account_of(pan)) if pan else ledger.card_by_name(name) if name else None
    )
    if row is None and pan is None:
        raise AdminError(404, "not_found", "no such card; give pan and expiry to add one")
    fields: dict[str, Any] = {}
    if "status" in data:
        if data["status"] not in ("active", "blocked", "lost"):
            raise _bad("status must be active, blocked or lost")
        fields["status"] = data["status"]
    for key, pattern in (
        ("expiry", r"\d{4}(\d{2})?"),
        ("psn", r"\d{2}"),
        ("aid", r"[0-9A-F]{10,32}"),
    ):
        if key in data:
            if not isinstance(data[key], str) or not re.fullmatch(pattern, data[key]):
                raise _bad(f"{key} does not have the right format")
            fields[key] = data[key]
    if "partial" in data:
        if data["partial"] not in ("never", "allowed", "always"):
            raise _bad("partial must be never, allowed or always")
        fields["partial"] = data["partial"]
    if "label" in data:
        if not isinstance(data["label"], str) or len(data["label"]) > 16:
            raise _bad("label must be text of at most 16 characters")
        fields["label"] = data["label"]
    if "issuer" in data:
        if data["issuer"] not in sim.issuers:
            raise _bad(f"issuer must be one of {', '.join(sorted(sim.issuers))}")
        fields["issuer"] = data["issuer"]
    code = data.get("currency", row["currency"] if row else "EUR")
    try:
        cur = currency(code) if isinstance(code, str) else None
    except UnknownCurrency:
        cur = None
    if cur is None:
        raise _bad("currency must be an ISO 4217 code")
    fields["currency"] = cur.code
    if "balance" in data:
        balance = data["balance"]
        try:
            amount = (
                Amount.from_json(balance)
                if isinstance(balance, dict)
                else Amount.parse(balance, cur)
                if isinstance(balance, str)
                else None
            )
        except (AmountError, TypeError):
            amount = None
        if amount is None or amount.is_negative:
            raise _bad('balance must be decimal text ("12.34") or {"value", "currency"}')
        fields["balance"], fields["currency"] = amount.minor, amount.currency.code
    with ledger.transaction():
        if row is None:
            assert isinstance(pan, str)
            if "expiry" not in fields:
                raise _bad("a new card needs an expiry (YYMMDD)")
            ledger.run(
                "INSERT INTO cards (account, name, masked_pan, expiry, psn, status, balance,"
                " currency, issuer, aid, label) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                ledger.account_of(pan),
                name or mask_pan(pan),
                mask_pan(pan),
                fields["expiry"],
                fields.get("psn", "00"),
                fields.get("status", "active"),
                fields.get("balance", 0),
                fields["currency"],
                fields.get("issuer", "visa-test" if "visa-test" in sim.issuers else ""),
                fields.get("aid", "A0000000031010"),
                fields.get("label", "TEST CARD"),
            )
            account = ledger.account_of(pan)
            if "partial" in fields:
                ledger.run(
                    "UPDATE cards SET partial = ? WHERE account = ?", fields["partial"], account
                )
        else:
            account = row["account"]
            if name and pan:
                fields["name"] = name
            for key, value in fields.items():
                ledger.run(f"UPDATE cards SET {key} = ? WHERE account = ?", value, account)  # noqa: S608
    updated = ledger.card(account)
    assert updated is not None
    return card_view(updated)


def fraud_rule(data: dict[str, Any]) -> FraudRule:
    default = FraudRule()
    values: dict[str, Any] = {}
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _bad("enabled must be true or false")
    for key in ("max_count", "max_total", "window_s"):
        value = data.get(key, getattr(default, key))
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _bad(f"{key} must be a non-negative integer")
        values[key] = value
    return FraudRule(enabled=enabled, **values)


def _loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def _authorised(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "replace"), token.encode("utf-8")
    )


def admin_routes(sim: Simulator, service: Service, token: str) -> list[web.RouteDef]:
    """The /sim/ routes, each refusing non-loopback clients (403) and a missing or wrong
    bearer `token` (401) before reading anything."""

    def endpoint(func: Any) -> Any:
        async def wrapped(request: web.Request) -> web.Response:
            if not _loopback(request):
                return web.json_response(
                    {"error": "forbidden", "message": "the admin API is loopback only"}, status=403
                )
            if not _authorised(request, token):
                return web.json_response(
                    {"error": "unauthorized", "message": "give the admin token (DIR/admin-token)"},
                    status=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            data: dict[str, Any] = {}
            if request.method == "POST":
                raw = await request.content.read(64 * 1024 + 1)
                if len(raw) > 64 * 1024:
                    return web.json_response(
                        {"error": "malformed", "message": "too large"}, status=400
                    )
                try:
                    parsed = json.loads(raw.decode("utf-8")) if raw.strip() else {}
                except (ValueError, UnicodeDecodeError):
                    parsed = None
                if not isinstance(parsed, dict):
                    return web.json_response(
                        {"error": "malformed", "message": "body must be a JSON object"}, status=400
                    )
                data = parsed
            await sim.settle()  # the connection is free: no commit running in the thread
            try:
                status, result = await func(request, data)
            except AdminError as error:
                return web.json_response(
                    {"error": error.code, "message": error.message}, status=error.status
                )
            await sim.flush()
            return web.json_response(result, status=status)

        return wrapped

    async def ledger(request: web.Request, data: dict[str, Any]) -> tuple[int, Any]:
        terminal_id = request.query.get("terminal_id")
        holds = sim.processor.holds_view(terminal_id, datetime.now(UTC))
        return 200, {"entries": sim.ledger.ledger_view(terminal_id), "holds": holds}

    async def holds(request: web.Request, data: dict[str, Any]) -> tuple[int, Any]:
        if request.method == "POST":
            try:
                sim.processor.rules = hold_rules(data)
            except ValueError as error:
                raise _bad(str(error)) from None
        return 200, sim.processor.rules.to_json()

    async def terminals(request: web.Request, data: dict[str, Any]) -> tuple[int, Any]:
        if request.method == "GET":
            rows = sim.ledger.all(
                "SELECT kid, terminal_id, enrolled_at FROM terminals ORDER BY kid"
            )
            return 200, {"terminals": [dict(row) for row in rows]}
        jwks = data.get("jwks", [data.get("jwk")] if "jwk" in data else None)
        if not isinstance(jwks, list) or not jwks:
            raise _bad('give "jwk" (one public JWK) or "jwks" (a list)')
        with sim.ledger.transaction():
            kids = [enroll(sim.ledger, data.get("terminal_id"), jwk) for jwk in jwks]
        return 201, {"enrolled": kids}

    async def faults(request: web.Request, data: dict[str, Any]) -> tuple[int, Any]:
        if request.method == "POST":
            try:
                new = Faults.from_json(data)
            except ValueError as error:
                raise _bad(str(error)) from None
            sim.faults = new
            await service.set_down(new.down, asked_on_main=request.app is service.main_app)
        return 200, sim.faults.to_json()

    async def cards(request: web.Request, data: dict[str, Any]) -> tuple[int, Any]:
        if request.method == "GET":
            sim.processor.release_expired(datetime.now(UTC))
            rows = sim.ledger.all("SELECT * FROM cards ORDER BY rowid")
            return 200, {"cards": [card_view(row) for row in rows]}
        return 200, upsert_card(sim, data)

    async def fraud(request: web.Request, data: dict[str, Any]) -> tuple[int, Any]:
        if request.method == "POST":
            sim.processor.fraud = fraud_rule(data)
        return 200, sim.processor.fraud.to_json()

    async def refund_limit(request: web.Request, data: dict[str, Any]) -> tuple[int, Any]:
        if request.method == "POST":
            value = data.get("max")
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**12:
                return 400, {"error": "malformed", "message": "max must be minor units above 0"}
            sim.processor.refund_limit_minor = value
        return 200, {"max": sim.processor.refund_limit_minor}

    async def wallet_pay(request: web.Request, data: dict[str, Any]) -> tuple[int, Any]:
        intent_id = data.get("intent_id")
        if "payload" in data:
            try:
                fields = parse_mpm(data["payload"])
            except WalletError as error:
                raise _bad(f"payload: {error}") from None
            intent_id = fields.get("62.05")
            if not intent_id:
                raise _bad("payload has no reference label (62/05)")
            scheme = data.get("scheme")
            if scheme is not None:
                if scheme not in SCHEMES:
                    raise _bad(f"scheme must be one of {', '.join(SCHEMES)}")
                if not pays_through(fields, scheme):
                    raise AdminError(
                        409,
                        "conflict",
                        f"the code has no {SCHEMES[scheme].label} template: a {scheme} wallet "
                        "cannot pay it",
                    )
            intent = sim.ledger.intent(intent_id)
            if intent is not None and "54" in fields:
                amount = Amount.of(int(intent["value"]), intent["currency"])
                if fields["54"] != amount.format_plain():
                    raise AdminError(409, "conflict", "the payload's amount is not the intent's")
        if not isinstance(intent_id, str) or not intent_id:
            raise _bad('give "payload" (EMVCo text) or "intent_id"')
        card = data.get("card", "wallet-token")
        if not isinstance(card, str):
            raise _bad("card must be a card profile name")
        try:
            with sim.ledger.transaction():
                result = sim.processor.pay_intent(intent_id, card, datetime.now(UTC))
        except LookupError:
            raise AdminError(404, "not_found", "no such payment intent") from None
        except PermissionError as error:
            raise AdminError(409, "conflict", str(error)) from None
        except KeyError:
            raise AdminError(404, "not_found", f"no card profile {card!r}") from None
        return 200, result

    async def wallet_code(request: web.Request, data: dict[str, Any]) -> tuple[int, Any]:
        card = data.get("card", "wallet-token")
        ttl = data.get("expires_in_s", 300)
        if not isinstance(card, str):
            raise _bad("card must be a card profile name")
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 1 <= ttl <= 3600:
            raise _bad("expires_in_s must be 1 to 3600")
        try:
            with sim.ledger.transaction():
                result = sim.processor.issue_code(card, float(ttl), datetime.now(UTC))
        except KeyError:
            raise AdminError(404, "not_found", f"no card profile {card!r}") from None
        return 201, result

    async def wallet_paycode(request: web.Request, data: dict[str, Any]) -> tuple[int, Any]:
        scheme = data.get("scheme")
        card = data.get("card", "wallet-token")
        ttl = data.get("expires_in_s", CODE_TTL_S)
        confirm = data.get("confirm_after_s", 0)
        if not isinstance(card, str):
            raise _bad("card must be a card profile name")
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 1 <= ttl <= 3600:
            raise _bad("expires_in_s must be 1 to 3600")
        if confirm is not None and (
            isinstance(confirm, bool) or not isinstance(confirm, (int, float)) or confirm < 0
        ):
            raise _bad("confirm_after_s must be 0 or more seconds, or null (never confirms)")
        try:
            with sim.ledger.transaction():
                result = sim.processor.issue_pay_code(
                    str(scheme),
                    card,
                    datetime.now(UTC),
                    ttl_s=float(ttl),
                    confirm_after_s=None if confirm is None else float(confirm),
                )
        except ValueError as error:
            raise _bad(str(error)) from None
        except KeyError:
            raise AdminError(404, "not_found", f"no card profile {card!r}") from None
        return 201, result

    return [
        web.get("/sim/ledger", endpoint(ledger)),
        web.get("/sim/terminals", endpoint(terminals)),
        web.post("/sim/terminals", endpoint(terminals)),
        web.get("/sim/faults", endpoint(faults)),
        web.post("/sim/faults", endpoint(faults)),
        web.get("/sim/cards", endpoint(cards)),
        web.post("/sim/cards", endpoint(cards)),
        web.get("/sim/holds/rules", endpoint(holds)),
        web.post("/sim/holds/rules", endpoint(holds)),
        web.get("/sim/fraud", endpoint(fraud)),
        web.post("/sim/fraud", endpoint(fraud)),
        web.get("/sim/refund-limit", endpoint(refund_limit)),
        web.post("/sim/refund-limit", endpoint(refund_limit)),
        web.post("/sim/wallet/pay", endpoint(wallet_pay)),
        web.post("/sim/wallet/code", endpoint(wallet_code)),
        web.post("/sim/wallet/paycode", endpoint(wallet_paycode)),
    ]
