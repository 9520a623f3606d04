"""A floor limit pushed to a merchant reaches every terminal of the merchant through the real
broker, each taking it between sales: the terminal idle applies it at once, the terminal with
a sale under way answers only after that sale finished under the old limit; both audit it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx

from simulators.card.present import present_card, simulated_card
from simulators.loopback import free_port
from terminal.security.audit import AuditLog
from tests.fixtures.mosquitto import Broker
from tests.integration.fleet.terminals import (
    REPO,
    TOKEN,
    Serve,
    ecr_listening,
    fleet_status,
    operator_config,
    posterm,
    wait_for,
)

MERCHANT = "SHOPFLR"


def applied_version(data: Path) -> int:
    try:
        version: int = json.loads((data / "fleet-config.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return 0
    return version


def test_a_floor_limit_push_waits_for_the_sale_under_way(
    gateway_sim: Any, mosquitto: Broker, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    assert posterm("fleet", "keys", "init", "--out", str(keys)).returncode == 0
    port, reader = free_port(), f"udp:localhost:{free_port()}"
    terminals: dict[str, tuple[Serve, Path]] = {}
    for terminal_id, devices, ecr in (
        ("FLOOR001", {"nfc": reader}, {"enabled": True, "listen": f"127.0.0.1:{port}",
                                       "token": TOKEN}),
        ("FLOOR002", {"nfc": "none"}, {"enabled": False}),
    ):  # fmt: skip
        mosquitto.add_user(terminal_id, f"pw-{terminal_id}")
        config = gateway_sim.terminal_config(
            tmp_path,
            terminal_id=terminal_id,
            merchant_id=MERCHANT,
            fleet=mosquitto.fleet(
                terminal_id,
                f"pw-{terminal_id}",
                heartbeat_s=2,
                operator_keys=[str(keys / "fleet-operator.pub.jwk")],
            ),
            devices=devices,
            ecr=ecr,
            offline={"enabled": True, "floor_limit": "50.00"},
            gateway={"timeout_s": 2.0, "connect_timeout_s": 1.0},
        )
        serve = Serve(config, tmp_path / f"serve-{terminal_id}.log")
        terminals[terminal_id] = (serve, tmp_path / f"data-{terminal_id}")
    busy, busy_data = terminals["FLOOR001"]
    idle, idle_data = terminals["FLOOR002"]
    operator = operator_config(mosquitto, tmp_path)
    change = tmp_path / "floor.toml"
    change.write_text('[offline]\nfloor_limit = "25.00"\n', encoding="utf-8")
    base = f"http://127.0.0.1:{port}/ecr/v1"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    pushing: subprocess.Popen[str] | None = None
    try:
        wait_for(lambda: ecr_listening(port), "the ECR API", serve=busy)
        wait_for(lambda: len(fleet_status(operator, "--merchant", MERCHANT)) == 2,
                 "both terminals on the broker")  # fmt: skip
        gateway_sim.faults(down=True)  # offline: the floor limit decides
        created = httpx.post(
            f"{base}/payments",
            headers=headers,
            json={"amount": {"value": 3000, "currency": "EUR"}, "method": "nfc",
                  "reference": "UNDER-WAY"},
        )  # fmt: skip
        assert created.status_code == 202, created.text
        pushing = subprocess.Popen(
            [sys.executable, "-m", "terminal", "--config", str(operator), "fleet",
             "push-config", str(change), "--merchant", MERCHANT,
             "--key", str(keys / "fleet-operator.jwk"), "--version", "7", "--wait", "60"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_for(lambda: applied_version(idle_data) == 7, "the idle terminal applying it",
                 serve=idle)  # fmt: skip
        assert applied_version(busy_data) == 0  # the sale under way holds the change back
        assert pushing.poll() is None

        tap = threading.Thread(
            target=present_card,
            args=(simulated_card("visa-credit"), reader),
            kwargs={"taps": 1, "duration_s": 20},
        )
        tap.start()
        done = httpx.get(
            f"{base}/payments/{created.json()['id']}?wait=40", headers=headers, timeout=50
        ).json()
        tap.join(timeout=20)
        assert done["result"] == "approved_offline", done  # 30.00 under the old 50.00

        out, err = pushing.communicate(timeout=60)
        assert pushing.returncode == 0, out + err
        assert "FLOOR001 applied" in out and "FLOOR002 applied" in out
        assert applied_version(busy_data) == 7

        again = httpx.post(
            f"{base}/payments",
            headers=headers,
            json={"amount": {"value": 3000, "currency": "EUR"}, "method": "nfc",
                  "reference": "AFTER"},
        )  # fmt: skip
        tap = threading.Thread(
            target=present_card,
            args=(simulated_card("visa-credit"), reader),
            kwargs={"taps": 1, "duration_s": 20},
        )
        tap.start()
        after = httpx.get(
            f"{base}/payments/{again.json()['id']}?wait=40", headers=headers, timeout=50
        ).json()
        tap.join(timeout=20)
        assert after["result"] != "approved_offline", after  # 30.00 over the new 25.00
        for data in (busy_data, idle_data):
            actions = [r.action for r in AuditLog(data).records()]
            assert "fleet.config.apply" in actions
    finally:
        gateway_sim.faults()
        if pushing is not None and pushing.poll() is None:
            pushing.kill()
        for serve, _ in terminals.values():
            assert serve.stop() == 0, serve.output()
