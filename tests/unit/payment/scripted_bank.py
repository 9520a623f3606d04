"""A `Bank` whose deliveries follow a script, for unit tests of the engine's decisions.

Integration tests use the real gateway simulator; this one exists to reach the branches the
simulator cannot be made to take on demand (a 409 for a queued advice) and to check ordering
(the row is committed before `deliver` is called) without a network.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from terminal.payment.bank import Answered, Delivery, NotSent, Operation, Reply

Step = Delivery | Callable[[str, dict[str, Any]], Delivery]


def answer(result: str, code: str = "00", auth_code: str = "", reason: str = "") -> Step:
    def reply(message_id: str, payload: dict[str, Any]) -> Delivery:
        return Answered(
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
            )
        )

    return reply


class ScriptedBank:
    def __init__(self, *script: Step) -> None:
        self.script = list(script)
        self.sent: list[dict[str, Any]] = []
        self.on_deliver: Callable[[str, dict[str, Any]], None] | None = None
        self.healthy = False
        self.advised: frozenset[str] = frozenset({"advice"})
        """Operations this bank takes as advices (`Bank.advises`), like posterm-v1."""

    def add(self, *steps: Step) -> None:
        self.script.extend(steps)

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def encode(self, operation: Operation, seq: int, at: datetime) -> bytes:
        """JSON instead of a signed message; the card only as a scheme (never its PAN)."""
        payload: dict[str, Any] = {
            "type": operation.type,
            "id": operation.id,
            "seq": seq,
            "created_at": at.isoformat(),
            "amount": operation.amount.to_json() if operation.amount else None,
        }
        if operation.entry is not None:
            payload["entry"] = operation.entry
        if operation.card is not None:
            payload["card"] = {"scheme": operation.card.scheme, "data": "sealed"}
        if operation.qr_text is not None:
            payload["qr"] = {"data": "sealed-code"}
        if operation.ref is not None:
            payload["ref"] = operation.ref
        if operation.offline is not None:
            payload["offline"] = {"floor_limit": operation.offline.floor_limit}
        if operation.totals is not None:
            payload["totals"] = operation.totals
        return json.dumps(payload).encode()

    def advises(self, operation: str) -> bool:
        return operation in self.advised

    def redact(self, stored: bytes) -> bytes:
        """Like the real adapter: the sealed parts go, the rest stays, marked."""
        try:
            payload = json.loads(stored)
        except ValueError:  # not one of ours (a hand-written row): left as it is
            return stored
        if payload.get("redacted"):
            return stored
        sealed = False
        for part in ("card", "qr"):
            if isinstance(payload.get(part), dict) and "data" in payload[part]:
                del payload[part]["data"]
                sealed = True
        if not sealed:
            return stored
        return json.dumps({**payload, "redacted": True}).encode()

    async def deliver(
        self, message_id: str, stored: bytes, *, deadline_s: float | None = None
    ) -> Delivery:
        payload = json.loads(stored)
        assert payload["id"] == message_id
        if self.on_deliver is not None:
            self.on_deliver(message_id, payload)
        self.sent.append(payload)
        if not self.script:
            return NotSent("script ended")
        step = self.script.pop(0)
        return step(message_id, payload) if callable(step) else step

    async def health(self) -> bool:
        return self.healthy

    @property
    def online(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
