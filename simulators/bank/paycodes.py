"""The simulated wallets behind numeric pay codes: WeChat Pay, Alipay, UnionPay.

Modelled on the wallets' acquirer APIs for a code the shop scans (WeChat Pay micropay /
orderquery / reverse, "Quick Pay"; Alipay alipay.trade.pay / query / cancel; UnionPay's
consumer-presented QR payment): a pay attempt answers paid, refused, or "the customer is
confirming" (WeChat Pay's USERPAYING, Alipay's 10003 WAIT_BUYER_PAY) — the payer must enter a
password or use biometrics on the phone. The shop then asks the status at the wallet's pace,
and cancels (reverse) when the customer does not confirm in time: a cancel of an unpaid attempt
closes it so it can never be paid, a cancel of a paid one gives the money back. Sources:
WeChat Pay "Quick Pay API" (pay.weixin.qq.com/wiki/doc/api/wxpay/ch/pay/QuickPay/chapter3_3:
on USERPAYING query every ~10 s up to ~30 s, then reverse), Alipay face-to-face payment
(alipay.trade.pay: code 10003 → poll alipay.trade.query, then alipay.trade.cancel).

Protocol v1 carries this without new states: the `authorize` (entry `qr_cpm`, `qr.scheme`)
answers `pending` with `poll_s`; `qr_status` with `ref` = the authorize id answers `pending`,
`approved` or `declined`; `reverse` of that id cancels or refunds.

Rules per code (issued by the admin API, `POST /sim/wallet/paycode`): one use; valid 60 s (as
WeChat Pay's codes); pays only through its own scheme; `confirm_after_s` 0 pays at once, N
makes the payer confirm N seconds after the attempt, null never confirms. A wallet in another
currency than the sale (cross-border) is debited in its own currency at the simulator's rate;
the answer carries `wallet_amount` and `rate` (a decimal string).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from simulators.bank.intents import QrIntents, auth_code
from simulators.bank.issuer import Decision, check_funds, check_status
from simulators.bank.requests import Request
from terminal.gateway.messages import parse_timestamp, utc_timestamp
from terminal.money import Amount
from terminal.qr.wallet_code import RULES, WalletScheme

SCHEMES = tuple(scheme.value for scheme in WalletScheme)
CODE_TTL_S = 60.0
"""A pay code is valid for one minute (WeChat Pay, "Important Parameters": auth_code)."""
POLL_S = {"wechatpay": 1.0, "alipay": 1.0, "unionpay": 1.0}
"""The pace the simulated wallets ask for, in seconds. The real wallets publish 5–10 s; the
simulator is faster so the demo and the tests do not wait."""
RATES: dict[tuple[str, str], str] = {
    ("EUR", "CNY"): "7.7120",
    ("EUR", "HKD"): "8.4310",
    ("USD", "CNY"): "7.1180",
    ("GBP", "CNY"): "9.0410",
    ("SGD", "CNY"): "5.3020",
    ("THB", "CNY"): "0.2004",
}
"""Wallet currency per sale currency unit, as decimal strings (never floats)."""


def convert(amount: Amount, wallet_currency: str) -> tuple[Amount, str] | None:
    """`amount` in `wallet_currency` at the simulator's rate (half up to the minor unit), with
    the rate; None when the simulator has no rate for the pair."""
    rate = RATES.get((amount.currency.code, wallet_currency))
    if rate is None:
        return None
    target = Amount.of(0, wallet_currency).currency
    value = Decimal(amount.minor) * Decimal(rate)
    shift = Decimal(10) ** (target.exponent - amount.currency.exponent)
    minor = int((value * shift).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return Amount.of(minor, target.code), rate


def new_pay_code(scheme: str) -> str:
    """Random digits in the scheme's published shape (the shortest length, lowest prefix
    after the first: 18-digit WeChat Pay "13…", Alipay "28…", 19-digit UnionPay "62…")."""
    rule = next(rule for rule in RULES if rule.scheme.value == scheme)
    prefix = {"wechatpay": "13", "alipay": "28", "unionpay": "62"}[scheme]
    length = 18 if scheme == "alipay" else rule.lengths.start
    return prefix + "".join(secrets.choice("0123456789") for _ in range(length - 2))


class PayCodes(QrIntents):
    """The pay-code part of `Processor` (which provides `ledger` and `fraud`)."""

    # -- admin ------------------------------------------------------------------------------

    def issue_pay_code(
        self,
        scheme: str,
        card_name: str,
        now: datetime,
        *,
        ttl_s: float = CODE_TTL_S,
        confirm_after_s: float | None = 0.0,
    ) -> dict[str, Any]:
        """A one-time pay code of `scheme` paying from the card profile `card_name`."""
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}")
        card = self.ledger.card_by_name(card_name)
        if card is None:
            raise KeyError(card_name)
        text = new_pay_code(scheme)
        expires = utc_timestamp(now + timedelta(seconds=ttl_s))
        self.ledger.run(
            "INSERT INTO paycodes (digest, scheme, account, expires_at, confirm_s)"
            " VALUES (?,?,?,?,?)",
            _digest(text),
            scheme,
            card["account"],
            expires,
            confirm_after_s,
        )
        return {
            "code": text,
            "scheme": scheme,
            "card": card_name,
            "currency": card["currency"],
            "expires_at": expires,
            "confirm_after_s": confirm_after_s,
        }

    # -- protocol ---------------------------------------------------------------------------

    def pay_with_code(self, req: Request, text: bytes, now: datetime) -> dict[str, Any]:
        """An `authorize` carrying a wallet pay code (`qr.scheme` names the wallet)."""
        assert req.amount is not None
        scheme = req.qr.get("scheme")
        code = self.ledger.one("SELECT * FROM paycodes WHERE digest = ?", _digest(text))
        if code is None:
            return self._declined(req, now, Decision("14", "unknown pay code"))
        if code["scheme"] != scheme:
            return self._declined(
                req, now, Decision("14", f"a {code['scheme']} pay code sent as {scheme!r}")
            )
        if code["used_by"] and code["used_by"] != req.id:
            return self._declined(req, now, Decision("65", "this pay code was already used"))
        if parse_timestamp(code["expires_at"]) < now:
            return self._declined(req, now, Decision("54", "the pay code expired"))
        card = self.ledger.card(code["account"])
        if card is None:
            return self._declined(req, now, Decision("14", "unknown wallet"))
        decision = check_status(card, now)
        if not decision.approved:
            return self._declined(req, now, decision)
        self.ledger.run("UPDATE paycodes SET used_by = ? WHERE digest = ?", req.id, code["digest"])
        confirm_s = code["confirm_s"]
        confirm_at = (
            None if confirm_s is None else utc_timestamp(now + timedelta(seconds=confirm_s))
        )
        self.ledger.run(
            "INSERT INTO wallet_payments (message_id, terminal_id, scheme, account, value,"
            " currency, confirm_at, state) VALUES (?,?,?,?,?,?,?,'confirming')",
            req.id,
            req.terminal_id,
            scheme,
            card["account"],
            req.amount.minor,
            req.amount.currency.code,
            confirm_at,
        )
        return self._wallet_answer(req, now, req.id)

    def wallet_status(self, req: Request, now: datetime) -> dict[str, Any] | None:
        """`qr_status` for a wallet payment (ref = its authorize id); None: not one."""
        if self._payment(req.ref) is None:
            return None
        return self._wallet_answer(req, now, req.ref)

    def cancel_wallet_payment(self, ref: str, now: datetime) -> bool:
        """`reverse` of a wallet payment the customer has not confirmed: closed for good, so a
        late confirmation cannot charge (True). A confirmed one is left to the ordinary
        reversal of its ledger entry (False), as is anything else."""
        payment = self._payment(ref)
        if payment is None:
            return False
        state = self._settle_payment(payment, now)
        if state != "confirming":
            return False
        self._set_payment(
            ref, "cancelled", "05", "cancelled by the merchant before the payer confirmed"
        )
        return True

    def debit_of(self, entry_id: str, minor: int) -> int:
        """What `minor` units of the sale `entry_id` were in its wallet's currency (the same
        number for anything but a cross-border wallet payment)."""
        payment = self._payment(entry_id)
        if payment is None or not payment["rate"]:
            return minor
        sale = Amount.of(minor, payment["currency"])
        converted = convert(sale, payment["wallet_currency"])
        return converted[0].minor if converted is not None else minor

    # -- the payment's life -----------------------------------------------------------------

    def _payment(self, message_id: str) -> sqlite3.Row | None:
        return self.ledger.one("SELECT * FROM wallet_payments WHERE message_id = ?", message_id)

    def _set_payment(
        self, message_id: str, state: str, code: str, reason: str, auth: str = ""
    ) -> None:
        self.ledger.run(
            "UPDATE wallet_payments SET state = ?, code = ?, reason = ?, auth_code = ?"
            " WHERE message_id = ?",
            state,
            code,
            reason,
            auth,
            message_id,
        )

    def _settle_payment(self, payment: sqlite3.Row, now: datetime) -> str:
        """The payment's state now: a confirming one whose payer confirmed is charged here
        (once: the state leaves `confirming` in the same ledger transaction)."""
        state = str(payment["state"])
        if state != "confirming" or payment["confirm_at"] is None:
            return state
        if parse_timestamp(payment["confirm_at"]) > now:
            return state
        return self._charge_wallet(payment, now)

    def _charge_wallet(self, payment: sqlite3.Row, now: datetime) -> str:
        card = self.ledger.card(payment["account"])
        sale = Amount.of(int(payment["value"]), payment["currency"])
        if card is None:
            self._set_payment(payment["message_id"], "declined", "14", "unknown wallet")
            return "declined"
        debit, rate = sale, ""
        if card["currency"] != sale.currency.code:
            converted = convert(sale, card["currency"])
            if converted is None:
                reason = f"the wallet cannot pay in {sale.currency.code}"
                self._set_payment(payment["message_id"], "declined", "12", reason)
                return "declined"
            debit, rate = converted
        decision = check_funds(self.ledger, card, debit, now, self.fraud)
        if not decision.approved:
            self._set_payment(payment["message_id"], "declined", decision.code, decision.reason)
            return "declined"
        code = auth_code()
        self.ledger.move(card["account"], -debit.minor)
        self.ledger.add_entry(
            id=payment["message_id"],
            ref="",
            type="authorize",
            terminal_id=payment["terminal_id"],
            value=sale.minor,
            currency=sale.currency.code,
            result="approved",
            code="00",
            at=utc_timestamp(now),
            account=card["account"],
            auth_code=code,
        )
        self.ledger.run(
            "UPDATE wallet_payments SET wallet_value = ?, wallet_currency = ?, rate = ?"
            " WHERE message_id = ?",
            debit.minor,
            debit.currency.code,
            rate,
            payment["message_id"],
        )
        self._set_payment(payment["message_id"], "approved", "00", "", code)
        return "approved"

    def _wallet_answer(self, req: Request, now: datetime, message_id: str) -> dict[str, Any]:
        payment = self._payment(message_id)
        assert payment is not None
        state = self._settle_payment(payment, now)
        payment = self._payment(message_id)
        assert payment is not None
        extra: dict[str, Any] = {"scheme": payment["scheme"]}
        if state == "confirming":
            reason = "the customer is confirming the payment on their phone"
            return self._answer(
                req, now, "pending", "", reason, poll_s=POLL_S[payment["scheme"]], **extra
            )
        if state == "approved":
            if payment["rate"]:
                extra["wallet_amount"] = {
                    "value": payment["wallet_value"],
                    "currency": payment["wallet_currency"],
                }
                extra["rate"] = payment["rate"]
            return self._answer(req, now, "approved", "00", "", payment["auth_code"], **extra)
        return self._answer(
            req, now, "declined", payment["code"] or "05", payment["reason"] or state, **extra
        )


def _digest(text: bytes | str) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(b"paycode:" + data).hexdigest()
