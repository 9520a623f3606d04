"""The technician's fleet screen against a real Mosquitto: the retained statuses show as rows
at once, a new status updates its row (the bank going offline, the last will), another
merchant's terminals stay out with --merchant, and nothing is written to the broker."""

from __future__ import annotations

import json
from typing import Any

from textual.widgets import DataTable

from terminal.settings.sections import FleetSection
from terminal.ui.fleet_view import FleetView
from tests.fixtures.mosquitto import Broker
from tests.integration.fleet.mqtt_peer import Peer


def status(terminal_id: str, merchant_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "terminal_id": terminal_id,
        "merchant_id": merchant_id,
        "online": True,
        "version": "0.9.0",
        "started_at": "2026-12-07T08:00:00Z",
        "bank": "online",
        "queue": {"count": 0, "total": {"value": 0, "currency": "EUR"}, "oldest_age_s": 0},
        "declined_later": 0,
        "devices": {"nfc": "ok", "camera": "none", "printer": "missing", "display": "none"},
        "config_digest": "sha256:" + "ab" * 32,
        "last_sale_at": None,
        "at": "2026-12-07T11:02:00Z",
        **changes,
    }


def row(app: FleetView, terminal_id: str, merchant_id: str) -> list[str]:
    table = app.query_one(DataTable)
    return [str(cell) for cell in table.get_row(f"posterm/{merchant_id}/{terminal_id}/status")]


async def wait_until(pilot: Any, check: Any, what: str) -> None:
    for _ in range(300):  # 30 s: a loaded machine
        await pilot.pause(0.1)
        try:
            if check():
                return
        except Exception:  # the row is not there yet
            pass
    raise AssertionError(f"{what} not shown; the screen has {pilot.app.statuses!r}")


async def test_rows_appear_and_follow_the_terminals(mosquitto: Broker) -> None:
    mosquitto.add_user("POSA0001", "pw-a")
    mosquitto.add_user("POSB0001", "pw-b")
    with Peer(mosquitto, "POSA0001", "pw-a") as a, Peer(mosquitto, "POSB0001", "pw-b") as b:
        a.publish("posterm/SHOP1/POSA0001/status", status("POSA0001", "SHOP1"), retain=True)
        b.publish("posterm/SHOP2/POSB0001/status", status("POSB0001", "SHOP2"), retain=True)
        app = FleetView(FleetSection.model_validate(mosquitto.operator_fleet()))
        async with app.run_test(size=(120, 20)) as pilot:
            await wait_until(pilot, lambda: len(app.statuses) == 2, "both terminals")
            assert row(app, "POSA0001", "SHOP1") == [
                "POSA0001", "SHOP1", "yes", "2026-12-07T11:02:00Z", "online", "0 / 0.00",
                "printer missing", "abababababab",
            ]  # fmt: skip
            queued = {"count": 2, "total": {"value": 3234, "currency": "EUR"}, "oldest_age_s": 60}
            a.publish(
                "posterm/SHOP1/POSA0001/status",
                status("POSA0001", "SHOP1", bank="offline", queue=queued),
                retain=True,
            )
            await wait_until(
                pilot, lambda: row(app, "POSA0001", "SHOP1")[4] == "offline", "bank offline"
            )
            assert row(app, "POSA0001", "SHOP1")[5] == "2 / 32.34"
            b.publish(
                "posterm/SHOP2/POSB0001/status",
                status("POSB0001", "SHOP2", online=False),
                retain=True,
            )
            await wait_until(pilot, lambda: row(app, "POSB0001", "SHOP2")[2] == "NO", "offline")
            assert "2 terminal(s), 1 offline" in str(app.query_one("#fleet-note").render())


async def test_one_merchant_only(mosquitto: Broker) -> None:
    mosquitto.add_user("POSA0001", "pw-a")
    mosquitto.add_user("POSB0001", "pw-b")
    with Peer(mosquitto, "POSA0001", "pw-a") as a, Peer(mosquitto, "POSB0001", "pw-b") as b:
        a.publish("posterm/SHOP1/POSA0001/status", status("POSA0001", "SHOP1"), retain=True)
        b.publish("posterm/SHOP2/POSB0001/status", status("POSB0001", "SHOP2"), retain=True)
    with Peer(mosquitto, "operator", "operator-secret-1") as watcher:
        watcher.subscribe("posterm/+/+/config/set")
        watcher.subscribe("posterm/+/+/command")
        app = FleetView(FleetSection.model_validate(mosquitto.operator_fleet()), "SHOP2")
        async with app.run_test(size=(120, 20)) as pilot:
            await wait_until(pilot, lambda: len(app.statuses) == 1, "SHOP2's terminal")
            await pilot.pause(0.5)
            assert [s["terminal_id"] for s in app.statuses.values()] == ["POSB0001"]
            await pilot.press("q")
        assert watcher.messages.empty()  # read-only: nothing sent to any terminal


async def test_a_broker_that_refuses_us_is_a_sentence_on_screen(mosquitto: Broker) -> None:
    fleet = FleetSection.model_validate({**mosquitto.operator_fleet(), "password": "wrong"})
    app = FleetView(fleet)
    async with app.run_test(size=(120, 20)) as pilot:
        note = app.query_one("#fleet-note")
        await wait_until(pilot, lambda: "did not accept us" in str(note.render()), "the refusal")
        assert json.dumps(app.statuses) == "{}"
