"""Wallet pay codes: the numeric one-time codes a wallet app shows as a QR code and a Code 128
barcode for the shop to scan ("付款码", payment code, auth_code in the acquirer APIs).

The rules are the ones each wallet publishes for acquirers; a code that breaks them is refused
here, with a sentence saying what was seen, before anything is sent:

- WeChat Pay: 18 digits starting 10, 11, 12, 13, 14 or 15 (10–14 mainland China users, 15 Hong
  Kong). Source: WeChat Pay "Development and Access Instructions — Important Parameters"
  (auth_code), pay.weixin.qq.com/wiki/doc/api/wxpay/en/guide/pos/ImportantParameters.shtml,
  and the micropay error AUTH_CODE_INVALID ("以10/11/12/13/14/15为前缀的18位数字").
- Alipay: 16 to 24 digits starting 25 to 30. Source: Alipay open platform, alipay.trade.pay
  (face-to-face barcode payment), field auth_code: "25~30开头的长度为16~24位的数字".
- UnionPay: 19 digits starting 62. Source: UnionPay International QR code payment
  specification, consumer-presented (C2B) mode: the payment code is a 19-digit number with
  the prefix 62.

The code is a bearer token for one payment: this module shows only its scheme, length and
first and last digits, never the whole number (`masked`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from terminal.qr.errors import QrError


class WalletScheme(StrEnum):
    """The wallets whose pay codes the terminal recognises (`fields.scheme` of `qr parse`)."""

    WECHATPAY = "wechatpay"
    ALIPAY = "alipay"
    UNIONPAY = "unionpay"

    @property
    def label(self) -> str:
        """The wallet's name as a customer and the receipt say it."""
        return {"wechatpay": "WeChat Pay", "alipay": "Alipay", "unionpay": "UnionPay"}[self.value]


@dataclass(frozen=True, slots=True)
class Rule:
    """One wallet's published pay code shape: lengths and two-digit prefixes."""

    scheme: WalletScheme
    lengths: range
    prefixes: range

    def matches(self, digits: str) -> bool:
        return len(digits) in self.lengths and int(digits[:2]) in self.prefixes

    def describe(self) -> str:
        return f"{self.scheme.label} {self.shape()}"

    def shape(self) -> str:
        length = (
            f"{self.lengths.start}"
            if len(self.lengths) == 1
            else f"{self.lengths.start} to {self.lengths.stop - 1}"
        )
        if len(self.prefixes) == 1:
            prefix = f"{self.prefixes.start}"
        else:
            prefix = f"{self.prefixes.start}–{self.prefixes.stop - 1}"
        return f"{length} digits starting {prefix}"


RULES: tuple[Rule, ...] = (
    Rule(WalletScheme.WECHATPAY, range(18, 19), range(10, 16)),
    Rule(WalletScheme.ALIPAY, range(16, 25), range(25, 31)),
    Rule(WalletScheme.UNIONPAY, range(19, 20), range(62, 63)),
)
"""The rules, in the order a sentence lists them; no two overlap (prefixes differ)."""

MAX_CANDIDATE = 40
"""Longer digit runs are not read as a wallet code attempt (an MPM payload is longer)."""

_CANDIDATE = re.compile(r"^[0-9][0-9 \-./]*[0-9A-Za-z]?$")
_SUFFIX = re.compile(r"^([0-9]+)([\-./ ]?)([0-9A-Za-z]{1,2})$")


class WalletCodeError(QrError):
    """A numeric code that is not a wallet pay code; the sentence names what was seen."""


@dataclass(frozen=True, slots=True)
class WalletCode:
    """A recognised wallet pay code."""

    text: str
    """The digits, exactly as scanned: sealed for the bank, never shown or stored."""
    scheme: WalletScheme

    @property
    def masked(self) -> str:
        """First two and last four digits, e.g. 13**********1234 (for logs and screens)."""
        return masked(self.text)

    def fields(self) -> dict[str, str | int]:
        """`qr parse --json` fields: the scheme and the code's shape, not the code."""
        return {
            "scheme": self.scheme.value,
            "wallet": self.scheme.label,
            "length": len(self.text),
            "masked": self.masked,
        }


def masked(digits: str) -> str:
    if len(digits) <= 6:
        return "*" * len(digits)
    return digits[:2] + "*" * (len(digits) - 6) + digits[-4:]


def looks_like_wallet_code(text: str) -> bool:
    """Digits (perhaps with spaces, dashes or a trailing check character) short enough to be
    a pay code attempt, and not an EMVCo merchant payload (000201...)."""
    stripped = text.strip()
    if not stripped or len(stripped) > MAX_CANDIDATE or stripped.startswith("000201"):
        return False
    return _CANDIDATE.match(stripped) is not None


def recognise_wallet_code(text: str) -> WalletCode:
    """The wallet whose rules `text` satisfies, or `WalletCodeError` naming what was seen."""
    stripped = text.strip()
    if not stripped:
        raise WalletCodeError("the code is empty: nothing to read")
    if stripped.isascii() and stripped.isdigit():
        for rule in RULES:
            if rule.matches(stripped):
                return WalletCode(stripped, rule.scheme)
        raise WalletCodeError(_not_a_wallet_code(stripped))
    if " " in stripped and stripped.replace(" ", "").isdigit():
        raise WalletCodeError(
            "the code has spaces in it: a wallet pay code is digits only. Scan it from the "
            "customer's phone instead of typing it."
        )
    found = _SUFFIX.match(stripped)
    if found is not None:
        digits, separator, suffix = found.groups()
        candidates = [rule for rule in RULES if rule.matches(digits)]
        where = f"{_number(len(digits))} followed by {separator + suffix!r}"
        if candidates:
            raise WalletCodeError(
                f"{where}, which looks like a check digit added by the scanner or by hand: "
                f"{candidates[0].scheme.label} pay codes are the digits alone. Set the scanner "
                "to send no check digit, or scan the code again."
            )
        raise WalletCodeError(f"{where} is not a wallet pay code ({_shapes()}).")
    raise WalletCodeError(
        "the code mixes digits with other characters: a wallet pay code is digits only."
    )


def _not_a_wallet_code(digits: str) -> str:
    """The sentence for digits that match no rule: the length, and the nearest rule's fix."""
    seen = f"{_number(len(digits))} is not a wallet pay code"
    by_prefix = [rule for rule in RULES if int(digits[:2]) in rule.prefixes]
    if by_prefix:
        return (
            f"{seen}: codes starting {digits[:2]} are {by_prefix[0].scheme.label}'s, which has "
            f"{by_prefix[0].shape()}. Scan the customer's code again."
        )
    by_length = [rule for rule in RULES if len(digits) in rule.lengths]
    if by_length:
        return (
            f"{seen}: no wallet's codes start {digits[:2]} ("
            + "; ".join(rule.describe() for rule in by_length)
            + ")."
        )
    return f"{seen} ({_shapes()})."


def _number(length: int) -> str:
    """ "a 12-digit number", "an 18-digit number"."""
    article = "an" if length in (8, 11, 18) or 80 <= length < 90 else "a"
    return f"{article} {length}-digit number"


def _shapes() -> str:
    return "; ".join(rule.describe() for rule in RULES)
