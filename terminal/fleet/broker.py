"""A paho-mqtt client configured from `[fleet]`: address, TLS, credentials.

TLS is verified against `fleet.ca_file` (or the system CAs); `mqtt://` without TLS is accepted
by the configuration only for a loopback broker. paho is imported here, lazily, by the
functions that build a client, so importing this module costs nothing.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from terminal.fleet.errors import FleetUsage

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

    from terminal.settings.fleet_section import FleetSection

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker listens and whether the link is TLS."""

    host: str
    port: int
    tls: bool

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def broker_address(url: str) -> BrokerAddress:
    """The host, port and TLS choice of a validated `fleet.broker` URL."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        from terminal.settings.loading import without_credentials

        raise FleetUsage(
            f"fleet.broker {without_credentials(url)!r} is not an mqtts://host:port address."
        )
    return BrokerAddress(
        parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme], parts.scheme == "mqtts"
    )


def tls_context(fleet: FleetSection) -> ssl.SSLContext:
    """A verifying TLS context: the broker's CA, and our client certificate when configured."""
    try:
        context = ssl.create_default_context(cafile=fleet.ca_file or None)
        if fleet.client_cert:
            context.load_cert_chain(fleet.client_cert)
    except (OSError, ssl.SSLError) as error:
        raise FleetUsage(
            f"fleet.ca_file or fleet.client_cert cannot be read as PEM ({error}); copy the "
            "files the fleet operator gave you and point the settings at them."
        ) from None
    return context


def new_client(fleet: FleetSection, client_id: str) -> tuple[mqtt.Client, BrokerAddress]:
    """A paho client (MQTT 3.1.1, callback API 2) with TLS and credentials set, not connected."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    address = broker_address(fleet.broker)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv311,
        clean_session=True,
    )
    if address.tls:
        client.tls_set_context(tls_context(fleet))
    if fleet.username:
        client.username_pw_set(fleet.username, fleet.password or None)
    return client, address
