"""What the payment core needs from the bank link, and the four ways a delivery can end.

The engine and the forwarder speak to the gateway only through `Bank`; the gateway client's
exceptions are translated once, at this boundary (`terminal/payment/gateway_link.py`), into a
`Delivery` whose `status` decides what PROTOCOL.md requires:

- `answered`: a verified answer; its `result` and `code` decide the transaction.
- `not_sent`: nothing left the terminal (connect failed) → offline rules may apply (rule 4).
- `no_answer`: sent, no valid answer before the deadline even after re-sending the same id
  → queue a reversal durably before telling the operator (rule 3).
- `refused`: the gateway refused the message itself (400/401/409/422): it had no effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from terminal.emv.card_data import CardData
from terminal.money import Amount

DeliveryStatus = Literal["answered", "not_sent", "no_answer", "refused"]


@dataclass(frozen=True, slots=True)
class Reply:
    """A gateway answer whose signature verified (PROTOCOL.md answer payload)."""

    id: str
    type: str
    result: str
    code: str = ""
    auth_code: str = ""
    reason: str = ""
    gateway_ref: str = ""
    at: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    raw: bytes = b""


@dataclass(frozen=True, slots=True)
class Delivery:
    """How sending one signed message ended."""

    status: DeliveryStatus
    reply: Reply | None = None
    detail: str = ""
    """For the log and `saf status`: what went wrong, e.g. "connect timeout", "409 id_conflict"."""
    http_status: int = 0
    error_code: str = ""

    @property
    def answered(self) -> Reply:
        assert self.reply is not None, "only an answered delivery has a reply"
        return self.reply


class Bank(Protocol):
    """Message building, sealing, signing and delivery, as the engine uses them."""

    def new_id(self) -> str:
        """A fresh UUID4 message id."""
        ...

    def fingerprint(self, pan: str) -> str:
        """Keyed fingerprint of a PAN (HMAC with the terminal's secret), hex."""
        ...

    def seal_card(self, card: CardData) -> dict[str, Any]:
        """PROTOCOL.md `card` object: scheme, aid, masked_pan and the JWE of the card data."""
        ...

    def seal_qr(self, text: str) -> dict[str, Any]:
        """PROTOCOL.md `qr` object: the JWE of a scanned customer-presented code."""
        ...

    def sign(
        self,
        type: str,
        *,
        id: str,
        seq: int,
        created_at: datetime,
        amount: Amount | None = None,
        entry: str | None = None,
        card: dict[str, Any] | None = None,
        qr: dict[str, Any] | None = None,
        ref: str | None = None,
        offline: dict[str, Any] | None = None,
        totals: dict[str, Any] | None = None,
    ) -> bytes:
        """The compact JWS of one request: exactly the bytes that are stored and sent."""
        ...

    async def deliver(
        self, message_id: str, body: bytes, *, deadline_s: float | None = None
    ) -> Delivery:
        """Send `body` (re-sending the same bytes until the deadline) and say how it ended."""
        ...

    async def health(self) -> bool:
        """The gateway's link check (`GET /v1/health`)."""
        ...

    @property
    def online(self) -> bool:
        """Last known state of the link."""
        ...

    async def aclose(self) -> None: ...
