"""Is there a link for QR payments? Asked by every door before a sale starts.

ISO 8583 carries no QR payments: with `[gateway] protocol = "iso8583"` both QR methods (the
customer's code scanned, the terminal's code shown) use the posterm-v1 gateway when
`[gateway] url` is set. Without it the CLI (exit 2), the ECR API (400) and the operator screen
refuse them before anything is journaled, shown or sent, with `QR_REFUSED`.
"""

from __future__ import annotations

from terminal.payment.api import EntryMethod
from terminal.settings import Settings

QR_REFUSED = (
    "QR payments are not available: card payments use the ISO 8583 acquirer link and no "
    "posterm-v1 gateway is configured for QR codes ([gateway] url is empty)"
)


def carries_qr(settings: Settings) -> bool:
    """A posterm-v1 gateway is configured, so QR payments have a link."""
    return settings.gateway.protocol != "iso8583" or bool(settings.gateway.url)


def method_refusal(settings: Settings, method: EntryMethod) -> str:
    """The sentence refusing `method` on this terminal, or "" when a link carries it."""
    if method is EntryMethod.NFC or carries_qr(settings):
        return ""
    return QR_REFUSED + "."
