"""The events a chain acts on, through the real broker from a running `posterm serve`: a device
lost and found again, an offline sale the bank declined when it was forwarded, and a batch
closed (with its totals) by a signed command."""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path
from typing import Any

from simulators.loopback import free_port
from tests.fixtures.mosquitto import OPERATOR, OPERATOR_PASSWORD, Broker
from tests.integration.fleet.mqtt_peer import Peer
from tests.integration.fleet.terminals import (
    TOKEN,
    Serve,
    ecr_listening,
    ecr_status,
    fleet_status,
    operator_config,
    posterm,
    till_sale,
    wait_for,
)

MERCHANT = "SHOPEVT"
TERMINAL = "EVENT001"


def next_event(watcher: Peer, wanted: str, timeout_s: float = 60) -> dict[str, Any]:
    """The next event named `wanted` (others, such as the bank link's, are skipped)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            _, payload = watcher.messages.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        event: dict[str, Any] = json.loads(payload)
        if event.get("event") == wanted:
            return event
    raise AssertionError(f"no {wanted} event within {timeout_s} s")


def test_device_lost_and_found_declined_later_and_batch_closed(
    gateway_sim: Any, mosquitto: Broker, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    assert posterm("fleet", "keys", "init", "--out", str(keys)).returncode == 0
    mosquitto.add_user(TERMINAL, "pw-events")
    frames = tmp_path / "camera"
    frames.mkdir()
    frame = frames / "frame-000.png"
    frame.write_bytes(b"a frame the simulated camera shows")
    port, reader = free_port(), f"udp:localhost:{free_port()}"
    config = gateway_sim.terminal_config(
        tmp_path,
        terminal_id=TERMINAL,
        merchant_id=MERCHANT,
        fleet=mosquitto.fleet(
            TERMINAL,
            "pw-events",
            heartbeat_s=2,
            operator_keys=[str(keys / "fleet-operator.pub.jwk")],
        ),
        devices={"nfc": reader, "camera": str(frames / "frame-%03d.png")},
        ecr={"enabled": True, "listen": f"127.0.0.1:{port}", "token": TOKEN},
        offline={"enabled": True, "floor_limit": "50.00"},
        gateway={"timeout_s": 2.0, "connect_timeout_s": 1.0},
    )
    serve = Serve(config, tmp_path / "serve-events.log")
    operator = operator_config(mosquitto, tmp_path)
    try:
        with Peer(mosquitto, OPERATOR, OPERATOR_PASSWORD) as watcher:
            watcher.subscribe(f"posterm/{MERCHANT}/{TERMINAL}/events")
            wait_for(lambda: ecr_listening(port), "the ECR API", serve=serve)
            wait_for(
                lambda: [s for s in fleet_status(operator) if s["devices"]["camera"] == "ok"],
                "the camera ok",
                serve=serve,
            )

            frame.unlink()  # the camera's feed is gone
            lost = next_event(watcher, "device_lost")
            assert (lost["device"], lost["state"]) == ("camera", "missing")
            frame.write_bytes(b"back")
            assert next_event(watcher, "device_found")["device"] == "camera"

            gateway_sim.faults(down=True)
            done = till_sale(port, reader, 2500, "BLOCKED-OFFLINE", card="blocked")
            assert done["result"] == "approved_offline", done  # the terminal cannot know
            gateway_sim.faults()
            declined = next_event(watcher, "declined_later", timeout_s=90)
            assert declined["count"] == 1 and declined["total"] == 1
            wait_for(lambda: ecr_status(port)["queue"]["count"] == 0, "the queue forwarded")

            batch = posterm(
                "--config", str(operator), "fleet", "command", "close-batch",
                "--terminal", TERMINAL, "--key", str(keys / "fleet-operator.jwk"),
                "--wait", "60", "--json",
            )  # fmt: skip
            assert batch.returncode == 0, batch.stdout + batch.stderr
            closed = next_event(watcher, "batch_closed")
            assert closed["terminal_id"] == TERMINAL and "totals" in closed
            raw = json.dumps(closed)
            assert "4761739001010036" not in raw  # the blocked card's number, never
    finally:
        gateway_sim.faults()
        assert serve.stop() == 0, serve.output()
