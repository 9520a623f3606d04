"""What the technician's commands read from the broker: every terminal's retained status
(`posterm fleet status`) and the events as they arrive (`posterm fleet watch`)."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from terminal.fleet.broker import new_client
from terminal.fleet.errors import BrokerRefused
from terminal.fleet.topics import all_events, all_status
from terminal.settings.fleet_section import FleetSection


class Subscription:
    """A short-lived paho client subscribed to `topic`, messages delivered to a queue."""

    def __init__(self, fleet: FleetSection, topic: str, *, timeout_s: float = 10.0) -> None:
        self.fleet = fleet
        self.topic = topic
        self.timeout_s = timeout_s
        self.messages: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        """(topic, payload, retained): retained is True for what the broker kept from before
        the subscription, False for what is published while we listen."""
        self.subscribed = threading.Event()
        self._problem = ""
        self._refused = threading.Event()
        self._client, self.address = new_client(fleet, f"posterm-fleet-{uuid.uuid4().hex[:12]}")

    def __enter__(self) -> Subscription:
        client = self._client
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *a: self.subscribed.set()
        client.on_message = lambda c, u, msg: self.messages.put(
            (msg.topic, bytes(msg.payload), bool(msg.retain))
        )
        try:
            client.connect(self.address.host, self.address.port, 30)
        except (OSError, ValueError) as error:
            raise BrokerRefused(
                f"Cannot reach the fleet broker at {self.address} ({error}); check fleet.broker "
                "and that the broker runs."
            ) from None
        client.loop_start()
        deadline = time.monotonic() + self.timeout_s
        while not self.subscribed.wait(0.05):
            if self._refused.is_set() or time.monotonic() > deadline:
                break  # a refusal is final: no need to wait out the timeout
        if not self.subscribed.is_set():
            client.loop_stop()
            raise BrokerRefused(
                f"The fleet broker at {self.address} did not accept us"
                f"{': ' + self._problem if self._problem else ''}; check fleet.username, "
                "fleet.password and the broker's ACL."
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish (QoS 1) and wait until the broker has it."""
        info = self._client.publish(topic, payload, qos=1)
        info.wait_for_publish(self.timeout_s)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._problem = str(reason)
            self._refused.set()
            return
        client.subscribe(self.topic, qos=1)


def _decoded(payload: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def read_statuses(
    fleet: FleetSection,
    merchant_id: str | None = None,
    *,
    quiet_s: float = 0.5,
    max_s: float = 10.0,
) -> list[dict[str, Any]]:
    """Every terminal's retained status (one merchant's when given), with `last_seen`, in
    merchant then terminal order. The broker sends retained messages right after the
    subscription; we stop once no retained one arrived for `quiet_s` (a fresher status
    published meanwhile replaces the retained one). A busy fleet publishes all the time, so
    live messages do not keep the listing open, and `max_s` bounds it in any case."""
    found: dict[str, dict[str, Any]] = {}
    with Subscription(fleet, all_status(fleet.topic_prefix, merchant_id)) as subscription:
        end = time.monotonic() + max_s
        quiet_until = time.monotonic() + quiet_s
        while (now := time.monotonic()) < min(quiet_until, end):
            try:
                topic, payload, retained = subscription.messages.get(
                    timeout=min(quiet_until, end) - now
                )
            except queue.Empty:
                break
            if retained:
                quiet_until = time.monotonic() + quiet_s
            status = _decoded(payload)
            if status is None:
                continue
            status["last_seen"] = status.get("at")
            found[topic] = status
    return sorted(
        found.values(),
        key=lambda s: (str(s.get("merchant_id")), str(s.get("terminal_id"))),
    )


def watch_events(
    fleet: FleetSection, merchant_id: str | None = None, *, until: float | None = None
) -> Iterator[dict[str, Any]]:
    """Events as they happen, until the monotonic time `until` (or forever)."""
    with Subscription(fleet, all_events(fleet.topic_prefix, merchant_id)) as subscription:
        while until is None or time.monotonic() < until:
            try:
                _, payload, _ = subscription.messages.get(timeout=0.25)
            except queue.Empty:
                continue
            event = _decoded(payload)
            if event is not None:
                yield event
