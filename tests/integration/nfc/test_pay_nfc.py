"""End to end: a tap through nfcpy's UDP front end, the payment engine and the gateway
simulator deciding as the issuer.

The contract case runs exactly as a till would: `posterm pay --amount 12.34 --method nfc --json`
with `posterm sim card` tapping from its own process. The other profiles run the same engine
in-process (built by `build_engine` with `wiring.nfc.card_capture`, as `posterm pay` does) with
the simulated card in a thread on the far side of the real UDP link, which keeps the suite fast.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port

pytest.importorskip("terminal.payment.engine", reason="needs the payment engine (issue 4)")
pytest.importorskip("simulators.bank", reason="needs the gateway simulator (issue 3)")

from simulators.card.applet import SimulatedCard
from simulators.card.emulator import CardEmulator
from simulators.card.testcards import load_test_cards
from terminal.money import Amount
from terminal.payment.api import Outcome, Progress, SaleRequest
from terminal.payment.factory import build_engine
from terminal.settings import load_settings
from terminal.wiring.nfc import card_capture
from tests.fixtures.gateway_sim import GatewaySim
from tests.unit.drivers.nfc.udp_field import wait_listening

POSTERM = [sys.executable, "-m", "terminal"]
CARDS = load_test_cards()
TERMINAL_IDS = iter(f"NFCPAY{n:02d}" for n in range(100))


def terminal(gateway: GatewaySim, tmp_path: Path) -> tuple[Path, str]:
    reader = f"udp:localhost:{free_port()}"
    config = gateway.terminal_config(
        tmp_path,
        terminal_id=next(TERMINAL_IDS),
        devices={"nfc": reader},
        nfc={"tap_timeout_s": 20.0},
    )
    return config, reader


def pay_cli(gateway: GatewaySim, tmp_path: Path, profile: str, amount: str) -> tuple[int, Any]:
    """`posterm pay ... --json` while `posterm sim card` taps: (exit code, the JSON object)."""
    config, reader = terminal(gateway, tmp_path)
    tapping = ["--profile", profile, "--reader", reader, "--taps", "1", "--timeout", "60"]
    card = subprocess.Popen([*POSTERM, "sim", "card", *tapping], stderr=subprocess.DEVNULL)
    wait_listening(reader)
    try:
        command = [*POSTERM, "--config", str(config), "pay", "--amount", amount]
        done = subprocess.run(
            [*command, "--method", "nfc", "--json"], capture_output=True, text=True, timeout=90
        )
    finally:
        card.kill()
        card.wait()
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


class CardInThread:
    """A simulated card tapping on the reader path until the test ends."""

    def __init__(self, profile: str, reader: str) -> None:
        self.applet = SimulatedCard(CARDS[profile], CARDS, slow_s=0.3)
        self.emulator = CardEmulator(
            reader, self.applet.handle, technology=self.applet.technology, on_tap=self.applet.reset
        )
        self.emulator.listen_slice_s = 0.3
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.emulator.serve, kwargs={"stop": self.stop})
        self.thread.start()
        wait_listening(reader)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.emulator.close()


@pytest.fixture
def sale(gateway_sim_module: GatewaySim, tmp_path: Path) -> Iterator[Any]:
    cards: list[CardInThread] = []

    def run(profile: str, amount: str) -> tuple[Outcome, list[Progress]]:
        config, reader = terminal(gateway_sim_module, tmp_path)
        cards.append(CardInThread(profile, reader))
        settings = load_settings(config, environ={})
        seen: list[Progress] = []

        async def sell() -> Outcome:
            engine = build_engine(settings, card_capture=card_capture(settings))
            async with engine:
                request = SaleRequest(Amount.parse(amount, "EUR"))
                return await engine.sale(request, seen.append, asyncio.Event())

        return asyncio.run(sell()), seen

    yield run
    for card in cards:
        card.close()


def test_posterm_pay_with_a_tapped_visa_card_is_approved(
    gateway_sim_module: GatewaySim, tmp_path: Path
) -> None:
    status, outcome = pay_cli(gateway_sim_module, tmp_path, "visa-credit", "12.34")
    assert (status, outcome["result"], outcome["code"]) == (0, "approved", "00")
    assert outcome["amount"] == {"value": 1234, "currency": "EUR"}
    assert outcome["entry"] == "nfc" and outcome["masked_pan"] == "476173******0010"
    assert outcome["auth_code"] and outcome["auth_code"] in outcome["message"]


def test_posterm_pay_with_a_card_the_issuer_blocked_is_declined(
    gateway_sim_module: GatewaySim, tmp_path: Path
) -> None:
    status, outcome = pay_cli(gateway_sim_module, tmp_path, "blocked", "12.34")
    assert (status, outcome["result"], outcome["code"]) == (1, "declined", "05")
    assert "blocked" in outcome["message"]


@pytest.mark.parametrize(
    ("profile", "amount", "masked_pan", "aid"),
    [
        ("mastercard-debit", "12.34", "541333******0434", "A0000000041010"),
        ("wallet-token", "75.00", "489537******0015", "A0000000031010"),  # CDCVM above 50.00
        ("two-apps", "9.99", "476173******0044", "A0000000032010"),  # priority 1 wins
        ("slow", "5.00", "476173******0051", "A0000000031010"),  # waiting-time extensions
    ],
)
def test_cards_and_phones_that_pay(
    sale: Any, profile: str, amount: str, masked_pan: str, aid: str
) -> None:
    outcome, _ = sale(profile, amount)
    assert (outcome.result.value, outcome.code) == ("approved", "00"), outcome.message
    assert (outcome.masked_pan, outcome.aid) == (masked_pan, aid)


def test_mastercard_debit_beyond_its_balance_is_declined(sale: Any) -> None:
    first, _ = sale("mastercard-debit", "49.99")
    outcome, _ = sale("mastercard-debit", "49.99")  # 80.00 on the account: the second fails
    assert first.result.value == "approved"
    assert (outcome.result.value, outcome.code) == ("declined", "51")


@pytest.mark.parametrize(
    ("profile", "amount", "result", "code", "sentence"),
    [
        ("expired", "12.34", "declined", "54", "This card has expired"),
        ("visa-credit", "75.00", "declined", "65", "a card needs a PIN"),
        ("visa-credit", "600.00", "declined", "61", "contactless"),  # checked before the tap
        ("pulled-away", "12.34", "cancelled", "", "tap again"),  # no decision: tap again
        ("not-emv", "12.34", "declined", "", "not a payment card"),
    ],
)
def test_refused_taps_say_why_and_charge_nothing(
    sale: Any,
    gateway_sim_module: GatewaySim,
    profile: str,
    amount: str,
    result: str,
    code: str,
    sentence: str,
) -> None:
    before = len(gateway_sim_module.ledger())
    outcome, _ = sale(profile, amount)
    assert (outcome.result.value, outcome.code) == (result, code)
    assert outcome.result.exit_code == 1  # a card refusal is no device or gateway error
    assert sentence in outcome.message
    assert len(gateway_sim_module.ledger()) == before
