"""A wallet from another country paid in its own currency: what the customer's wallet was
debited, and at which rate, as the bank answered it.

The answer of an approved wallet payment may carry `wallet_amount` ({"value": int minor units,
"currency": ISO 4217}) and `rate` (a decimal string, wallet currency per unit of the sale's
currency, e.g. "7.7120"). Both are read strictly (the rate stays a string: no float ever touches
it) and journaled as one small JSON text, so history and receipts show
"Paid with Alipay — CNY 96.40 at 7.7120" without reading the stored answer again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from terminal.money import Amount, AmountError

_RATE = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,9})?$")
WALLETS = {"wechatpay": "WeChat Pay", "alipay": "Alipay", "unionpay": "UnionPay"}


@dataclass(frozen=True, slots=True)
class WalletDebit:
    """The customer's side of a cross-border wallet payment."""

    wallet: str
    """wechatpay, alipay, unionpay."""
    amount: Amount
    rate: str

    def sentence(self) -> str:
        """ "Paid with Alipay — CNY 96.40 at 7.7120"."""
        name = WALLETS.get(self.wallet, self.wallet or "the wallet")
        shown = f"{self.amount.currency.code} {self.amount.format_plain()}"
        return f"Paid with {name} — {shown} at {self.rate}"

    def to_text(self) -> str:
        """The journal's form."""
        return json.dumps(
            {"wallet": self.wallet, **self.amount.to_json(), "rate": self.rate},
            separators=(",", ":"),
        )


def debit_of_answer(payload: dict[str, Any]) -> WalletDebit | None:
    """The debit an approved answer names; None when it names none or names it badly (the
    payment stands either way: the bank approved it in the sale's currency)."""
    wallet_amount, rate = payload.get("wallet_amount"), payload.get("rate")
    if not isinstance(wallet_amount, dict) or not isinstance(rate, str):
        return None
    return _debit(str(payload.get("scheme", "")), wallet_amount, rate)


def debit_of_text(text: str | None) -> WalletDebit | None:
    """The journal's form read back; None for an empty or unreadable value."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    rate = data.get("rate")
    if not isinstance(rate, str):
        return None
    amount = {"value": data.get("value"), "currency": data.get("currency")}
    return _debit(str(data.get("wallet", "")), amount, rate)


def _debit(wallet: str, amount: dict[str, Any], rate: str) -> WalletDebit | None:
    if not _RATE.match(rate) or wallet not in WALLETS:
        return None
    value = amount.get("value")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    try:
        debited = Amount.from_json({"value": value, "currency": amount.get("currency")})
    except (AmountError, TypeError, ValueError, KeyError):
        return None
    return WalletDebit(wallet, debited, rate)
