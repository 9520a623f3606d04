"""The posterm-v1 adapter behind the payment core's bank port (PROTOCOL.md: JOSE over HTTPS).

`encode` turns an `Operation` into a protocol v1 request: the card data (or a scanned code)
sealed to the gateway as a JWE, the payload signed as a compact JWS. Those bytes are what the
journal keeps and what every retry sends. `deliver` is the only code of the payment core that
knows the gateway client's exceptions: they are translated here, once, into one of the four
`Delivery` kinds (see bank.py). Another acquirer protocol is another adapter like this one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any, Protocol

from terminal.gateway.errors import (
    BadAnswer,
    GatewayError,
    LocalFailure,
    NothingSent,
    OutcomeUnknown,
    ProtocolRejected,
    Untrusted,
)
from terminal.gateway.jose import (
    GatewayKeys,
    JoseFailure,
    TerminalSigner,
    json_object,
    read_compact,
)
from terminal.gateway.messages import Answer, build_request, new_message_id
from terminal.payment.bank import (
    Answered,
    Delivery,
    LocalFault,
    NoAnswer,
    NotSent,
    Operation,
    OperationType,
    Refused,
    Reply,
)
from terminal.payment.records import iso
from terminal.security.alarms import raise_alarm
from terminal.security.keystore import Keystore
from terminal.settings import Settings

log = logging.getLogger("terminal.payment.gateway_link")

FINAL_REFUSALS = frozenset({400, 401, 409, 413, 422})
"""HTTP statuses after which re-sending the same bytes cannot help (the queue parks them)."""


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


REDACTED_MARK = "card data removed after the final answer; this record cannot be re-sent"


def redact_request(stored: bytes) -> bytes:
    """A stored v1 request without `card.data` / `qr.data` (the JWEs): its JWS header, the
    rest of its payload and the SHA-256 of the original bytes, marked as not re-sendable.

    Bytes with no sealed data, bytes already redacted and bytes that are not a JWS come back
    unchanged (the last ones are logged: they cannot be checked).
    """
    if stored.startswith(b"{"):
        return stored  # already a redacted record (a JWS compact never starts with "{")
    try:
        message = read_compact(stored)
        payload = json_object(message.payload)
    except JoseFailure as error:
        log.error("a stored request is not a JWS (%s); left as it is", error.reason)
        return stored
    sealed = False
    for part in ("card", "qr"):
        section = payload.get(part)
        if isinstance(section, dict) and "data" in section:
            payload[part] = {k: v for k, v in section.items() if k != "data"}
            sealed = True
    if not sealed:
        return stored
    record = {
        "redacted": REDACTED_MARK,
        "header": message.header,
        "payload": payload,
        "jws_sha256": hashlib.sha256(stored).hexdigest(),
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


class GatewayBank:
    """Encodes and delivers protocol v1 messages for one terminal."""

    def __init__(
        self,
        settings: Settings,
        keystore: Keystore,
        keys: GatewayKeys,
        client: Client,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.client = client
        self.signer = TerminalSigner(keystore)

    def new_id(self) -> str:
        return new_message_id()

    def encode(self, operation: Operation, seq: int, at: datetime) -> bytes:
        card: dict[str, Any] | None = None
        if operation.card is not None:
            data = operation.card
            card = {
                "scheme": data.scheme,
                "aid": data.aid,
                "masked_pan": data.masked_pan,
                "data": self.keys.encrypt(data.sensitive()),
            }
        qr = None
        if operation.qr_text is not None:
            qr = {"data": self.keys.encrypt_text(operation.qr_text)}
            if operation.qr_scheme is not None:
                qr["scheme"] = operation.qr_scheme
        offline = None
        if operation.offline is not None:
            offline = {
                "approved_at": iso(at),
                "reason": operation.offline.reason,
                "floor_limit": operation.offline.floor_limit,
            }
        payload = build_request(
            operation.type,
            id=operation.id,
            seq=seq,
            terminal_id=self.settings.terminal.terminal_id,
            merchant_id=self.settings.terminal.merchant_id,
            created_at=at,
            amount=operation.amount,
            entry=operation.entry,
            card=card,
            qr=qr,
            ref=operation.ref,
            offline=offline,
            totals=operation.totals,
            allow_partial=operation.allow_partial,
            tip=operation.tip,
        )
        return self.signer.sign(payload)

    async def deliver(
        self, message_id: str, stored: bytes, *, deadline_s: float | None = None
    ) -> Delivery:
        try:
            answer = await self.client.send(message_id, stored, deadline_s=deadline_s)
        except Untrusted as error:
            detail = error.detail or "certificate not trusted"
            raise_alarm("bank_certificate_untrusted", message_id=message_id, reason=detail)
            return NotSent(detail, untrusted=True)
        except NothingSent as error:
            return NotSent(error.detail or "connection failed")
        except LocalFailure as error:
            log.error("local fault while sending %s: %s", message_id, error.problem)
            return LocalFault(error.problem)
        except OutcomeUnknown as error:
            return NoAnswer(error.detail or f"{error.attempts} attempts")
        except ProtocolRejected as error:
            return Refused(f"{error.status} {error.code}", error.status in FINAL_REFUSALS)
        except BadAnswer as error:
            log.error("security alarm: answer to %s did not verify: %s", message_id, error.reason)
            raise_alarm(
                "forged_bank_answer", message_id=message_id, link="posterm-v1", reason=error.reason
            )
            return NoAnswer(f"unverifiable answer: {error.reason}")
        except GatewayError as error:
            # Anything else after the message may have left: treat as unknown (rule 3).
            return NoAnswer(error.sentence)
        return Answered(reply_of(answer))

    def advises(self, operation: OperationType) -> bool:
        """posterm-v1 asks for everything but an offline sale's advice (PROTOCOL.md)."""
        return operation == "advice"

    def redact(self, stored: bytes) -> bytes:
        return redact_request(stored)

    async def health(self) -> bool:
        return await self.client.health()

    @property
    def online(self) -> bool:
        return bool(self.client.online)

    async def aclose(self) -> None:
        await self.client.aclose()
