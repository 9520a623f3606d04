"""Merchant-presented QR intents and one-time consumer codes, as the simulated acquirer keeps them.

An intent is created `pending` by `qr_intent`, paid by the wallet (admin API), and ends
`approved`, `declined`, `expired` (checked lazily when asked), `voided` or `reversed`.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from simulators.bank.issuer import Decision, FraudRule, check_funds, check_status
from simulators.bank.ledger import Ledger
from simulators.bank.requests import Request
from simulators.bank.wallet import consumer_code
from terminal.gateway.messages import parse_timestamp, utc_timestamp
from terminal.money import Amount


def auth_code() -> str:
    return "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(6))


class QrIntents:
    """The QR half of `Processor` (which provides `ledger`, `fraud` and `intent_ttl_s`)."""

    ledger: Ledger
    fraud: FraudRule
    intent_ttl_s: float

    @staticmethod
    def _answer(
        req: Request,
        now: datetime,
        result: str,
        code: str,
        reason: str = "",
        auth: str = "",
        **extra: Any,
    ) -> dict[str, Any]:
        return {
            "v": 1,
            "id": req.id,
            "type": req.type,
            "result": result,
            "code": code,
            "auth_code": auth,
            "reason": reason,
            "gateway_ref": "SIM" + secrets.token_hex(6).upper(),
            "at": utc_timestamp(now),
            **extra,
        }

    def _declined(self, req: Request, now: datetime, decision: Decision) -> dict[str, Any]:
        return self._answer(req, now, "declined", decision.code, decision.reason)

    # -- merchant-presented QR -------------------------------------------------------------

    def _qr_intent(self, req: Request, now: datetime) -> dict[str, Any]:
        assert req.amount is not None
        if req.amount.minor <= 0:
            return self._declined(req, now, Decision("13", "amount must be more than zero"))
        intent_id = "PI" + secrets.token_hex(10).upper()
        expires = utc_timestamp(now + timedelta(seconds=self.intent_ttl_s))
        self.ledger.run(
            "INSERT INTO intents (intent_id, message_id, terminal_id, value, currency, expires_at,"
            " state) VALUES (?,?,?,?,?,?,'pending')",
            intent_id,
            req.id,
            req.terminal_id,
            req.amount.minor,
            req.amount.currency.code,
            expires,
        )
        return self._answer(req, now, "pending", "", intent_id=intent_id, expires_at=expires)

    def _set_intent(self, intent_id: str, state: str, code: str, reason: str) -> None:
        self.ledger.run(
            "UPDATE intents SET state = ?, code = ?, reason = ? WHERE intent_id = ?",
            state,
            code,
            reason,
            intent_id,
        )

    def intent_state(self, intent: sqlite3.Row, now: datetime) -> str:
        """The intent's state, expiring a pending one whose time is up."""
        if intent["state"] == "pending" and parse_timestamp(intent["expires_at"]) < now:
            self._set_intent(intent["intent_id"], "expired", "", "the code was not paid in time")
            return "expired"
        return str(intent["state"])

    def wallet_status(self, req: Request, now: datetime) -> dict[str, Any] | None:
        """A wallet pay code's payment status (paycodes.PayCodes); None: not one."""
        return None

    def _qr_status(self, req: Request, now: datetime) -> dict[str, Any]:
        wallet = self.wallet_status(req, now)
        if wallet is not None:
            return wallet
        intent = self.ledger.intent(req.ref)
        if intent is None:
            return self._declined(req, now, Decision("12", "unknown payment intent"))
        state = self.intent_state(intent, now)
        extra = {"intent_id": intent["intent_id"], "expires_at": intent["expires_at"]}
        if state in ("pending", "expired"):
            return self._answer(req, now, state, "", intent["reason"], **extra)
        if state == "approved":
            return self._answer(req, now, "approved", "00", "", intent["auth_code"], **extra)
        return self._answer(
            req, now, "declined", intent["code"] or "05", intent["reason"] or state, **extra
        )

    def pay_intent(self, intent_id: str, card_name: str, now: datetime) -> dict[str, Any]:
        """The wallet pays an intent (admin API); the caller holds the transaction."""
        intent = self.ledger.intent(intent_id)
        if intent is None:
            raise LookupError("unknown payment intent")
        state = self.intent_state(intent, now)
        if state != "pending":
            raise PermissionError(f"the intent is {state}")
        card = self.ledger.card_by_name(card_name)
        if card is None:
            raise KeyError(card_name)
        amount = Amount.of(int(intent["value"]), intent["currency"])
        decision = check_status(card, now)
        if decision.approved:
            decision = check_funds(self.ledger, card, amount, now, self.fraud)
        if not decision.approved:
            self._set_intent(intent_id, "declined", decision.code, decision.reason)
            return {"intent_id": intent_id, "result": "declined", "code": decision.code}
        code = auth_code()
        self.ledger.move(card["account"], -amount.minor)
        self.ledger.add_entry(
            id=intent["message_id"],
            ref=intent_id,
            type="qr_intent",
            terminal_id=intent["terminal_id"],
            value=amount.minor,
            currency=amount.currency.code,
            result="approved",
            code="00",
            at=utc_timestamp(now),
            account=card["account"],
            auth_code=code,
        )
        self.ledger.run(
            "UPDATE intents SET state = 'approved', code = '00', auth_code = ? WHERE intent_id = ?",
            code,
            intent_id,
        )
        return {"intent_id": intent_id, "result": "approved", "code": "00", "auth_code": code}

    def issue_code(self, card_name: str, ttl_s: float, now: datetime) -> dict[str, Any]:
        """A one-time consumer-presented code paying from the card profile `card_name`."""
        card = self.ledger.card_by_name(card_name)
        if card is None:
            raise KeyError(card_name)
        text, token = consumer_code(
            card["masked_pan"], card["aid"] or "A0000000031010", card["label"], card["expiry"]
        )
        expires = utc_timestamp(now + timedelta(seconds=ttl_s))
        self.ledger.run(
            "INSERT INTO codes (digest, account, expires_at) VALUES (?,?,?)",
            hashlib.sha256(text.encode("utf-8")).hexdigest(),
            card["account"],
            expires,
        )
        return {
            "code": text,
            "format": "emvco-cpm",
            "card": card_name,
            "masked_pan": token[:6] + "*" * (len(token) - 10) + token[-4:],
            "expires_at": expires,
        }
