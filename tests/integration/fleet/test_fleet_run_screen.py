"""`posterm run` (the operator screen, not only `posterm serve`) reports to the fleet: the real
screen in tmux, the real broker; the terminal appears in `posterm fleet status` while the screen
runs and is shown offline once the operator quits it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.mosquitto import Broker
from tests.integration.fleet.terminals import fleet_status, operator_config, wait_for
from tests.ui.test_demo_in_tmux import Pane

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

MERCHANT = "SHOP99"
TERMINAL = "SCREEN01"


def test_posterm_run_starts_the_fleet_reporter(
    gateway_sim: Any, mosquitto: Broker, tmp_path: Path
) -> None:
    mosquitto.add_user(TERMINAL, "pw-screen")
    config = gateway_sim.terminal_config(
        tmp_path,
        terminal_id=TERMINAL,
        merchant_id=MERCHANT,
        fleet=mosquitto.fleet(TERMINAL, "pw-screen", heartbeat_s=2),
        devices={"nfc": "none", "printer": "none", "camera": "none", "display": "none"},
        gateway={"timeout_s": 2.0, "connect_timeout_s": 1.0},
    )
    operator = operator_config(mosquitto, tmp_path)
    pane = Pane([sys.executable, "-m", "terminal", "--config", str(config), "run"])
    try:
        (status,) = wait_for(
            lambda: [s for s in fleet_status(operator) if s["terminal_id"] == TERMINAL],
            "the screen's terminal in fleet status",
            timeout_s=60,
        )
        assert status["online"] is True and status["merchant_id"] == MERCHANT
        assert status["bank"] == "online"
        pane.keys("C-q")
        wait_for(
            lambda: [s for s in fleet_status(operator) if s["online"] is False],
            "the terminal shown offline after the screen was closed",
            timeout_s=30,
        )
    finally:
        pane.close()
