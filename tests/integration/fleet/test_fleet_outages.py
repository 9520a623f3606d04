"""Outages as a chain sees them: the bank link cut (status says offline, the queue grows, the
events say when) and the broker down (sales go on, events wait up to the bound, the status is
published again on reconnect)."""

from __future__ import annotations

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
    till_sale,
    wait_for,
)

MERCHANT = "SHOP77"


def till_terminal(
    gateway_sim: Any, mosquitto: Broker, tmp_path: Path, terminal_id: str, **fleet: Any
) -> tuple[Serve, int, str]:
    password = f"pw-{terminal_id}"
    mosquitto.add_user(terminal_id, password)
    port, reader = free_port(), f"udp:localhost:{free_port()}"
    config = gateway_sim.terminal_config(
        tmp_path,
        terminal_id=terminal_id,
        merchant_id=MERCHANT,
        fleet=mosquitto.fleet(terminal_id, password, heartbeat_s=2, **fleet),
        devices={"nfc": reader},
        ecr={"enabled": True, "listen": f"127.0.0.1:{port}", "token": TOKEN},
        gateway={"timeout_s": 2.0, "connect_timeout_s": 1.0},
    )
    serve = Serve(config, tmp_path / f"serve-{terminal_id}.log")
    wait_for(lambda: ecr_listening(port), "the ECR API", serve=serve)
    return serve, port, reader


def events_of(peer: Peer, count: int) -> list[dict[str, Any]]:
    return [peer.next_json(timeout_s=60)[1] for _ in range(count)]


def test_bank_link_cut_shows_offline_and_a_growing_queue(
    gateway_sim: Any, mosquitto: Broker, tmp_path: Path
) -> None:
    serve, port, reader = till_terminal(gateway_sim, mosquitto, tmp_path, "OUTAGE01")
    operator = operator_config(mosquitto, tmp_path)
    try:
        with Peer(mosquitto, OPERATOR, OPERATOR_PASSWORD) as watcher:
            watcher.subscribe(f"posterm/{MERCHANT}/+/events")
            wait_for(
                lambda: [s for s in fleet_status(operator) if s["bank"] == "online"],
                "the terminal online with its bank",
                serve=serve,
            )
            gateway_sim.faults(down=True)
            for n, minor in enumerate((1234, 2000), start=1):
                done = till_sale(port, reader, minor, f"OFF-{n}")
                assert done["result"] == "approved_offline", done
                (status,) = wait_for(
                    lambda n=n: [
                        s
                        for s in fleet_status(operator)
                        if s["bank"] == "offline" and s["queue"]["count"] == n
                    ],
                    f"bank offline with {n} queued",
                    serve=serve,
                )
            assert status["queue"]["total"] == {"value": 3234, "currency": "EUR"}
            assert status["last_sale_at"] is not None
            (lost,) = events_of(watcher, 1)
            assert lost["event"] == "bank_link_lost"
            assert lost["terminal_id"] == "OUTAGE01"
            gateway_sim.faults()
            (restored,) = events_of(watcher, 1)
            assert restored["event"] == "bank_link_restored"
    finally:
        gateway_sim.faults()
        assert serve.stop() == 0, serve.output()
    log = serve.output()
    assert "476173" not in log.replace("476173******", "")


def test_broker_down_sales_continue_events_bounded_status_republished(
    gateway_sim: Any, mosquitto: Broker, tmp_path: Path
) -> None:
    serve, port, reader = till_terminal(
        gateway_sim, mosquitto, tmp_path, "OUTAGE02", max_queued_events=1
    )
    operator = operator_config(mosquitto, tmp_path)
    # An operator dashboard with a persistent session: the broker keeps what it missed.
    dashboard = Peer(mosquitto, OPERATOR, OPERATOR_PASSWORD, client_id="dash", persistent=True)
    try:
        with dashboard:
            dashboard.subscribe(f"posterm/{MERCHANT}/+/events")
            wait_for(lambda: fleet_status(operator), "the terminal's status", serve=serve)
            mosquitto.stop()
            wait_for(lambda: "lost the broker" in serve.output(), "the terminal saw it go")
            gateway_sim.faults(down=True)
            done = till_sale(port, reader, 1500, "NO-BROKER")
            assert done["result"] == "approved_offline", done  # the broker is not needed
            wait_for(
                lambda: (
                    "bank_link_lost kept until the broker is back (1 waiting, 0 dropped)"
                    in serve.output()
                ),
                "the lost link queued",
                serve=serve,
            )
            gateway_sim.faults()
            wait_for(lambda: ecr_status(port)["queue"]["count"] == 0, "the offline sale forwarded")
            wait_for(
                lambda: (
                    "bank_link_restored kept until the broker is back (1 waiting, 1 dropped)"
                    in serve.output()
                ),
                "the restored link queued",
                serve=serve,
            )
            mosquitto.start()
            (status,) = wait_for(
                lambda: [s for s in fleet_status(operator) if s["last_sale_at"] is not None],
                "the status published again after the broker returned",
                timeout_s=90,
                serve=serve,
            )
            assert status["online"] is True and status["bank"] == "online"
            dropped, restored = events_of(dashboard, 2)
            # lost, then restored, with room for one: the oldest was dropped and counted
            assert dropped["event"] == "events_dropped" and dropped["count"] == 1
            assert restored["event"] == "bank_link_restored"
    finally:
        gateway_sim.faults()
        assert serve.stop() == 0, serve.output()
