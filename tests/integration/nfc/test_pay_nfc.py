"""End to end: `posterm pay --method nfc --json` with the reader on `udp:`, `posterm sim card`
tapping from its own process, and the gateway simulator deciding as the issuer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port

pytest.importorskip("terminal.payment.engine", reason="needs the payment engine (issue 4)")
pytest.importorskip("terminal.gateway.sim", reason="needs the gateway simulator (issue 3)")

from tests.fixtures.gateway_sim import GatewaySim

POSTERM = [sys.executable, "-m", "terminal"]
TERMINAL_IDS = iter(f"NFCPAY{n:02d}" for n in range(100))


def pay(
    gateway: GatewaySim, tmp_path: Path, profile: str, amount: str
) -> tuple[int, dict[str, Any], str]:
    """Tap `profile` for a sale of `amount`: (exit code, the --json object, stderr)."""
    reader = f"udp:localhost:{free_port()}"
    config = gateway.terminal_config(
        tmp_path,
        terminal_id=next(TERMINAL_IDS),
        devices={"nfc": reader},
        nfc={"tap_timeout_s": 20.0},
    )
    tapping = ["--profile", profile, "--reader", reader, "--taps", "1", "--timeout", "60"]
    card = subprocess.Popen([*POSTERM, "sim", "card", *tapping], stderr=subprocess.DEVNULL)
    try:
        done = subprocess.run(
            [
                *POSTERM,
                "--config",
                str(config),
                "pay",
                "--amount",
                amount,
                "--method",
                "nfc",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        card.kill()
        card.wait()
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def charged(gateway: GatewaySim, masked_pan: str) -> list[dict[str, Any]]:
    return [e for e in gateway.ledger() if masked_pan in json.dumps(e)]


def test_visa_credit_tap_is_approved_by_the_issuer(
    gateway_sim_module: GatewaySim, tmp_path: Path
) -> None:
    status, outcome, _ = pay(gateway_sim_module, tmp_path, "visa-credit", "12.34")
    assert (status, outcome["result"], outcome["code"]) == (0, "approved", "00")
    assert outcome["amount"] == {"value": 1234, "currency": "EUR"}
    assert outcome["entry"] == "nfc" and outcome["masked_pan"] == "476173******0010"
    assert outcome["auth_code"]


@pytest.mark.parametrize(
    ("profile", "amount", "masked_pan"),
    [
        ("mastercard-debit", "12.34", "541333******0434"),
        ("wallet-token", "75.00", "489537******0015"),  # above the CVM limit: CDCVM on the phone
        ("two-apps", "9.99", "476173******0044"),
        ("slow", "5.00", "476173******0051"),
    ],
)
def test_cards_and_phones_that_pay(
    gateway_sim_module: GatewaySim, tmp_path: Path, profile: str, amount: str, masked_pan: str
) -> None:
    status, outcome, _ = pay(gateway_sim_module, tmp_path, profile, amount)
    assert (status, outcome["result"], outcome["code"]) == (0, "approved", "00")
    assert outcome["masked_pan"] == masked_pan


def test_blocked_card_is_declined_by_the_issuer(
    gateway_sim_module: GatewaySim, tmp_path: Path
) -> None:
    status, outcome, _ = pay(gateway_sim_module, tmp_path, "blocked", "12.34")
    assert (status, outcome["result"], outcome["code"]) == (1, "declined", "05")


@pytest.mark.parametrize(
    ("profile", "amount", "sentence"),
    [
        ("expired", "12.34", "This card has expired"),
        ("visa-credit", "75.00", "a card needs a PIN"),
        ("visa-credit", "600.00", "contactless"),  # the engine checks the limit first
        ("pulled-away", "12.34", "tap again"),
        ("not-emv", "12.34", "not a payment card"),
    ],
)
def test_refused_taps_say_why_and_charge_nothing(
    gateway_sim_module: GatewaySim, tmp_path: Path, profile: str, amount: str, sentence: str
) -> None:
    before = len(gateway_sim_module.ledger())
    status, outcome, _ = pay(gateway_sim_module, tmp_path, profile, amount)
    assert status != 0 and outcome["result"] not in ("approved", "approved_offline")
    assert sentence in outcome["message"]
    assert len(gateway_sim_module.ledger()) == before
