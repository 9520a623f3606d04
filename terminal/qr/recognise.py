"""Which kind of code a scanned or pasted text is, before reading it in detail."""

from __future__ import annotations

from enum import StrEnum

from terminal.qr.cpm import ConsumerCode, parse_consumer_code
from terminal.qr.data_objects import is_ascii_digits
from terminal.qr.errors import NotAPaymentCode
from terminal.qr.mpm import looks_like_merchant_code
from terminal.qr.wallet_code import WalletCode, looks_like_wallet_code, recognise_wallet_code


class CodeKind(StrEnum):
    MPM = "mpm"
    """EMVCo merchant-presented: ID-length-value text starting with 000201."""
    CPM = "cpm"
    """EMVCo consumer-presented: base64 of BER-TLV starting with tag 85 ("hQ...")."""
    WALLET_CODE = "wallet_code"
    """A wallet's numeric pay code (WeChat Pay, Alipay, UnionPay), as a QR code or Code 128."""
    UNKNOWN = "unknown"


def guess_kind(text: str) -> CodeKind:
    """The kind a text claims to be by its first characters (reading it may still fail)."""
    stripped = text.strip()
    if stripped.startswith("hQ"):
        return CodeKind.CPM
    if looks_like_wallet_code(stripped):
        return CodeKind.WALLET_CODE
    if len(stripped) >= 4 and is_ascii_digits(stripped[:4]):
        return CodeKind.MPM
    return CodeKind.UNKNOWN


def recognise_scanned_code(text: str) -> ConsumerCode | WalletCode:
    """A scanned text as the customer's code: an EMVCo CPM code or a wallet pay code; else a
    `QrError` naming what was seen (nothing is sent for it)."""
    if guess_kind(text) is CodeKind.WALLET_CODE:
        return recognise_wallet_code(text)
    return recognise_customer_code(text)


def recognise_customer_code(text: str) -> ConsumerCode:
    """A scanned text as the customer's payment code, or a `QrError` the operator can act on.

    Customer-presented codes are EMVCo CPM (the gateway simulator's one-time wallet codes are
    too); a shop's merchant-presented code, a web address or other text is refused.
    """
    if guess_kind(text) is CodeKind.CPM:
        return parse_consumer_code(text)
    if looks_like_merchant_code(text):
        raise NotAPaymentCode(
            "That is a shop's payment code, not the customer's: ask the customer to open the "
            "pay code in their banking or wallet app."
        )
    stripped = text.strip()
    if "://" in stripped or stripped.lower().startswith("www."):
        raise NotAPaymentCode("That code is a web address, not a payment code.")
    raise NotAPaymentCode("That code is not a payment code.")
