"""Terminals report to a real Mosquitto broker and the technician sees them in
`posterm fleet status`: online, bank link, offline queue, devices; a terminal killed with
SIGKILL turns `online: false` by the broker's last will."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fixtures.mosquitto import Broker
from tests.integration.fleet.terminals import Serve, fleet_status, operator_config, wait_for

MERCHANT = "SHOP42"


def start_terminal(
    gateway_sim: Any, mosquitto: Broker, tmp_path: Path, terminal_id: str, **more: Any
) -> Serve:
    password = f"pw-{terminal_id}"
    mosquitto.add_user(terminal_id, password)
    config = gateway_sim.terminal_config(
        tmp_path,
        terminal_id=terminal_id,
        merchant_id=MERCHANT,
        fleet=mosquitto.fleet(terminal_id, password, heartbeat_s=2),
        devices={"nfc": "none"},
        gateway={"timeout_s": 2.0, "connect_timeout_s": 1.0},
        **more,
    )
    return Serve(config, tmp_path / f"serve-{terminal_id}.log")


def by_terminal(statuses: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {status["terminal_id"]: status for status in statuses}


def test_three_terminals_appear_with_bank_queue_and_devices(
    gateway_sim: Any, mosquitto: Broker, tmp_path: Path
) -> None:
    ids = ["FLEET001", "FLEET002", "FLEET003"]
    terminals = [start_terminal(gateway_sim, mosquitto, tmp_path, tid) for tid in ids]
    operator = operator_config(mosquitto, tmp_path)
    try:
        statuses = wait_for(
            lambda: (s := by_terminal(fleet_status(operator))) and set(s) == set(ids) and s,
            "three terminals in fleet status",
            serve=terminals[0],
        )
        for tid in ids:
            status = statuses[tid]
            assert status["merchant_id"] == MERCHANT
            assert status["online"] is True
            assert status["bank"] == "online"
            assert status["queue"] == {
                "count": 0,
                "total": {"value": 0, "currency": "EUR"},
                "oldest_age_s": 0,
            }
            assert status["declined_later"] == 0
            assert status["devices"] == {
                "nfc": "none",
                "camera": "none",
                "printer": "none",
                "display": "none",
            }
            assert status["last_seen"] == status["at"]
            assert status["config_digest"].startswith("sha256:")
        assert set(by_terminal(fleet_status(operator, "--merchant", "OTHER"))) == set()
    finally:
        for terminal in terminals:
            terminal.stop()
    after = by_terminal(fleet_status(operator))
    assert all(after[tid]["online"] is False for tid in ids)


def test_kill_9_shows_the_terminal_offline_by_its_last_will(
    gateway_sim: Any, mosquitto: Broker, tmp_path: Path
) -> None:
    terminal = start_terminal(gateway_sim, mosquitto, tmp_path, "FLEET009")
    operator = operator_config(mosquitto, tmp_path)
    try:
        wait_for(
            lambda: any(s["online"] for s in fleet_status(operator)),
            "the terminal online",
            serve=terminal,
        )
    finally:
        terminal.kill()
    # keepalive is 5 s here (heartbeat 2 s, floor 5 s): the will arrives within 2 x keepalive
    status = wait_for(
        lambda: [s for s in fleet_status(operator) if s["online"] is False],
        "online: false after SIGKILL",
        timeout_s=10,
    )
    assert status[0]["terminal_id"] == "FLEET009"
