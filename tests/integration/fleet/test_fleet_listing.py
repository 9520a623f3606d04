"""`posterm fleet status` against a busy fleet: statuses published all the time must not keep
the listing open (it waited for a quiet half second a busy fleet never has); the retained
statuses are all listed, and a fresher one published meanwhile wins."""

from __future__ import annotations

import threading
import time

from terminal.fleet.listing import read_statuses
from terminal.settings.sections import FleetSection
from tests.fixtures.mosquitto import Broker
from tests.integration.fleet.mqtt_peer import Peer


def test_a_busy_fleet_is_listed_without_waiting_for_quiet(mosquitto: Broker) -> None:
    mosquitto.add_user("BUSY0001", "pw-busy")
    mosquitto.add_user("CALM0001", "pw-calm")
    stop = threading.Event()
    with (
        Peer(mosquitto, "BUSY0001", "pw-busy") as busy,
        Peer(mosquitto, "CALM0001", "pw-calm") as calm,
    ):
        calm.publish("posterm/SHOP1/CALM0001/status", {"terminal_id": "CALM0001"}, retain=True)

        def chatter() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                status = {"terminal_id": "BUSY0001", "n": n}
                busy.publish("posterm/SHOP1/BUSY0001/status", status, retain=True)
                time.sleep(0.05)  # 20 statuses a second: never a quiet half second

        thread = threading.Thread(target=chatter)
        thread.start()
        try:
            time.sleep(0.5)
            started = time.monotonic()
            statuses = read_statuses(FleetSection.model_validate(mosquitto.operator_fleet()))
            took = time.monotonic() - started
        finally:
            stop.set()
            thread.join()
    assert [s["terminal_id"] for s in statuses] == ["BUSY0001", "CALM0001"]
    assert took < 8, f"the listing took {took:.1f} s (its bound is 10 s)"
    assert statuses[0]["n"] > 1
