"""Cards for kernel tests: the real simulated applet in-process, optionally with one answer
replaced (the bad-input cases the issue lists)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from drivers.base import CardRemoved
from simulators.card.applet import SimulatedCard
from simulators.card.testcards import TestCard, load_test_cards
from terminal.emv.kernel import KernelConfig
from terminal.emv.terminal_data import Transaction
from terminal.money import Amount

CARDS = load_test_cards()
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

Override = Callable[[bytes, bytes], bytes | None]
"""(command, the applet's answer) -> the answer the card gives instead (None: keep it)."""


class AppletCard:
    """`drivers.base.Card` over the simulated applet; counts and records the exchange."""

    def __init__(self, profile: TestCard, override: Override | None = None) -> None:
        self.applet = SimulatedCard(profile, CARDS, atc=0x0100, slow_s=0.0)
        self.override = override
        self.commands: list[bytes] = []

    def transceive(self, apdu: bytes) -> bytes:
        self.commands.append(apdu)
        answer = self.applet.handle(apdu)
        if answer is None:
            raise CardRemoved("The card was taken away too soon.")
        if self.override is not None:
            replaced = self.override(apdu, answer)
            if replaced is not None:
                return replaced
        return answer


def card(name: str, override: Override | None = None) -> AppletCard:
    return AppletCard(CARDS[name], override)


def config(**changes: object) -> KernelConfig:
    values: dict[str, object] = {
        "aids": (
            "A0000000031010",
            "A0000000032010",
            "A0000000041010",
            "A0000000043060",
            "A00000002501",
        ),
        "transaction_limit": Amount.of(50000, "EUR"),
        "cvm_limit": Amount.of(5000, "EUR"),
        "country_numeric": "276",
    }
    values.update(changes)
    return KernelConfig(**values)  # type: ignore[arg-type]


def sale(minor: int, **changes: object) -> Transaction:
    return Transaction(
        Amount.of(minor, "EUR"),
        "276",
        when=changes.pop("when", NOW),  # type: ignore[arg-type]
        unpredictable_number=bytes.fromhex("11223344"),
    )


@pytest.fixture
def profiles() -> dict[str, TestCard]:
    return CARDS
