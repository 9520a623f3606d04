"""The message set of the posterm-1987 dialect, built from the payment core's `Operation`,
and the host's answers read back as the core's `Reply`.

Pure functions: the STAN, the clock and the original request (for a reversal, a refund or a
void) are handed in by the adapter. Which fields each message carries is the issue's table:

    sale 0200 (F3 000000) · refund 0200 (200000, the tapped card's or the sale's card
    fields, F37 of the sale when referenced) · void 0200 (020000, F37/F38)
    advice 0220 (F38 offline code, F39 Y1/Y3, F55 with the TC) · reversal 0400 (F90)
    tip adjust 0220 adjustment advice (F3 020000, F4 the new total, F54 the tip, F37/F38 and
    F90 of the sale)
    batch 0500 (F3 920000, 74/76/86/88) · network 0800 (F70 001 sign-on, 301 echo)

Pre-authorisations (the dialect file's conventions, docs/protocol.md): F25 `06` (pre-authorised
request) marks every message of a hold.

    preauth 0100 (F3 000000, F25 06, card fields) · increment 0100 (F25 06, no card data,
    F37/F38 of the hold, F4 the amount added) · capture 0220 completion advice (F25 06,
    F37/F38 of the hold, F4 the final amount, F54 the tip) · cancel 0400 reversal of the hold
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from terminal.emv import tlv
from terminal.emv.card_data import CardData
from terminal.iso8583.codec import Message, Value
from terminal.money import Amount
from terminal.payment.bank import Operation, Reply

SALE, REFUND, VOID, BATCH = "000000", "200000", "020000", "920000"
ADJUSTMENT = "020000"
"""F3 of a tip adjust: transaction type 02 (adjustment), as a void's; the 0220 MTI tells
them apart (a void is a 0200)."""
PREAUTHORISED = "06"
"""F25 of every pre-authorisation message: preauth, increment, completion."""
TIP_AMOUNT_TYPE = "44"
"""F54 amount type of a completion's tip (gratuity), in this dialect."""
CONTACTLESS_CHIP = "071"
SIGN_ON, ECHO = "001", "301"
PARTIAL_ACCEPTED = "P1"
"""F60 of a sale that accepts a partial approval (answer: F39 10, F4 approved, F54 asked)."""
PARTIAL = "10"
ICC_TAGS = (
    "9F26", "9F27", "9F10", "9F37", "9F36", "95", "9A", "9C",
    "9F02", "5F2A", "82", "9F1A", "9F33", "9F34", "84",
)  # fmt: skip
"""The tags F55 carries, in this order, when the card or the kernel gave them."""
CARD_FIELDS = (2, 14, 22, 23, 35, 55)
"""A sale's card-present fields, copied into a referenced refund and an advice."""
CLEAR_CARD_DATA = (2, 14, 35)
"""Fields never kept in an answer the journal stores."""
REPEAT = {"0400": "0401", "0220": "0221"}
"""Requests sent again under the repeat MTI (byte for byte the same but MTI and MAC)."""
ANSWER_OF = {
    "0100": "0110",
    "0200": "0210",
    "0220": "0230",
    "0221": "0230",
    "0400": "0410",
    "0401": "0410",
    "0500": "0510",
    "0800": "0810",
}


@dataclass(frozen=True, slots=True)
class Identity:
    """Who sends: from `[terminal]` and `[iso8583]`."""

    terminal_id: str
    merchant_id: str
    merchant_name: str
    merchant_city: str
    country: str
    currency_numeric: str
    acquirer_id: str

    @property
    def f43(self) -> str:
        """Name (25) + city (13) + country alpha-2 (2), plain ASCII, space padded."""
        name = _ascii(self.merchant_name)[:25].ljust(25)
        return name + _ascii(self.merchant_city)[:13].ljust(13) + self.country[:2].ljust(2)


@dataclass(frozen=True, slots=True)
class Original:
    """The request a reversal, refund or void refers to, as the adapter recorded it."""

    message: Message
    stan: str
    f7: str
    rrn: str = ""
    auth_code: str = ""


def _ascii(text: str) -> str:
    """Accents dropped ("Café" → "Cafe"), anything else outside printable ASCII removed."""
    flat = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in flat if " " <= c <= "~")


def utc(at: datetime) -> datetime:
    """`at` in UTC (a naive time is taken as UTC, as the journal's clock gives it)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def clocks(at: datetime) -> dict[int, Value]:
    """F7 (UTC MMDDhhmmss), F12 and F13 (the terminal's local time and date)."""
    local = utc(at).astimezone()
    return {
        7: utc(at).strftime("%m%d%H%M%S"),
        12: local.strftime("%H%M%S"),
        13: local.strftime("%m%d"),
    }


def _common(identity: Identity, stan: str, at: datetime) -> dict[int, Value]:
    return {
        **clocks(at),
        11: stan,
        32: identity.acquirer_id,
        41: identity.terminal_id,
        42: identity.merchant_id,
    }


def icc_data(card: CardData, *, tc: bool = False) -> bytes:
    """F55: the 15 tags, BER-TLV, in the table's order, those the tap gave."""
    emv = {tag.upper(): value for tag, value in card.emv.items()}
    if tc:
        emv["9F27"] = "40"
    if "84" not in emv and card.aid:
        emv["84"] = card.aid
    objects = [tlv.Tlv(tag, bytes.fromhex(emv[tag])) for tag in ICC_TAGS if tag in emv]
    return tlv.encode(objects)


def track2(card: CardData) -> str:
    """Tag 57 as F35 text: `=` as separator, trailing F dropped."""
    return card.track2.upper().rstrip("F").replace("D", "=")


def card_fields(card: CardData) -> dict[int, Value]:
    fields: dict[int, Value] = {
        2: card.pan,
        14: card.expiry[:4],
        22: CONTACTLESS_CHIP,
        55: icc_data(card),
    }
    if card.psn:
        fields[23] = card.psn.zfill(3)
    if card.track2:
        fields[35] = track2(card)
    return fields


def _amount(operation: Operation, identity: Identity) -> dict[int, Value]:
    if operation.amount is None:
        raise ValueError(f"{operation.type} {operation.id} has no amount")
    return {4: str(operation.amount.minor), 49: operation.amount.currency.numeric.zfill(3)}


def sale(operation: Operation, identity: Identity, stan: str, at: datetime) -> Message:
    """0200 purchase, card present."""
    if operation.card is None:
        raise ValueError("an ISO 8583 sale needs the card (QR payments go to the gateway)")
    fields = {
        **_common(identity, stan, at),
        **card_fields(operation.card),
        **_amount(operation, identity),
        3: SALE,
        25: "00",
        43: identity.f43,
    }
    if operation.allow_partial:
        fields[60] = PARTIAL_ACCEPTED
    return Message("0200", fields)


def advice(
    operation: Operation, identity: Identity, stan: str, at: datetime, offline_code: str
) -> Message:
    """0220: a sale the terminal approved offline, F55 with the TC (9F27 = 40)."""
    message = sale(operation, identity, stan, at)
    assert operation.card is not None
    reason = operation.offline.reason if operation.offline else "gateway_unreachable"
    return message.with_fields(
        "0220",
        f38=offline_code,
        f39="Y1" if reason == "card_offline" else "Y3",
        f55=icc_data(operation.card, tc=True),
    )


def refund(
    operation: Operation,
    identity: Identity,
    stan: str,
    at: datetime,
    original: Original | None = None,
) -> Message:
    """0200 with F3 200000. With the tapped card (a card-present refund) its card fields as a
    sale carries them (track 2 and ICC data included); without one, the sale's kept card
    fields (no track 2 nor ICC data, which are not kept once a sale is answered). F37 of the
    sale whenever the refund refers to one."""
    if operation.card is not None:
        card = card_fields(operation.card)
    elif original is not None:
        card = {n: v for n, v in original.message.fields.items() if n in CARD_FIELDS and n != 55}
    else:
        raise ValueError("an ISO 8583 refund needs the tapped card or the sale it refers to")
    fields: dict[int, Value] = {
        **_common(identity, stan, at),
        **card,
        **_amount(operation, identity),
        3: REFUND,
        25: "00",
        43: identity.f43,
    }
    if original is not None and original.rrn:
        fields[37] = original.rrn
    return Message("0200", fields)


def void(
    operation: Operation, identity: Identity, stan: str, at: datetime, original: Original
) -> Message:
    """0200 with F3 020000, no card data: F37/F38 of the sale it voids."""
    fields: dict[int, Value] = {
        **_common(identity, stan, at),
        **_amount(operation, identity),
        3: VOID,
        25: "00",
    }
    if original.rrn:
        fields[37] = original.rrn
    if original.auth_code:
        fields[38] = original.auth_code
    return Message("0200", fields)


def preauth(operation: Operation, identity: Identity, stan: str, at: datetime) -> Message:
    """0100 authorisation of a hold, card present, F25 06."""
    return sale(operation, identity, stan, at).with_fields("0100", f25=PREAUTHORISED)


def _on_hold(
    mti: str, operation: Operation, identity: Identity, stan: str, at: datetime, hold: Original
) -> Message:
    fields: dict[int, Value] = {
        **_common(identity, stan, at),
        **_amount(operation, identity),
        3: SALE,
        25: PREAUTHORISED,
    }
    if hold.rrn:
        fields[37] = hold.rrn
    if hold.auth_code:
        fields[38] = hold.auth_code
    return Message(mti, fields)


def increment(
    operation: Operation, identity: Identity, stan: str, at: datetime, hold: Original
) -> Message:
    """0100 incremental authorisation: F4 the amount added, F37/F38 of the hold, no card."""
    return _on_hold("0100", operation, identity, stan, at, hold)


def tip_amount(tip: Amount) -> str:
    """One F54 block for a tip: account type 00, amount type 44 (gratuity), currency n3, sign
    C, 12 digits of minor units (20 characters)."""
    return "00" + TIP_AMOUNT_TYPE + tip.currency.numeric.zfill(3) + "C" + f"{tip.minor:012d}"


def completion(
    operation: Operation, identity: Identity, stan: str, at: datetime, hold: Original
) -> Message:
    """0220 completion advice of a hold: F4 the final amount (tip included), F54 the tip."""
    message = _on_hold("0220", operation, identity, stan, at, hold)
    if operation.tip is not None and operation.tip.minor:
        message = message.with_fields(f54=tip_amount(operation.tip))
    return message


def original_data(identity: Identity, original: Original) -> str:
    """F90 (n42): the original's MTI, STAN and F7, the acquirer id (11) and a forwarding
    institution id of zeros (11)."""
    return (
        original.message.mti
        + original.stan
        + original.f7
        + identity.acquirer_id.zfill(11)
        + "0" * 11
    )


def adjustment(
    operation: Operation, identity: Identity, stan: str, at: datetime, sale: Original
) -> Message:
    """0220 adjustment advice of a sale's tip (F3 020000): F4 the new total (tip included),
    F54 the new tip (zero when it is taken off), F37/F38 of the sale when the host gave them
    (a sale approved offline may not have been answered yet) and F90 pointing at it, so the
    host finds the sale either way. No card data: the host has the sale's."""
    if operation.tip is None:
        raise ValueError(f"tip adjust {operation.id} has no tip")
    fields: dict[int, Value] = {
        **_common(identity, stan, at),
        **_amount(operation, identity),
        3: ADJUSTMENT,
        25: "00",
        54: tip_amount(operation.tip),
        90: original_data(identity, sale),
    }
    if sale.rrn:
        fields[37] = sale.rrn
    if sale.auth_code:
        fields[38] = sale.auth_code
    return Message("0220", fields)


def reversal(identity: Identity, stan: str, at: datetime, original: Original) -> Message:
    """0400 for a request whose outcome is unknown; F90 points at it (a new STAN of its own)."""
    kept = {n: v for n, v in original.message.fields.items() if n in (2, 3, 4, 22, 49)}
    return Message(
        "0400",
        {**_common(identity, stan, at), **kept, 25: "00", 90: original_data(identity, original)},
    )


def batch(
    totals: dict[str, Any], identity: Identity, stan: str, at: datetime, currency: str
) -> Message:
    """0500 with the batch's credits (refunds) and debits (sales) in the terminal's currency."""
    sales = _line(totals, "sale", currency)
    refunds = _line(totals, "refund", currency)
    return Message(
        "0500",
        {
            **_common(identity, stan, at),
            3: BATCH,
            49: identity.currency_numeric,
            74: str(refunds[0]),
            76: str(sales[0]),
            86: str(refunds[1]),
            88: str(sales[1]),
        },
    )


def _line(totals: dict[str, Any], kind: str, currency: str) -> tuple[int, int]:
    line = totals.get(kind, {}).get(currency)
    if not line:
        return 0, 0
    return int(line["count"]), int(line["total"]["value"])


def network(code: str, identity: Identity, stan: str, at: datetime) -> Message:
    """0800: sign-on (001) or echo (301)."""
    return Message(
        "0800",
        {
            7: utc(at).strftime("%m%d%H%M%S"),
            11: stan,
            32: identity.acquirer_id,
            41: identity.terminal_id,
            70: code,
        },
    )


# -- answers ---------------------------------------------------------------------------------
RESULTS = {"0110": "approved", "0210": "approved", "0230": "approved"}


def reply_of(message_id: str, kind: str, answer: Message, body: bytes, currency: str) -> Reply:
    """The core's view of a verified answer; card data is never in its `raw`."""
    code = answer.text(39)
    payload: dict[str, Any] = {
        str(n): v
        for n, v in answer.fields.items()
        if isinstance(v, str) and n not in CLEAR_CARD_DATA
    }
    if answer.mti == "0410":
        result = "reversed"
    elif answer.mti == "0510":
        result = {"1": "balanced", "2": "out_of_balance"}.get(answer.text(66), "unknown")
        if answer.text(66) == "2" and 88 in answer.fields:
            payload["totals"] = host_totals(answer, currency)
    elif answer.mti == "0210" and code == PARTIAL:
        result = "partial"
        payload["approved_amount"] = {"value": int(answer.text(4) or 0), "currency": currency}
    elif answer.mti in RESULTS:
        result = "approved" if code == "00" else "declined"
    else:
        result = "unknown"
    raw = answer.with_fields(**{f"f{n}": None for n in CLEAR_CARD_DATA})
    return Reply(
        id=message_id,
        type=kind,
        result=result,
        code=code,
        auth_code=answer.text(38) if code in ("00", PARTIAL) else "",
        gateway_ref=answer.text(37),
        payload=payload,
        raw=repr_fields(raw).encode(),
    )


def host_totals(answer: Message, currency: str) -> dict[str, Any]:
    """The host's own 74/76/86/88 in the canonical totals form of the JOSE link."""

    def line(count: int, value: int) -> dict[str, Any]:
        return {currency: {"count": count, "total": {"value": value, "currency": currency}}}

    return {
        "sale": line(int(answer.text(76) or 0), int(answer.text(88) or 0)),
        "refund": line(int(answer.text(74) or 0), int(answer.text(86) or 0)),
    }


def repr_fields(message: Message) -> str:
    """A readable, card-data-free record of an answer for the journal."""
    parts = [f"mti={message.mti}"]
    for number in sorted(message.fields):
        value = message.fields[number]
        parts.append(f"{number}={value.hex() if isinstance(value, bytes) else value.strip()}")
    return " ".join(parts)
