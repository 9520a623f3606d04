"""`[nexo]`: the nexo Terminal API door a POS program drives, with its shared keys
(`[[nexo.keys]]`)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from terminal.loopback import is_loopback
from terminal.settings.section_base import STRICT, PathField, SecretField


class NexoKey(BaseModel):
    """One shared key of the nexo Terminal API security trailer (KeyIdentifier, KeyVersion)."""

    model_config = STRICT

    identifier: str = Field(min_length=1, max_length=64)
    """KeyIdentifier the till sends in the SecurityTrailer."""
    version: int = Field(ge=0, le=2**31 - 1)
    """KeyVersion the till sends; several versions of one identifier may be configured while
    keys are rotated."""
    passphrase: SecretField = Field(min_length=1)
    """The shared passphrase (Latin-1 text) both sides derive the AES and HMAC keys from."""

    @field_validator("passphrase")
    @classmethod
    def _latin1(cls, value: str) -> str:
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(
                "must be Latin-1 text (the clients take it as Latin-1 bytes)"
            ) from None
        return value


class NexoSection(BaseModel):
    """The nexo Terminal API ("Sale to POI" JSON messages) a POS program drives on
    POST https://<terminal>:8443/nexo/ (README: "For POS integrators")."""

    model_config = STRICT

    enabled: bool = False
    """Serve the nexo Terminal API (`posterm serve` and `posterm run`)."""
    listen: str = "0.0.0.0:8443"
    """Address and port to listen on, host:port; the official clients always use port 8443."""
    poi_id: str = ""
    """POIID the till must address (word-word). Empty: posterm-<terminal_id>."""
    environment: Literal["live", "test"] = "live"
    """The certificate's CN domain: <POIID>.<environment>.terminal.adyen.com."""
    allow_unencrypted: bool = False
    """Accept unencrypted requests although [[nexo.keys]] are configured (test tills)."""
    allow_plain_http: bool = False
    """Serve plain HTTP instead of TLS (curl-style tests on a loopback address only)."""
    cert_file: PathField = ""
    """PEM file of the server certificate. Empty: <data_dir>/nexo/server.pem, written by
    `posterm keys nexo-cert`."""
    key_file: PathField = ""
    """PEM file of the server certificate's private key. Empty: <data_dir>/nexo/server.key."""
    keys: list[NexoKey] = Field(default_factory=list)
    """Shared keys ([[nexo.keys]] tables: identifier, version, passphrase). With at least one,
    unencrypted requests are refused unless allow_unencrypted is true."""

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port (e.g. 0.0.0.0:8443)")
        return value

    @field_validator("poi_id")
    @classmethod
    def _poi_id(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9]+-[A-Za-z0-9]+", value):
            raise ValueError("must be two words of letters and digits joined by one hyphen")
        return value

    @model_validator(mode="after")
    def _plain_http_on_loopback(self) -> NexoSection:
        host = self.listen.rpartition(":")[0].strip("[]")
        if self.allow_plain_http and not (host == "localhost" or is_loopback(host)):
            raise ValueError("allow_plain_http needs a loopback listen address (127.x.x.x)")
        return self

    def effective_poi_id(self, terminal_id: str) -> str:
        """The POIID a request must carry."""
        return self.poi_id or f"posterm-{re.sub(r'[^A-Za-z0-9]', '', terminal_id)}"
