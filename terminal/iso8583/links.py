"""Card payments over ISO 8583, QR payments over posterm-v1: one `Bank` for the core.

ISO 8583 carries no QR payments, so with `[gateway] protocol = "iso8583"` the merchant- and
customer-presented code flows keep using the posterm-v1 gateway when `[gateway] url` is set.
Without it the doors refuse them up front (qr_link.py); should one get here all the same, it
is refused before anything is sent, with the same sentence. Which link a
stored message belongs to is told by its bytes (a sealed ISO 8583 request or a JWS).
"""

from __future__ import annotations

from datetime import datetime

from terminal.iso8583.adapter import IsoBank
from terminal.iso8583.vault import is_sealed
from terminal.payment.bank import Bank, Delivery, Operation, OperationType, Refused
from terminal.payment.qr_link import QR_REFUSED

__all__ = ["NO_QR", "QR_REFUSED", "Links"]
NO_QR = b"posterm/no-qr-link"


class Links:
    """Routes each operation to the ISO 8583 adapter or, for QR, to the posterm-v1 gateway."""

    def __init__(self, iso: IsoBank, gateway: Bank | None) -> None:
        self.iso = iso
        self.gateway = gateway

    def _is_card(self, operation: Operation) -> bool:
        match operation.type:
            case "authorize" | "advice" | "preauth":
                return operation.card is not None
            case "refund" if operation.ref is None:
                return operation.card is not None  # card present, no sale to refer to
            case (
                "reverse"
                | "refund"
                | "void"
                | "increment"
                | "capture"
                | "preauth_cancel"
                | "tip_adjust"
            ):
                return operation.ref is not None and self.iso.knows(operation.ref)
            case "close_batch":
                return True
            case _:
                return False

    def new_id(self) -> str:
        return self.iso.new_id()

    def encode(self, operation: Operation, seq: int, at: datetime) -> bytes:
        if self._is_card(operation):
            return self.iso.encode(operation, seq, at)
        if self.gateway is None:
            return NO_QR
        return self.gateway.encode(operation, seq, at)

    async def deliver(
        self, message_id: str, stored: bytes, *, deadline_s: float | None = None
    ) -> Delivery:
        if is_sealed(stored):
            return await self.iso.deliver(message_id, stored, deadline_s=deadline_s)
        if self.gateway is None:
            return Refused(QR_REFUSED, final=True)
        return await self.gateway.deliver(message_id, stored, deadline_s=deadline_s)

    def advises(self, operation: OperationType) -> bool:
        """Card operations, the only ones that can be advices, go over ISO 8583."""
        return self.iso.advises(operation)

    def redact(self, stored: bytes) -> bytes:
        if is_sealed(stored):
            return self.iso.redact(stored)
        if self.gateway is None:
            return stored
        return self.gateway.redact(stored)

    async def health(self) -> bool:
        return await self.iso.health()

    @property
    def online(self) -> bool:
        return self.iso.online

    async def aclose(self) -> None:
        await self.iso.aclose()
        if self.gateway is not None:
            await self.gateway.aclose()
