"""The content of a receipt, built from a journal row and the terminal's identity.

A receipt never holds more of the card number than the masked PAN (first six and last four at
most); the customer copy shows the last four only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from terminal.money import Amount
from terminal.payment.api import TransactionView
from terminal.security.pan import last_four, mask_pan
from terminal.settings import Settings


class Copy(StrEnum):
    MERCHANT = "merchant"
    CUSTOMER = "customer"


@dataclass(frozen=True, slots=True)
class Receipt:
    """Everything printed on one copy of a slip."""

    copy: Copy
    merchant_name: str
    merchant_address: str
    merchant_city: str
    merchant_id: str
    terminal_id: str
    transaction_id: str
    type: str
    """sale, refund, void."""
    created_at: datetime
    amount: Amount
    result: str
    """approved, approved_offline, declined, cancelled, error (api.Result values)."""
    entry: str
    card_number: str
    """Masked for this copy: first 6 + last 4 (merchant) or last 4 (customer); "" for QR."""
    scheme: str = ""
    aid: str = ""
    label: str = ""
    """Application label (tag 50), e.g. "VISA CREDIT"."""
    cryptogram_type: str = ""
    """TC, ARQC or AAC, as the card produced it."""
    cvm: str = ""
    """How the cardholder was verified (`terminal.emv.receipt_data.Cvm` values); "": unknown
    (no card, or a row from before posterm recorded it), no CVM line is printed."""
    auth_code: str = ""
    code: str = ""
    reference: str = ""
    tip: Amount | None = None
    message: str = ""
    footer: str = ""
    requested: Amount | None = None
    """A partially approved sale: what was asked (`amount` is what the card paid)."""
    ref: str = ""
    """A capture's or increment's pre-authorisation; a refund's or void's sale."""
    held: Amount | None = None
    """A pre-authorisation's amount held (increments included)."""
    expires_at: datetime | None = None
    """When the bank releases an uncaptured hold."""

    @property
    def hold(self) -> bool:
        """A pre-authorisation: the slip must say the amount is held, not charged."""
        return self.type == "preauth"

    paid_with: str = ""
    """A cross-border wallet payment's debit in the wallet's currency, with the rate."""

    @property
    def approved(self) -> bool:
        return self.result in ("approved", "approved_offline")

    @property
    def offline(self) -> bool:
        return self.result == "approved_offline"


def safe_card_number(masked_pan: str, copy: Copy) -> str:
    """The card number as this copy may print it, whatever the journal handed over."""
    digits = re.sub(r"[^0-9*]", "", masked_pan)
    if not digits.strip("*"):
        return ""
    if copy is Copy.CUSTOMER or "*" not in digits:
        # A value without '*' was not masked by its producer: trust nothing but the last four.
        shown = mask_pan(digits) if "*" not in digits else digits
        return "*" * max(len(shown) - 4, 4) + last_four(shown)
    return digits


def receipt_result(view: TransactionView) -> str:
    """The api.Result value of a journal row (rows keep result and state apart)."""
    return view.result or view.state


def receipt_for(view: TransactionView, settings: Settings, copy: Copy) -> Receipt:
    """The `copy` of the receipt for one journal row."""
    terminal = settings.terminal
    return Receipt(
        copy=copy,
        merchant_name=terminal.merchant_name,
        merchant_address=terminal.merchant_address,
        merchant_city=terminal.merchant_city,
        merchant_id=terminal.merchant_id,
        terminal_id=terminal.terminal_id,
        transaction_id=view.id,
        type=view.type,
        created_at=view.created_at,
        amount=view.amount,
        result=receipt_result(view),
        entry=view.entry,
        card_number=safe_card_number(view.masked_pan, copy),
        scheme=view.scheme,
        aid=view.aid,
        label=view.label,
        cryptogram_type=view.cryptogram_type,
        cvm=view.cvm,
        auth_code=view.auth_code,
        code=view.code,
        reference=view.reference,
        tip=view.tip,
        message=view.message,
        footer=settings.ui.receipt_footer if copy is Copy.CUSTOMER else "",
        requested=view.requested,
        ref=view.ref,
        held=view.held,
        expires_at=_moment(view.expires_at),
        paid_with=view.paid_with,
    )


def _moment(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
