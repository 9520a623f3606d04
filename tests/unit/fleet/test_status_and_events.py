"""The status object's exact keys and the events its changes mean, from the engine's public
API only; the bounded event queue that holds them while the broker is down."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from terminal.fleet.events import EventQueue
from terminal.fleet.status import changed, config_digest, events_between, status_of
from terminal.money import Amount
from terminal.payment.api import QueueStatus, TransactionView
from terminal.settings import load_settings

NOW = datetime(2026, 12, 7, 11, 2, 0, tzinfo=UTC)
DEVICES = {"nfc": "ok", "camera": "none", "printer": "missing", "display": "none"}


@dataclass
class Engine:
    """The engine's read-only public API, as the reporter uses it."""

    gateway_online: bool = True
    queue: QueueStatus = field(
        default_factory=lambda: QueueStatus(count=0, total=Amount.zero("EUR"), oldest=None)
    )
    sales: list[TransactionView] = field(default_factory=list)

    def queue_status(self) -> QueueStatus:
        return self.queue

    def history(self, *, limit: int = 100, search: str = "") -> list[TransactionView]:
        return self.sales[:limit]


def sale(at: datetime) -> TransactionView:
    return TransactionView(
        id="t1",
        type="sale",
        state="completed",
        result="approved_offline",
        amount=Amount.of(1234, "EUR"),
        entry="nfc",
        masked_pan="476173******0010",
        created_at=at,
    )


def status(engine: Engine, devices: dict[str, str] = DEVICES) -> dict[str, Any]:
    settings = load_settings(None, {})
    return status_of(
        settings,
        engine,  # type: ignore[arg-type]
        devices,
        started_at=NOW - timedelta(hours=1),
        digest=config_digest(settings),
        now=NOW,
    )


def test_status_has_exactly_the_keys_of_the_issue() -> None:
    engine = Engine(
        gateway_online=False,
        queue=QueueStatus(
            count=37,
            total=Amount.of(123456, "EUR"),
            oldest=NOW - timedelta(minutes=5),
            declined_offline=2,
        ),
        sales=[sale(NOW - timedelta(seconds=30))],
    )
    shown = status(engine)
    assert set(shown) == {
        "terminal_id", "merchant_id", "online", "version", "started_at", "bank", "queue",
        "declined_later", "devices", "config_digest", "last_sale_at", "at",
    }  # fmt: skip
    assert shown["online"] is True
    assert shown["bank"] == "offline"
    assert shown["queue"] == {
        "count": 37,
        "total": {"value": 123456, "currency": "EUR"},
        "oldest_age_s": 300,
    }
    assert shown["declined_later"] == 2
    assert shown["devices"] == DEVICES
    assert shown["started_at"] == "2026-12-07T10:02:00Z"
    assert shown["last_sale_at"] == "2026-12-07T11:01:30Z"
    assert shown["at"] == "2026-12-07T11:02:00Z"
    assert "476173" not in json.dumps(shown)  # not even a masked PAN


def test_no_sale_yet_is_null_and_an_empty_queue_has_age_zero() -> None:
    shown = status(Engine())
    assert shown["last_sale_at"] is None
    assert shown["queue"]["oldest_age_s"] == 0


def test_config_digest_changes_with_a_setting_and_hides_secrets() -> None:
    plain = load_settings(None, {})
    other = load_settings(None, {"POSTERM_OFFLINE__FLOOR_LIMIT": '"25.00"'})
    secret_a = load_settings(None, {"POSTERM_FLEET__PASSWORD": "aaaaaaaa"})
    secret_b = load_settings(None, {"POSTERM_FLEET__PASSWORD": "bbbbbbbb"})
    assert config_digest(plain) != config_digest(other)
    assert config_digest(secret_a) == config_digest(secret_b)


def test_only_a_real_change_counts_not_the_clock() -> None:
    first = status(Engine())
    later = {**first, "at": "2026-12-07T11:03:00Z"}
    assert changed(None, first)
    assert not changed(first, later)
    assert changed(first, status(Engine(gateway_online=False)))


def test_bank_link_lost_then_restored() -> None:
    online, offline = status(Engine()), status(Engine(gateway_online=False))
    assert events_between(None, offline) == []
    (lost,) = events_between(online, offline)
    assert lost["event"] == "bank_link_lost"
    (restored,) = events_between(offline, online)
    assert restored["event"] == "bank_link_restored"


def test_sales_declined_later_are_counted() -> None:
    before = status(Engine())
    declined = QueueStatus(count=0, total=Amount.zero("EUR"), oldest=None, declined_offline=3)
    (event,) = events_between(before, status(Engine(queue=declined)))
    assert event == {"event": "declined_later", "count": 3, "total": 3}


def test_device_lost_and_found() -> None:
    before = status(Engine())
    gone = status(Engine(), {**DEVICES, "nfc": "missing"})
    (lost,) = events_between(before, gone)
    assert lost == {"event": "device_lost", "device": "nfc", "state": "missing"}
    (found,) = events_between(gone, before)
    assert found == {"event": "device_found", "device": "nfc"}


def test_event_queue_keeps_the_newest_and_counts_the_dropped() -> None:
    queue = EventQueue(limit=3)
    for n in range(5):
        queue.put({"n": n})
    assert len(queue) == 3
    assert queue.take_dropped() == 2
    assert queue.take_dropped() == 0
    seen = []
    while (event := queue.peek()) is not None:
        seen.append(event["n"])
        queue.pop()
    assert seen == [2, 3, 4]
