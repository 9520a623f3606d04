"""A `Bank` whose deliveries follow a script, for unit tests of the engine's decisions.

Integration tests use the real gateway simulator; this one exists to reach the branches the
simulator cannot be made to take on demand (a 409 for a queued advice) and to check ordering
(the row is committed before `deliver` is called) without a network.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from terminal.emv.card_data import CardData
from terminal.money import Amount
from terminal.payment.bank import Delivery, Reply

Step = Delivery | Callable[[str, dict[str, Any]], Delivery]


def answer(result: str, code: str = "00", auth_code: str = "", reason: str = "") -> Step:
    def reply(message_id: str, payload: dict[str, Any]) -> Delivery:
        return Delivery(
            "answered",
            Reply(
                message_id,
                payload["type"],
                result,
                code,
                auth_code,
                reason,
                "REF1",
                "",
                {},
                b"signed-answer",
            ),
        )

    return reply


class ScriptedBank:
    def __init__(self, *script: Step) -> None:
        self.script = list(script)
        self.sent: list[dict[str, Any]] = []
        self.on_deliver: Callable[[str, dict[str, Any]], None] | None = None
        self.healthy = False

    def add(self, *steps: Step) -> None:
        self.script.extend(steps)

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def fingerprint(self, pan: str) -> str:
        return hmac.new(b"k" * 32, pan.encode(), hashlib.sha256).hexdigest()

    def seal_card(self, card: CardData) -> dict[str, Any]:
        return {
            "scheme": card.scheme,
            "aid": card.aid,
            "masked_pan": card.masked_pan,
            "data": "sealed-for-the-gateway",
        }

    def seal_qr(self, text: str) -> dict[str, Any]:
        return {"data": "sealed-code"}

    def sign(
        self,
        type: str,
        *,
        id: str,
        seq: int,
        created_at: datetime,
        amount: Amount | None = None,
        **fields: Any,
    ) -> bytes:
        payload = {
            "type": type,
            "id": id,
            "seq": seq,
            "created_at": created_at.isoformat(),
            "amount": amount.to_json() if amount else None,
            **{k: v for k, v in fields.items() if v is not None},
        }
        return json.dumps(payload).encode()

    async def deliver(
        self, message_id: str, body: bytes, *, deadline_s: float | None = None
    ) -> Delivery:
        payload = json.loads(body)
        assert payload["id"] == message_id
        if self.on_deliver is not None:
            self.on_deliver(message_id, payload)
        self.sent.append(payload)
        if not self.script:
            return Delivery("not_sent", detail="script ended")
        step = self.script.pop(0)
        return step(message_id, payload) if callable(step) else step

    async def health(self) -> bool:
        return self.healthy

    @property
    def online(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
