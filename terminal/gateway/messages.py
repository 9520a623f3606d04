"""Protocol v1 payloads (PROTOCOL.md): building requests, reading verified answers.

Pure functions. A request is built once, signed once, and its exact bytes are what every retry
sends, so the idempotency key (`id`) and the signature never change.

`close_batch` totals: the terminal sends its counts and sums since the last close. The canonical
form, also what the gateway simulator answers with, is per kind and currency:

    {"sale": {"EUR": {"count": 3, "total": {"value": 4550, "currency": "EUR"}}},
     "refund": {"EUR": {"count": 1, "total": {"value": 500, "currency": "EUR"}}}}

"sale" counts approved online and offline sales, NFC and QR, minus those voided or reversed;
"refund" counts approved refunds. The simulator also accepts `Totals.to_json()` (a `lines` list
with type/result/count/total), where lines whose result is not approved are ignored.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from terminal.gateway.errors import BadAnswer, MessageError
from terminal.money import Amount

VERSION = 1
REQUEST_TYPES = (
    "authorize",
    "advice",
    "reverse",
    "refund",
    "void",
    "qr_intent",
    "qr_status",
    "close_batch",
    "tip_adjust",
    *("preauth", "increment", "capture", "preauth_cancel"),
)
HOLD_TYPES = ("preauth", "increment", "capture", "preauth_cancel")
"""Pre-authorisation messages (docs/protocol.md "Pre-authorisation"): a hold on the card,
raised, captured (with an optional tip) or released."""
ENTRIES = ("nfc", "qr_cpm", "qr_mpm")
RESULTS = (
    "approved",
    "declined",
    "pending",
    "expired",
    "reversed",
    "balanced",
    "out_of_balance",
    "partial",
)
"""`partial` (code 10): the issuer approved less than asked, `approved_amount` says how much;
only an `authorize` that carried `"allow_partial": true` should get one (docs/tender.md)."""
TYP_REQUEST = "posterm-request"
TYP_RESPONSE = "posterm-response"


def new_message_id() -> str:
    """A fresh idempotency key (UUID4), made once per message and kept for every retry."""
    return str(uuid.uuid4())


def is_uuid4(value: object) -> bool:
    """True for the canonical text of a version-4 UUID."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == value.lower()


def utc_timestamp(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds and Z, e.g. 2026-11-22T10:00:00.123Z."""
    if moment.tzinfo is None:
        raise MessageError("timestamps must be timezone-aware (UTC)")
    # isoformat, not strftime: this runs several times per message and strftime is slow.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_timestamp(text: object) -> datetime:
    """The inverse of `utc_timestamp`; accepts any ISO 8601 text with a zone. ValueError else."""
    if not isinstance(text, str) or len(text) > 40:
        raise ValueError("not an ISO 8601 timestamp")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("timestamp without a time zone")
    return moment.astimezone(UTC)


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The UTF-8 JSON bytes that get signed (compact, keys in insertion order)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def build_request(
    type: str,
    *,
    id: str,
    seq: int,
    terminal_id: str,
    merchant_id: str,
    created_at: datetime,
    amount: Amount | None = None,
    entry: str | None = None,
    card: dict[str, Any] | None = None,
    qr: dict[str, Any] | None = None,
    ref: str | None = None,
    offline: dict[str, Any] | None = None,
    totals: dict[str, Any] | None = None,
    allow_partial: bool = False,
    tip: Amount | None = None,
) -> dict[str, Any]:
    """The request payload of PROTOCOL.md. Raises `MessageError` when it could not be valid.

    `allow_partial` (authorize only) tells the issuer a partial approval is welcome; `tip`
    (tip_adjust) is the new tip inside `amount`, the adjusted total (docs/tender.md)."""
    if type not in REQUEST_TYPES:
        raise MessageError(f"unknown message type {type!r}")
    if not is_uuid4(id):
        raise MessageError("the message id must be a UUID4")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise MessageError("seq must be a non-negative integer")
    if entry is not None and entry not in ENTRIES:
        raise MessageError(f"unknown entry method {entry!r}")
    needs = {
        "authorize": ("amount", "entry"),
        "advice": ("amount", "entry", "card", "offline"),
        "reverse": ("ref",),
        "refund": ("amount",),
        "void": ("ref",),
        "qr_intent": ("amount",),
        "qr_status": ("ref",),
        "close_batch": ("totals",),
        "tip_adjust": ("ref", "amount"),
        "preauth": ("amount", "entry", "card"),
        "increment": ("ref", "amount"),
        "capture": ("ref", "amount"),
        "preauth_cancel": ("ref",),
    }[type]
    given = {
        "amount": amount,
        "entry": entry,
        "card": card,
        "qr": qr,
        "ref": ref,
        "offline": offline,
        "totals": totals,
    }
    missing = [name for name in needs if given[name] is None]
    if missing:
        raise MessageError(f"{type} needs {', '.join(missing)}")
    if type == "authorize" and entry == "nfc" and card is None:
        raise MessageError("an NFC authorize needs the card object")
    if type == "refund" and ref is None and (entry != "nfc" or card is None):
        raise MessageError("a refund needs ref, or (card present) entry nfc and the card object")
    if tip is not None and type not in ("capture", "tip_adjust"):
        raise MessageError("only a capture or a tip adjust carries a tip")
    if (
        tip is not None
        and amount is not None
        and (tip.currency != amount.currency or not 0 <= tip.minor <= amount.minor)
    ):
        raise MessageError("a tip is part of its amount, in the same currency")
    if type == "preauth" and entry != "nfc":
        raise MessageError("a pre-authorisation needs a card (entry nfc)")
    if type == "authorize" and entry == "qr_cpm" and qr is None:
        raise MessageError("a qr_cpm authorize needs the qr object")
    payload: dict[str, Any] = {
        "v": VERSION,
        "type": type,
        "id": id,
        "terminal_id": terminal_id,
        "merchant_id": merchant_id,
        "seq": seq,
        "created_at": utc_timestamp(created_at),
    }
    if ref is not None:
        payload["ref"] = ref
    if amount is not None:
        payload["amount"] = dict(amount.to_json())
    if entry is not None:
        payload["entry"] = entry
    if card is not None:
        payload["card"] = card
    if qr is not None:
        payload["qr"] = qr
    if offline is not None:
        payload["offline"] = offline
    if totals is not None:
        payload["totals"] = totals
    if allow_partial and type == "authorize":
        payload["allow_partial"] = True
    if tip is not None:
        payload["tip"] = dict(tip.to_json())
    return payload


@dataclass(frozen=True, slots=True)
class Answer:
    """A gateway answer whose signature has been verified.

    `payload` is the whole verified object (type-specific fields such as `intent_id`,
    `expires_at` and `totals` live there); `raw` is the JWS exactly as received, for the journal.
    """

    id: str
    type: str
    result: str
    code: str
    auth_code: str
    reason: str
    gateway_ref: str
    at: str
    payload: dict[str, Any] = field(repr=False)
    raw: bytes = field(repr=False)

    @property
    def approved(self) -> bool:
        return self.result == "approved"

    @property
    def intent_id(self) -> str:
        value = self.payload.get("intent_id", "")
        return value if isinstance(value, str) else ""

    @property
    def expires_at(self) -> datetime | None:
        try:
            return parse_timestamp(self.payload.get("expires_at"))
        except ValueError:
            return None

    @property
    def approved_amount(self) -> Amount | None:
        """A partial approval's approved amount (None when absent or unreadable)."""
        try:
            return Amount.from_json(self.payload.get("approved_amount"))
        except (ValueError, TypeError):
            return None

    @property
    def totals(self) -> dict[str, Any]:
        value = self.payload.get("totals", {})
        return value if isinstance(value, dict) else {}

    @classmethod
    def from_payload(cls, payload: object, raw: bytes, *, expected_id: str) -> Answer:
        """Check the shape of a verified answer payload; `BadAnswer` when it is not one."""
        if not isinstance(payload, dict):
            raise BadAnswer("answer payload is not a JSON object")
        if payload.get("v") != VERSION:
            raise BadAnswer(f"answer has protocol version {payload.get('v')!r}, expected 1")
        if payload.get("id") != expected_id:
            raise BadAnswer("answer is for another message id")
        text: dict[str, str] = {}
        for name in ("type", "result", "code", "auth_code", "reason", "gateway_ref", "at"):
            value = payload.get(name, "")
            if not isinstance(value, str):
                raise BadAnswer(f"answer field {name} is not text")
            text[name] = value
        if text["result"] not in RESULTS:
            raise BadAnswer(f"answer result {text['result']!r} is not one of PROTOCOL.md's")
        if text["type"] not in REQUEST_TYPES:
            raise BadAnswer(f"answer type {text['type']!r} is unknown")
        return cls(
            id=expected_id,
            type=text["type"],
            result=text["result"],
            code=text["code"],
            auth_code=text["auth_code"],
            reason=text["reason"],
            gateway_ref=text["gateway_ref"],
            at=text["at"],
            payload=payload,
            raw=raw,
        )
