"""A small test terminal that speaks protocol v1 to the real simulator with the real client."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from terminal.emv.cryptogram import generate_arqc, issuer_application_data
from terminal.emv.testcards import TestCard, load_test_cards
from terminal.gateway.client import GatewayClient
from terminal.gateway.jose import GatewayKeys, TerminalSigner
from terminal.gateway.messages import Answer, build_request, new_message_id
from terminal.money import Amount
from terminal.security.keystore import Keystore
from terminal.security.pan import mask_pan
from terminal.settings import Settings, load_settings
from tests.fixtures.gateway_sim import GatewaySim

CARDS = load_test_cards()


def card_data(
    card: TestCard,
    amount: Amount,
    *,
    signed_amount: Amount | None = None,
    pan: str | None = None,
    tamper: bool = False,
) -> dict[str, Any]:
    """What the contactless kernel hands over for `card`, with a genuine ARQC."""
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


class TestTerminal:
    """Builds, signs and sends messages like the payment engine will."""

    __test__ = False

    def __init__(self, settings: Settings, client: GatewayClient) -> None:
        self.settings = settings
        self.client = client
        self.keystore = Keystore.open(settings.data_dir, settings.terminal.terminal_id)
        self.signer = TerminalSigner(self.keystore)
        self.keys = GatewayKeys.from_settings(settings.gateway)
        self.seq = 0

    @property
    def terminal_id(self) -> str:
        return self.settings.terminal.terminal_id

    def message(self, type: str, **fields: Any) -> tuple[str, bytes]:
        """(id, signed bytes) of a new message."""
        self.seq += 1
        message_id = fields.pop("id", None) or new_message_id()
        payload = build_request(
            type,
            id=message_id,
            seq=self.seq,
            terminal_id=self.terminal_id,
            merchant_id=self.settings.terminal.merchant_id,
            created_at=fields.pop("created_at", None) or datetime.now(UTC),
            **fields,
        )
        return message_id, self.signer.sign(payload)

    def card_sale(
        self,
        card_name: str,
        value: int,
        *,
        type: str = "authorize",
        id: str | None = None,
        **card_options: Any,
    ) -> tuple[str, bytes]:
        card = CARDS[card_name]
        amount = Amount.of(value, "EUR")
        extra: dict[str, Any] = {}
        if type == "advice":
            extra["offline"] = {
                "approved_at": datetime.now(UTC).isoformat(),
                "reason": "gateway_unreachable",
                "floor_limit": 5000,
            }
        pan = card_options.get("pan") or card.pan
        return self.message(
            type,
            id=id,
            amount=amount,
            entry="nfc",
            card={
                "scheme": card.scheme,
                "aid": card.aid,
                "masked_pan": mask_pan(pan),
                "data": self.keys.encrypt(card_data(card, amount, **card_options)),
            },
            **extra,
        )

    async def send(self, message: tuple[str, bytes], **kw: Any) -> Answer:
        return await self.client.send(message[0], message[1], **kw)

    async def pay(self, card_name: str, value: int, **card_options: Any) -> Answer:
        return await self.send(self.card_sale(card_name, value, **card_options))

    async def act(self, type: str, ref: str, value: int | None = None) -> Answer:
        amount = Amount.of(value, "EUR") if value is not None else None
        return await self.send(self.message(type, ref=ref, amount=amount))


TerminalFactory = Callable[..., TestTerminal]


@pytest.fixture
async def make_terminal(
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Any]]:
    """make_terminal(sim, terminal_id="POS00001", **config) -> TestTerminal (clients closed)."""
    clients: list[GatewayClient] = []

    def make(sim: GatewaySim, terminal_id: str = "POS00001", **config: Any) -> TestTerminal:
        path = sim.terminal_config(tmp_path, terminal_id=terminal_id, **config)
        settings = load_settings(path, environ={})
        client = GatewayClient(settings, GatewayKeys.from_settings(settings.gateway))
        clients.append(client)
        return TestTerminal(settings, client)

    yield make
    for client in clients:
        await client.aclose()
