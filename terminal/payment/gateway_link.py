"""The payment core's `Bank`, made of the gateway package's real parts.

The only module of the payment core that knows the gateway client's exceptions: they are
translated here, once, into a `Delivery` (see bank.py), so the engine's decisions read as
PROTOCOL.md's rules rather than as exception handling.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime
from typing import Any, Protocol

from terminal.emv.card_data import CardData
from terminal.gateway.errors import (
    BadAnswer,
    GatewayError,
    NothingSent,
    OutcomeUnknown,
    ProtocolRejected,
)
from terminal.gateway.jose import GatewayKeys, TerminalSigner
from terminal.gateway.messages import Answer, build_request, new_message_id
from terminal.money import Amount
from terminal.payment.bank import Delivery, Reply
from terminal.security.keystore import Keystore
from terminal.settings import Settings

log = logging.getLogger("terminal.payment.gateway_link")


class Client(Protocol):
    """What is used of `terminal.gateway.client.GatewayClient`."""

    async def send(
        self, message_id: str, body: bytes, *, deadline_s: float | None = None
    ) -> Answer: ...

    async def health(self) -> bool: ...

    @property
    def online(self) -> bool: ...

    async def aclose(self) -> None: ...


def reply_of(answer: Answer) -> Reply:
    return Reply(
        id=answer.id,
        type=answer.type,
        result=answer.result,
        code=answer.code,
        auth_code=answer.auth_code,
        reason=answer.reason,
        gateway_ref=answer.gateway_ref,
        at=answer.at,
        payload=dict(answer.payload),
        raw=answer.raw,
    )


class GatewayBank:
    """Builds, seals, signs and delivers protocol v1 messages for one terminal."""

    def __init__(
        self,
        settings: Settings,
        keystore: Keystore,
        keys: GatewayKeys,
        client: Client,
    ) -> None:
        self.settings = settings
        self.keystore = keystore
        self.keys = keys
        self.client = client
        self.signer = TerminalSigner(keystore)
        self._fingerprint_key = keystore.fingerprint_key()

    def new_id(self) -> str:
        return new_message_id()

    def fingerprint(self, pan: str) -> str:
        return hmac.new(self._fingerprint_key, pan.encode("ascii"), hashlib.sha256).hexdigest()

    def seal_card(self, card: CardData) -> dict[str, Any]:
        return {
            "scheme": card.scheme,
            "aid": card.aid,
            "masked_pan": card.masked_pan,
            "data": self.keys.encrypt(card.sensitive()),
        }

    def seal_qr(self, text: str) -> dict[str, Any]:
        return {"data": self.keys.encrypt_text(text)}

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
        payload = build_request(
            type,
            id=id,
            seq=seq,
            terminal_id=self.settings.terminal.terminal_id,
            merchant_id=self.settings.terminal.merchant_id,
            created_at=created_at,
            amount=amount,
            entry=entry,
            card=card,
            qr=qr,
            ref=ref,
            offline=offline,
            totals=totals,
        )
        return self.signer.sign(payload)

    async def deliver(
        self, message_id: str, body: bytes, *, deadline_s: float | None = None
    ) -> Delivery:
        try:
            answer = await self.client.send(message_id, body, deadline_s=deadline_s)
        except NothingSent as error:
            return Delivery("not_sent", detail=error.detail or "connection failed")
        except OutcomeUnknown as error:
            return Delivery("no_answer", detail=error.detail or f"{error.attempts} attempts")
        except ProtocolRejected as error:
            return Delivery(
                "refused",
                detail=f"{error.status} {error.code}",
                http_status=error.status,
                error_code=error.code,
            )
        except BadAnswer as error:
            log.error("security alarm: answer to %s did not verify: %s", message_id, error.reason)
            return Delivery("no_answer", detail=f"unverifiable answer: {error.reason}")
        except GatewayError as error:
            # Anything else after the message may have left: treat as unknown (rule 3).
            return Delivery("no_answer", detail=error.sentence)
        return Delivery("answered", reply_of(answer))

    async def health(self) -> bool:
        return await self.client.health()

    @property
    def online(self) -> bool:
        return bool(self.client.online)

    async def aclose(self) -> None:
        await self.client.aclose()
