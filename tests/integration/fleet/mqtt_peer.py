"""A plain paho client for the tests: what an attacker with a terminal's credentials, or an
operator's dashboard, could do on the broker."""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.fixtures.mosquitto import Broker


class Peer:
    """Connected on enter; `messages` receives (topic, payload) of what it subscribed to."""

    def __init__(
        self,
        broker: Broker,
        username: str,
        password: str,
        *,
        client_id: str = "",
        persistent: bool = False,
    ) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=not persistent,
        )
        self.client.username_pw_set(username, password)
        self.broker = broker
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.topics: list[str] = []
        self.client.on_connect = self._connected
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, bytes(m.payload)))

    def _connected(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not reason.is_failure:
            self.connected.set()
            for topic in self.topics:
                client.subscribe(topic, qos=1)

    def __enter__(self) -> Peer:
        self.client.connect("127.0.0.1", self.broker.port, 5)
        self.client.loop_start()
        assert self.connected.wait(10), "the broker did not accept the peer"
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def subscribe(self, topic: str) -> None:
        self.topics.append(topic)
        self.subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(10)

    def publish(self, topic: str, message: dict[str, Any], *, retain: bool = False) -> None:
        info = self.client.publish(topic, json.dumps(message), qos=1, retain=retain)
        info.wait_for_publish(10)

    def next_json(self, timeout_s: float = 10) -> tuple[str, dict[str, Any]]:
        topic, payload = self.messages.get(timeout=timeout_s)
        data: dict[str, Any] = json.loads(payload)
        return topic, data
