"""`[fleet]`: reporting to, and being configured by, the chain's fleet over an MQTT broker."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from terminal.settings.section_base import STRICT, ConfigPath, PathField, SecretField

_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class FleetSection(BaseModel):
    """Reporting to, and being configured by, the chain's fleet over an MQTT broker
    (docs/fleet.md)."""

    model_config = STRICT

    enabled: bool = False
    """Publish this terminal's status and events to the broker and accept signed
    configuration from it (`posterm serve` and `posterm run`)."""
    broker: str = "mqtts://broker.example:8883"
    """Broker address: mqtts://host:port (TLS); plain mqtt://host:port only to 127.0.0.1 or
    localhost."""
    ca_file: PathField = ""
    """PEM file of the CA that signed the broker's TLS certificate. Empty: the system CAs."""
    client_cert: PathField = ""
    """PEM file holding this terminal's client certificate and its key, for mutual TLS.
    Empty: no client certificate."""
    username: str = ""
    """User name on the broker (the broker's ACL lets it publish only under this terminal's
    own topics). Empty: none."""
    password: SecretField = ""
    """Password on the broker. Empty: none."""
    topic_prefix: str = "posterm"
    """First level of every topic: {topic_prefix}/{merchant_id}/{terminal_id}/status ..."""
    heartbeat_s: int = Field(default=30, ge=1, le=3600)
    """Seconds between status messages when nothing changes; also the broker keepalive, so a
    vanished terminal shows offline within about twice this (1 to 3600)."""
    operator_keys: Annotated[list[str], ConfigPath()] = Field(default_factory=list)
    """Files of the fleet operator public JWKs (Ed25519) whose signed configuration this
    terminal accepts (`posterm fleet keys init` makes the pair). Empty: none accepted."""
    max_queued_events: int = Field(default=1000, ge=1, le=1_000_000)
    """Most events kept while the broker is unreachable; beyond it the oldest are dropped
    and counted."""

    @field_validator("broker")
    @classmethod
    def _broker(cls, value: str) -> str:
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            raise ValueError("has a port that is not a number from 1 to 65535") from None
        if parts.scheme not in ("mqtts", "mqtt") or not parts.hostname or port == 0:
            raise ValueError("not a broker address (e.g. mqtts://broker.example.com:8883)")
        if parts.path not in ("", "/") or parts.query or parts.username:
            raise ValueError("must be scheme://host:port only (user and password go apart)")
        if parts.scheme == "mqtt" and parts.hostname not in _LOOPBACK_HOSTS:
            raise ValueError(
                "plain mqtt:// is allowed only to 127.0.0.1 or localhost: use mqtts:// for "
                "a broker on another machine"
            )
        return value.rstrip("/")

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*", value):
            raise ValueError(
                "must be letters, digits, _ . - levels separated by / (no +, #, spaces)"
            )
        return value
