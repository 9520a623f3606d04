"""A tap without a reader: what the contactless kernel hands over for a profile of
config/sim/cards.toml, with a real ARQC from the shared issuer keys (`cryptogram`), which the
gateway simulator verifies. Not a gateway mock: the simulator still decides, and a changed
amount or a forged cryptogram is declined there.

`card_data` is the kernel's `CardData` for the engine, `TappedCard` a `CardCapture` that taps
it, and `wire_card_data` the card data as a protocol message carries it (before encryption),
for clients that build messages themselves (the gateway tests and benchmark).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from datetime import UTC, datetime
from typing import Any

from simulators.card.cryptogram import generate_arqc, issuer_application_data
from simulators.card.testcards import TestCard, load_test_cards
from terminal.emv.card_data import CardData
from terminal.money import Amount
from terminal.payment.api import Progress, ProgressCallback, Stage

CARDS = load_test_cards()
_ATC = itertools.count(1)


def card_data(profile: str | TestCard, amount: Amount, *, tamper: bool = False) -> CardData:
    """What the contactless kernel would hand the engine after a tap of `profile`."""
    card = CARDS[profile] if isinstance(profile, str) else profile
    now = datetime.now(UTC)
    emv = {
        "9F02": bytes.fromhex(f"{amount.minor:012d}"),
        "9F03": bytes(6),
        "9F1A": bytes.fromhex("0276"),
        "95": bytes(5),
        "5F2A": bytes.fromhex(amount.currency.numeric.zfill(4)),
        "9A": bytes.fromhex(now.strftime("%y%m%d")),
        "9C": b"\x00",
        "9F37": os.urandom(4),
        "82": bytes.fromhex("2000"),
        "9F36": next(_ATC).to_bytes(2, "big"),
        "9F10": issuer_application_data(card.issuer.cvn),
    }
    emv["9F26"] = generate_arqc(card.issuer, card.pan, card.psn, emv)
    emv["9F27"] = b"\x80"
    if tamper:
        emv["9F26"] = bytes(8)
    return CardData(
        scheme=card.scheme,
        aid=card.aid,
        pan=card.pan,
        expiry=card.expiry,
        psn=card.psn,
        track2=f"{card.pan}D{card.expiry[:4]}2010000000000F",
        emv={tag: value.hex().upper() for tag, value in emv.items()},
        label=card.label,
        wallet=card.wallet,
        cdcvm=card.cdcvm,
    )


def wire_card_data(
    card: TestCard,
    amount: Amount,
    *,
    signed_amount: Amount | None = None,
    pan: str | None = None,
    tamper: bool = False,
) -> dict[str, Any]:
    """The card data of a tap of `card` as a protocol message carries it, with a genuine ARQC
    over `signed_amount` (default `amount`); `pan` replaces the card's, `tamper` flips a bit."""
    signed = signed_amount or amount
    emv = {
        "9F02": f"{signed.minor:012d}",
        "9F03": "000000000000",
        "9F1A": "0276",
        "95": "0000000000",
        "5F2A": signed.currency.numeric.zfill(4),
        "9A": datetime.now(UTC).strftime("%y%m%d"),
        "9C": "00",
        "9F37": secrets.token_hex(4).upper(),
        "82": "1980",
        "9F36": "0001",
        "9F10": issuer_application_data(card.issuer.cvn).hex().upper(),
        "9F27": "80",
    }
    raw = {tag: bytes.fromhex(value) for tag, value in emv.items()}
    arqc = generate_arqc(card.issuer, card.pan, card.psn, raw)
    if tamper:
        arqc = bytes([arqc[0] ^ 1]) + arqc[1:]
    emv["9F26"] = arqc.hex().upper()
    return {
        "pan": pan or card.pan,
        "expiry": card.expiry,
        "psn": card.psn,
        "track2": "",
        "emv": emv,
    }


class TappedCard:
    """A `CardCapture` where `profile` is tapped after `delay_s` (or never, with None)."""

    def __init__(
        self, profile: str | None = "visa-credit", *, delay_s: float = 0.0, tamper: bool = False
    ) -> None:
        self.profile = profile
        self.delay_s = delay_s
        self.tamper = tamper
        self.reads = 0

    async def read_card(
        self, amount: Amount, cancel: asyncio.Event, progress: ProgressCallback
    ) -> CardData:
        if self.profile is None:
            await cancel.wait()
            from drivers.base import Cancelled

            raise Cancelled("Cancelled while waiting for a card.")
        await asyncio.sleep(self.delay_s)
        progress(Progress(Stage.READING_CARD, "Reading card…"))
        self.reads += 1
        return card_data(self.profile, amount, tamper=self.tamper)
