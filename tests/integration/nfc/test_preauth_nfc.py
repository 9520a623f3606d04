"""`posterm preauth --amount A --json` exactly as a till runs it, while `posterm sim card` taps
through nfcpy's UDP front end: the hold is approved and the simulator holds the amount."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import free_port
from tests.fixtures.gateway_sim import GatewaySim
from tests.unit.drivers.nfc.udp_field import wait_listening

POSTERM = [sys.executable, "-m", "terminal"]


def test_posterm_preauth_with_a_tapped_phone_holds_the_amount(
    gateway_sim_module: GatewaySim, tmp_path: Path
) -> None:
    reader = f"udp:localhost:{free_port()}"
    config = gateway_sim_module.terminal_config(
        tmp_path, terminal_id="NFCHOLD1", devices={"nfc": reader}, nfc={"tap_timeout_s": 20.0}
    )
    tapping = ["--profile", "wallet-token", "--reader", reader, "--taps", "1", "--timeout", "60"]
    card = subprocess.Popen([*POSTERM, "sim", "card", *tapping], stderr=subprocess.DEVNULL)
    wait_listening(reader)
    try:
        done = subprocess.run(
            [*POSTERM, "--config", str(config), "preauth", "--amount", "100.00", "--json"],
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        card.kill()
        card.wait()
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["result"] == "approved" and answer["entry"] == "nfc"
    assert answer["amount"] == {"value": 10000, "currency": "EUR"}
    assert "held on the card" in answer["message"]
    holds = gateway_sim_module.holds("NFCHOLD1")
    assert [(h["id"], h["state"], h["held"]["value"]) for h in holds] == [
        (answer["id"], "held", 10000)
    ]
