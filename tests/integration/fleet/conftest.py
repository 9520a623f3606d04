"""The fleet tests' shared terminal: one `posterm serve` reporting to the real broker, trusting
a fresh operator key, with version 10 of its configuration applied earlier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.mosquitto import Broker
from tests.integration.fleet.terminals import (
    Serve,
    fleet_status,
    operator_config,
    posterm,
    wait_for,
)

MERCHANT = "SHOP55"
TERMINAL = "CONFIG01"


@pytest.fixture
def setup(gateway_sim: Any, mosquitto: Broker, tmp_path: Path) -> Iterator[dict[str, Any]]:
    keys = tmp_path / "keys"
    assert posterm("fleet", "keys", "init", "--out", str(keys)).returncode == 0
    mosquitto.add_user(TERMINAL, "pw-config")
    data = tmp_path / f"data-{TERMINAL}"
    data.mkdir()
    (data / "fleet-config.json").write_text('{"version": 10}')  # applied earlier
    config = gateway_sim.terminal_config(
        tmp_path,
        terminal_id=TERMINAL,
        merchant_id=MERCHANT,
        fleet=mosquitto.fleet(
            TERMINAL,
            "pw-config",
            heartbeat_s=2,
            operator_keys=[str(keys / "fleet-operator.pub.jwk")],
        ),
        devices={"nfc": "none"},
        gateway={"timeout_s": 2.0, "connect_timeout_s": 1.0},
    )
    serve = Serve(config, tmp_path / "serve.log")
    operator = operator_config(mosquitto, tmp_path)
    wait_for(lambda: fleet_status(operator), "the terminal's status", serve=serve)
    try:
        yield {
            "config": config,
            "operator": operator,
            "key": keys / "fleet-operator.jwk",
            "data": data,
            "tmp": tmp_path,
            "serve": serve,
        }
    finally:
        assert serve.stop() == 0, serve.output()
