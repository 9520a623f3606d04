"""A Tokyo shop and a Kuwaiti shop, each configured by a site file that sets only the currency
(and who they are): `posterm serve` in its own process, the real engine and gateway simulator,
a simulated card tapped on the NFC reader over nfcpy's UDP front end, and the receipt read back
from the fake printer's ESC/POS bytes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.card.present import present_card, simulated_card
from simulators.card.testcards import load_test_cards
from simulators.printer import FakePrinter
from terminal.money import Amount
from tests.conftest import free_port
from tests.integration.ecr.test_serve_real_engine import wait_listening
from tests.unit.receipts.escpos_decode import decode

REPO = Path(__file__).resolve().parents[3]
TOKEN = "counter-token-0123456789"


def card_balance(profile: str) -> int:
    """The card's opening balance in minor units, as config/sim/cards.toml gives it."""
    card = load_test_cards()[profile]
    return Amount.parse(card.balance, card.currency).minor


def posterm(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "terminal", "--config", str(config), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def line_with(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(label))


@pytest.mark.parametrize(
    ("currency", "country", "value", "shown", "profile", "label", "aid", "too_precise"),
    [
        ("JPY", "JP", 500, "JPY 500", "visa-jpy", "VISA CREDIT", "A0000000031010", "500.5"),
        (
            "KWD",
            "KW",
            1250,
            "KWD 1.250",
            "mastercard-kwd",
            "MASTERCARD",
            "A0000000041010",
            "1.2505",
        ),
    ],
)
def test_a_sale_in_a_currency_without_or_with_three_decimals_prints_a_correct_receipt(
    gateway_sim_module: Any,
    tmp_path: Path,
    currency: str,
    country: str,
    value: int,
    shown: str,
    profile: str,
    label: str,
    aid: str,
    too_precise: str,
) -> None:
    sim = gateway_sim_module
    terminal_id = f"SHOP{currency}1"
    port = free_port()
    reader = f"udp:localhost:{free_port()}"
    pan = load_test_cards()[profile].pan
    with FakePrinter() as printer:
        config = sim.terminal_config(
            tmp_path,
            terminal_id=terminal_id,
            merchant_id="SHOP00000000042",
            merchant_name=f"Corner Shop {currency}",
            currency=currency,
            country=country,
            devices={"nfc": reader, "printer": printer.url},
            ecr={"enabled": True, "listen": f"127.0.0.1:{port}", "token": TOKEN},
        )
        check = posterm(config, "config", "check")
        assert check.returncode == 0, check.stderr
        log = tmp_path / "serve.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "terminal", "--config", str(config), "serve"],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "POSTERM_LOGGING__TARGET": "stderr"},
            )
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        try:
            wait_listening(f"{base}/ecr/v1/status", process, log)
            created = httpx.post(
                f"{base}/ecr/v1/payments",
                headers=headers,
                json={"amount": {"value": value, "currency": currency}, "method": "nfc"},
            )
            assert created.status_code == 202, created.text
            tap = threading.Thread(
                target=present_card,
                args=(simulated_card(profile), reader),
                kwargs={"taps": 1, "duration_s": 20},
            )
            tap.start()
            done = httpx.get(
                f"{base}/ecr/v1/payments/{created.json()['id']}?wait=30",
                headers=headers,
                timeout=40,
            ).json()
            tap.join(timeout=20)
            assert done["result"] == "approved", done
            assert done["amount"] == {"value": value, "currency": currency}
            assert (done["aid"], done["label"], done["cryptogram_type"], done["cvm"]) == (
                aid,
                label,
                "ARQC",
                "no_cvm",
            )
            deadline = time.monotonic() + 10
            while decode(printer.received).cuts < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            paper = decode(printer.received).text
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
        assert code == 0, log.read_text(errors="replace")

    merchant, customer = paper.split("MERCHANT COPY")
    for copy in (merchant, customer):
        assert line_with(copy, "TOTAL").endswith(" " + shown)
        assert line_with(copy, "Application").endswith(label)
        assert line_with(copy, "AID").endswith(aid)
        assert line_with(copy, "Entry").endswith("Contactless")
        assert line_with(copy, "Cryptogram").endswith("ARQC")
        assert line_with(copy, "Auth code").endswith(done["auth_code"])
        assert line_with(copy, "Terminal").endswith(terminal_id)
        assert line_with(copy, "Merchant").endswith("SHOP00000000042")
        assert f"Corner Shop {currency}" in copy
        assert "No signature required" in copy
        assert "APPROVED" in copy
    assert line_with(merchant, "Card").endswith(pan[:6] + "******" + pan[-4:])
    assert line_with(customer, "Card").endswith("*" * 12 + pan[-4:])
    assert pan not in paper

    # The bank charged exactly this amount once, in the shop's currency.
    (charge,) = sim.ledger(terminal_id)
    assert (charge["type"], charge["result"], charge["id"]) == (
        "authorize",
        "approved",
        done["transaction_id"],
    )
    assert charge["amount"] == {"value": value, "currency": currency}
    assert sim.card(profile)["balance"]["value"] == card_balance(profile) - value

    # History keeps its fields and adds what the receipt needed from the card.
    history = posterm(config, "history", "--json")
    assert history.returncode == 0, history.stderr
    (row,) = json.loads(history.stdout)
    assert row["amount"] == {"value": value, "currency": currency}
    assert (row["aid"], row["label"], row["cryptogram_type"], row["cvm"]) == (
        aid,
        label,
        "ARQC",
        "no_cvm",
    )
    assert row["masked_pan"] == pan[:6] + "******" + pan[-4:]
    for key in ("id", "type", "state", "result", "entry", "created_at", "code", "auth_code"):
        assert key in row
    assert pan not in history.stdout

    # The CLI shows the amount with the currency's decimals, and refuses more of them.
    listed = posterm(config, "history")
    assert listed.returncode == 0 and f" {shown} " in listed.stdout, listed.stdout
    refused = posterm(config, "pay", "--amount", too_precise, "--json")
    assert refused.returncode == 2, refused.stderr
    assert json.loads(refused.stdout)["message"].startswith("too many decimals")
    assert "Traceback" not in refused.stderr
