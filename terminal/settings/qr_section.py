"""`[qr]`: scanning customers' codes, the merchant-presented code and its national scheme
accounts (`[[qr.merchant_accounts]]`), and how long a wallet payment may wait for the customer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from terminal.settings.section_base import STRICT


class MerchantAccount(BaseModel):
    """One national QR scheme account in the merchant-presented code (`[[qr.merchant_accounts]]`
    in the site file); its scheme's rules are checked with the configuration
    (terminal/qr/schemes.py)."""

    model_config = STRICT

    scheme: Literal["pix", "promptpay", "paynow", "qris", "vietqr", "khqr"]
    """The national scheme: pix, promptpay, paynow, qris, vietqr or khqr."""
    account: str
    """The merchant's key or proxy id in the scheme: a Pix key; a PromptPay mobile number,
    national/tax id or e-wallet id; a PayNow mobile number or UEN; a QRIS NMID; a VietQR
    "BIN:account"; a KHQR Bakong account id "name@bank"."""
    tag: str = ""
    """Template ID (26 to 51) the account goes in; empty: the scheme's own (Pix 26, PromptPay
    29, PayNow 26, QRIS 51, VietQR 38, KHQR 29)."""
    gui: str = ""
    """The scheme's globally unique identifier (sub-ID 00); empty: the scheme's published one."""
    fields: dict[str, str] = Field(default_factory=dict)
    """Further sub-fields of the template by two-digit ID, e.g. {"03" = "UKE"} for QRIS."""


class QrSection(BaseModel):
    """QR payments: the decoder used for scanning and the merchant-presented code's lifetime."""

    model_config = STRICT

    decoder: Literal["zxing", "pyzbar", "opencv"] = "zxing"
    """QR decoder: zxing (default, fastest and most reliable), pyzbar or opencv."""
    scan_timeout_s: float = Field(default=30.0, gt=0, le=300)
    """Seconds to look for a customer's code before the scan is cancelled."""
    intent_timeout_s: float = Field(default=120.0, gt=0, le=900)
    """Seconds a merchant-presented code stays payable."""
    poll_interval_s: float = Field(default=1.0, gt=0, le=30)
    """Seconds between payment status checks while a merchant-presented code is shown."""
    wallet_confirm_timeout_s: float = Field(default=30.0, gt=0, le=300)
    """Seconds to wait for a customer who must confirm a wallet pay code payment on their
    phone (password or biometrics); then the payment is cancelled and reversed, so nothing
    stays charged. The terminal asks the wallet's status at the pace the wallet gives."""
    merchant_account_gui: str = "com.posterm.pay"
    """Globally unique identifier of the payment network in the merchant account template
    (ID 26/00 of merchant-presented codes): a reverse domain name, an AID or a UUID,
    at most 32 characters, as the acquirer assigns it."""
    merchant_accounts: list[MerchantAccount] = Field(default_factory=list)
    """National QR scheme accounts shown in the merchant-presented code beside the terminal's
    own network template (which then takes the first free ID from 26): several schemes in one
    code. Written as [[qr.merchant_accounts]] tables in the site file."""
    roi: str = ""
    """Part of the camera picture to search for codes, as fractions "x,y,width,height"
    (e.g. "0.25,0.25,0.5,0.5" for the centre); empty: the whole picture."""

    @field_validator("merchant_account_gui")
    @classmethod
    def _gui(cls, value: str) -> str:
        if not 1 <= len(value) <= 32 or not value.isascii() or not value.isprintable():
            raise ValueError("must be 1 to 32 printable ASCII characters (e.g. com.example.pay)")
        return value

    @field_validator("roi")
    @classmethod
    def _roi(cls, value: str) -> str:
        if not value.strip():
            return ""
        try:
            x, y, w, h = (float(part) for part in value.split(","))
        except ValueError:
            raise ValueError(
                'must be "x,y,width,height" fractions (e.g. "0.25,0.25,0.5,0.5")'
            ) from None
        if not (0 <= x < 1 and 0 <= y < 1 and 0 < w and 0 < h and x + w <= 1 and y + h <= 1):
            raise ValueError("must lie inside the picture: fractions between 0 and 1")
        return value
