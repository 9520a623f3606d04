"""How the terminal reaches the bank: `[gateway]` (posterm-v1, JOSE over HTTPS) and `[iso8583]`
(an acquirer host speaking ISO 8583, when `gateway.protocol = "iso8583"`)."""

from __future__ import annotations

import json
import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator

from terminal.loopback import is_loopback
from terminal.settings.section_base import STRICT, PathField

SYSTEM_CAS = "system"
"""`gateway.ca_file` value meaning "the operating system's CAs" (a word, never a path)."""


class GatewaySection(BaseModel):
    """How to reach the bank gateway and which keys to trust (see PROTOCOL.md)."""

    model_config = STRICT

    url: str = "https://127.0.0.1:8443"
    """Primary gateway address, https://host:port (plain http only for loopback, see below)."""
    secondary_url: str = ""
    """Backup gateway address, tried only when the primary cannot be connected to. Empty: none."""
    ca_file: PathField = ""
    """PEM file of the CA that signed the gateway's TLS certificate (from the bank). "system":
    trust the operating system's CAs, written explicitly. Empty is allowed only for a gateway
    on this machine (loopback); for any other host it is a configuration error, so nobody
    trusts every public CA by leaving the key out."""
    signing_key: str = ""
    """Gateway's Ed25519 public JWK that signs answers: a file path or inline JSON."""
    encryption_key: str = ""
    """Gateway's X25519 public JWK that card data is encrypted to: a file path or inline JSON."""
    timeout_s: float = Field(default=15.0, gt=0, le=120)
    """Seconds to wait for an answer before the outcome counts as unknown (0 < t <= 120)."""
    connect_timeout_s: float = Field(default=3.0, gt=0, le=60)
    """Seconds to wait for a connection; past it nothing was sent and offline rules apply."""
    allow_plain_http_loopback: bool = False
    """Allow http:// (no TLS) for a gateway on 127.0.0.1/localhost only, e.g. in a lab."""
    protocol: Literal["posterm-v1", "iso8583"] = "posterm-v1"
    """The link used for card payments: "posterm-v1" (JOSE over HTTPS, this section) or
    "iso8583" (an acquirer host speaking ISO 8583, see [iso8583]). QR payments always use
    posterm-v1: with "iso8583" and url = "" they are refused with a sentence saying why."""

    @property
    def ca_bundle(self) -> str | None:
        """The CA file to verify the gateway against; None: the system's CAs."""
        return None if self.ca_file in ("", SYSTEM_CAS) else self.ca_file

    @field_validator("url", "secondary_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value == "":
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("not a gateway address (e.g. https://gateway.example.com:8443)")
        return value.rstrip("/")

    @field_validator("signing_key", "encryption_key")
    @classmethod
    def _jwk(cls, value: str) -> str:
        if value.lstrip().startswith("{"):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError("inline JWK is not valid JSON") from None
            if not isinstance(parsed, dict) or parsed.get("kty") != "OKP":
                raise ValueError('not an OKP public JWK ({"kty": "OKP", "crv": ..., "x": ...})')
            if "d" in parsed:
                raise ValueError("holds a private key: give the gateway's public JWK only")
        return value


def is_dialect_path(value: str) -> bool:
    """`[iso8583] dialect` names a file rather than a dialect of config/iso8583/."""
    return "/" in value or value.endswith(".toml")


class Iso8583Section(BaseModel):
    """The acquirer host reached over ISO 8583 when [gateway] protocol = "iso8583"."""

    model_config = STRICT

    host: str = "127.0.0.1:5000"
    """The host's address, host:port."""
    tls: bool = True
    """Talk TLS to the host (verified against ca_file); false only for a loopback host."""
    ca_file: PathField = ""
    """PEM file of the CA that signed the host's TLS certificate. Empty: the system CAs."""
    client_cert: PathField = ""
    """PEM file holding this terminal's certificate and its key, for hosts that require
    mutual TLS. Empty: none."""
    dialect: str = "posterm-1987"
    """The field table: a bare name means config/iso8583/<name>.toml; a path (with a "/" or
    ending in .toml) is relative to the folder of the site file that set it."""
    mac_key_file: PathField = ""
    """File holding the hex AES key (32 or 64 hex digits) of the MAC in F64/F128. Empty: no
    MAC."""
    acquirer_id: str = "00000000001"
    """Acquiring institution id sent in F32: 1 to 11 digits."""
    timeout_s: float = Field(default=30.0, gt=0, le=120)
    """Seconds to wait for the host's answer; past it a sale is reversed (0400)."""

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        name, _, port = value.rpartition(":")
        if not name or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("not host:port (e.g. acquirer.example:5000)")
        return value

    @field_validator("acquirer_id")
    @classmethod
    def _acquirer_id(cls, value: str) -> str:
        if not re.fullmatch(r"\d{1,11}", value):
            raise ValueError("must be 1 to 11 digits")
        return value

    @model_validator(mode="after")
    def _plain_only_to_loopback(self) -> Iso8583Section:
        if not self.tls and not is_loopback(self.host.rpartition(":")[0].strip("[]")):
            raise ValueError("tls = false is allowed for a loopback host only (127.0.0.1)")
        return self
