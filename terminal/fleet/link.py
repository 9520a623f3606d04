"""The connection to the broker: one thread runs paho's network loop, reconnects with the
house backoff (terminal/backoff.py) and tells the reporter when the link is up.

paho is thread-safe for `publish` from another thread while its loop runs (the way
`loop_start` is used); we run that loop ourselves so that the pause between attempts is the
project's one jittered backoff rather than paho's own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from terminal.backoff import backoff_s
from terminal.fleet.broker import new_client
from terminal.settings.fleet_section import FleetSection

log = logging.getLogger(__name__)

FIRST_RETRY_S = 1.0
MAX_RETRY_S = 60.0


def keepalive_s(heartbeat_s: int) -> int:
    """The MQTT keepalive: the heartbeat, within what brokers accept well (5 s to 10 min).
    The broker declares a silent terminal gone after 1.5 keepalives and sends its last will."""
    return max(5, min(600, heartbeat_s))


class BrokerLink:
    """A paho client kept connected until `stop`, in its own thread."""

    def __init__(
        self,
        fleet: FleetSection,
        client_id: str,
        *,
        will: Callable[[], tuple[str, bytes] | None],
        on_connected: Callable[[], None],
        subscriptions: tuple[str, ...] = (),
        on_message: Callable[[str, bytes], None] | None = None,
    ) -> None:
        self.fleet = fleet
        self._will = will
        self._on_connected = on_connected
        self._client, self.address = new_client(fleet, client_id)
        self._client.on_connect = self._connected_cb
        self._client.on_disconnect = self._disconnected_cb
        self._subscriptions = subscriptions
        if on_message is not None:
            deliver = on_message
            self._client.on_message = lambda c, u, m: deliver(m.topic, bytes(m.payload))
        self._up = threading.Event()
        self._stopping = threading.Event()
        self._attempt = 0
        self._thread: threading.Thread | None = None
        self.last_problem = ""
        """Why the last attempt failed, one sentence (empty while connected)."""

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fleet-link", daemon=True)
        self._thread.start()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._up.wait(timeout_s)

    def publish(self, topic: str, payload: bytes, *, retain: bool) -> bool:
        """Hand a message to the broker link (QoS 1); False when the link is down."""
        import paho.mqtt.client as mqtt

        if not self._up.is_set():
            return False
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def stop(self, farewell: tuple[str, bytes] | None = None, timeout_s: float = 3.0) -> None:
        """Say goodbye (a last retained message, since a clean disconnect sends no will),
        disconnect and end the thread."""
        if farewell is not None and self._up.is_set():
            info = self._client.publish(farewell[0], farewell[1], qos=1, retain=True)
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError):
                pass  # the link went down meanwhile: the broker sends the will instead
        self._stopping.set()
        self._client.disconnect()
        if self._thread is not None:
            self._thread.join(timeout_s + 1)

    # -- the network thread ------------------------------------------------------------
    def _run(self) -> None:
        import paho.mqtt.client as mqtt

        keepalive = keepalive_s(self.fleet.heartbeat_s)
        while not self._stopping.is_set():
            will = self._will()
            if will is not None:
                self._client.will_set(will[0], will[1], qos=1, retain=True)
            try:
                self._client.connect(self.address.host, self.address.port, keepalive)
            except (OSError, ValueError) as error:
                self._note_problem(f"cannot reach the broker at {self.address}: {error}")
            else:
                while not self._stopping.is_set():
                    if self._client.loop(timeout=0.5) != mqtt.MQTT_ERR_SUCCESS:
                        break
                self._up.clear()
            if self._stopping.is_set():
                break
            self._attempt += 1
            self._stopping.wait(backoff_s(self._attempt, first_s=FIRST_RETRY_S, max_s=MAX_RETRY_S))
        self._up.clear()

    def _note_problem(self, sentence: str) -> None:
        if sentence != self.last_problem:
            log.warning("fleet: %s; retrying with backoff (payments are not affected)", sentence)
        self.last_problem = sentence

    def _connected_cb(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self._note_problem(f"the broker at {self.address} refused us ({reason})")
            return
        if self.last_problem or self._attempt:
            log.info("fleet: connected to the broker at %s", self.address)
        self.last_problem = ""
        self._attempt = 0
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        self._up.set()
        try:
            self._on_connected()
        except Exception:  # a reporter bug must not kill the link thread
            log.exception("fleet: publishing after connecting failed")

    def _disconnected_cb(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._up.clear()
        if not self._stopping.is_set():
            self._note_problem(f"lost the broker at {self.address} ({reason})")
