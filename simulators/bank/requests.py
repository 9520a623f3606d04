"""Reading a verified request payload into a typed `Request` (pure; `Malformed` for bad input).

Unknown extra fields are tolerated (a newer terminal may send more); known fields must have the
types PROTOCOL.md gives them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from terminal.gateway.messages import ENTRIES, REQUEST_TYPES, VERSION, is_uuid4, parse_timestamp
from terminal.money import Amount, AmountError

WALLET_SCHEMES = ("wechatpay", "alipay", "unionpay")
"""`qr.scheme` of a wallet pay code (terminal.qr.wallet_code.WalletScheme)."""


class Malformed(ValueError):
    """A payload that is not a protocol v1 request (answered 400 malformed)."""


@dataclass(frozen=True, slots=True)
class Request:
    """A request as the simulator processes it."""

    type: str
    id: str
    terminal_id: str
    merchant_id: str
    seq: int
    created_at: datetime
    ref: str = ""
    amount: Amount | None = None
    entry: str = ""
    card: dict[str, Any] = field(default_factory=dict)
    qr: dict[str, Any] = field(default_factory=dict)
    offline: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    allow_partial: bool = False
    tip: Amount | None = None
    """A capture's tip, or a tip adjust's new tip: part of its `amount`."""


_NEEDS = {
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
}


def _text(payload: dict[str, Any], name: str, limit: int = 64) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise Malformed(f"{name} must be non-empty text of at most {limit} characters")
    return value


def _object(payload: dict[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    if not isinstance(value, dict):
        raise Malformed(f"{name} must be an object")
    return value


def parse_request(payload: dict[str, Any]) -> Request:
    """A `Request`, or `Malformed` naming the first problem."""
    if payload.get("v") != VERSION or isinstance(payload.get("v"), bool):
        raise Malformed("v must be 1")
    kind = payload.get("type")
    if kind not in REQUEST_TYPES:
        raise Malformed(f"type must be one of {', '.join(REQUEST_TYPES)}")
    assert isinstance(kind, str)
    message_id = payload.get("id")
    if not is_uuid4(message_id):
        raise Malformed("id must be a UUID4")
    assert isinstance(message_id, str)
    terminal_id = _text(payload, "terminal_id", 8)
    if not re.fullmatch(r"[A-Za-z0-9]{8}", terminal_id):
        raise Malformed("terminal_id must be 8 letters or digits")
    merchant_id = _text(payload, "merchant_id", 15)
    seq = payload.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**63:
        raise Malformed("seq must be a non-negative integer")
    try:
        created_at = parse_timestamp(payload.get("created_at"))
    except ValueError:
        raise Malformed("created_at must be an ISO 8601 UTC timestamp") from None
    for name in _NEEDS[kind]:
        if name not in payload:
            raise Malformed(f"{kind} needs {name}")
    amount = None
    if "amount" in payload:
        try:
            amount = Amount.from_json(payload["amount"])
        except AmountError as error:
            raise Malformed(f"amount: {error.sentence}") from None
    tip = None
    if "tip" in payload:
        if kind not in ("capture", "tip_adjust"):
            raise Malformed("only a capture or a tip adjust carries a tip")
        try:
            tip = Amount.from_json(payload["tip"])
        except AmountError as error:
            raise Malformed(f"tip: {error.sentence}") from None
        if amount is None or tip.currency != amount.currency or not 0 <= tip.minor <= amount.minor:
            raise Malformed("tip must be part of the message's amount, in its currency")
    entry = payload.get("entry", "")
    if entry and entry not in ENTRIES:
        raise Malformed(f"entry must be one of {', '.join(ENTRIES)}")
    ref = _text(payload, "ref") if "ref" in payload else ""
    card = _object(payload, "card") if "card" in payload else {}
    qr = _object(payload, "qr") if "qr" in payload else {}
    offline = _object(payload, "offline") if "offline" in payload else {}
    totals = _object(payload, "totals") if "totals" in payload else {}
    if kind == "preauth" and entry != "nfc":
        raise Malformed("a pre-authorisation needs a card (entry nfc)")
    if (
        kind in ("authorize", "advice", "preauth")
        and entry == "nfc"
        and not isinstance(card.get("data"), str)
    ):
        raise Malformed("an NFC message needs card.data (a JWE)")
    if kind == "authorize" and entry == "qr_cpm" and not isinstance(qr.get("data"), str):
        raise Malformed("a qr_cpm authorize needs qr.data (a JWE)")
    if kind == "refund" and not ref and not (entry == "nfc" and isinstance(card.get("data"), str)):
        raise Malformed("a refund needs ref (the sale) or, card present, entry nfc and card.data")
    if "scheme" in qr and qr["scheme"] not in WALLET_SCHEMES:
        raise Malformed(f"qr.scheme must be one of {', '.join(WALLET_SCHEMES)}")
    if kind == "authorize" and entry == "qr_mpm":
        raise Malformed("merchant-presented QR payments start with qr_intent, not authorize")
    allow_partial = payload.get("allow_partial", False)
    if not isinstance(allow_partial, bool):
        raise Malformed("allow_partial must be true or false")
    tip = None
    if "tip" in payload:
        try:
            tip = Amount.from_json(payload["tip"])
        except AmountError as error:
            raise Malformed(f"tip: {error.sentence}") from None
    if kind == "advice" and entry != "nfc":
        raise Malformed("only NFC card sales can be approved offline")
    return Request(
        type=kind,
        id=message_id,
        terminal_id=terminal_id,
        merchant_id=merchant_id,
        seq=seq,
        created_at=created_at,
        ref=ref,
        amount=amount,
        entry=entry if isinstance(entry, str) else "",
        card=card,
        qr=qr,
        offline=offline,
        totals=totals,
        allow_partial=allow_partial,
        tip=tip,
    )


def normalise_totals(totals: dict[str, Any]) -> dict[tuple[str, str], tuple[int, int]]:
    """Terminal totals as {(kind, currency): (count, sum)}; see terminal.gateway.messages."""
    result: dict[tuple[str, str], tuple[int, int]] = {}

    def add(kind: str, currency: str, count: object, total: object) -> None:
        value = total.get("value") if isinstance(total, dict) else total
        if isinstance(total, dict) and isinstance(total.get("currency"), str):
            currency = total["currency"]
        if isinstance(count, bool) or not isinstance(count, int):
            raise Malformed("totals: count must be an integer")
        if isinstance(value, bool) or not isinstance(value, int):
            raise Malformed("totals: total must be integer minor units")
        bucket = _kind(kind)
        if bucket is None:
            return
        old = result.get((bucket, currency), (0, 0))
        result[(bucket, currency)] = (old[0] + count, old[1] + value)

    lines = totals.get("lines")
    if isinstance(lines, list):
        for line in lines:
            if not isinstance(line, dict):
                raise Malformed("totals: each line must be an object")
            if line.get("result", "approved") not in ("approved", "approved_offline"):
                continue
            total = line.get("total", line.get("amount", line.get("sum")))
            currency = line.get("currency", "")
            add(str(line.get("type", "")), str(currency), line.get("count"), total)
        return result
    for kind, per_currency in totals.items():
        if kind in ("since", "batch", "until"):
            continue
        if not isinstance(per_currency, dict):
            raise Malformed(f"totals.{kind} must be an object of currencies")
        for currency, figures in per_currency.items():
            if not isinstance(figures, dict):
                raise Malformed(f"totals.{kind}.{currency} must be an object")
            total = figures.get("total", figures.get("sum", figures.get("amount")))
            add(kind, currency, figures.get("count"), total)
    return result


def _kind(name: str) -> str | None:
    if name in ("sale", "sales", "authorize", "advice", "purchase", "qr_intent", "payment"):
        return "sale"
    if name in ("refund", "refunds"):
        return "refund"
    return None
