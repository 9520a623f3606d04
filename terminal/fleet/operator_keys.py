"""The fleet operator's Ed25519 key pair (JWK, via joserfc): the private half signs
configuration bundles and commands on the operator's machine; the public half is installed on
every terminal (`[fleet] operator_keys`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from joserfc.jwk import OKPKey

from terminal.fleet.errors import FleetUsage
from terminal.security.private import FILE_MODE


@dataclass(frozen=True, slots=True)
class KeyPair:
    private: Path
    public: Path
    kid: str


def init_keys(folder: Path, name: str = "fleet-operator") -> KeyPair:
    """Make a new pair in `folder`: `<name>.jwk` (private, 0600, written once: never
    overwritten) and `<name>.pub.jwk` (public, to copy to terminals)."""
    folder.mkdir(parents=True, exist_ok=True)
    private = folder / f"{name}.jwk"
    public = folder / f"{name}.pub.jwk"
    if private.exists() or public.exists():
        raise FleetUsage(
            f"{private} or {public} exists already; an operator key is never overwritten "
            "(terminals trust it): choose another folder or --name."
        )
    key = OKPKey.generate_key("Ed25519", auto_kid=True)
    try:
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except OSError as error:
        raise FleetUsage(f"Cannot write {private} ({error.strerror}).") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(key.as_dict(private=True), out)
    public.write_text(json.dumps(key.as_dict(private=False), indent=2) + "\n", encoding="utf-8")
    return KeyPair(private, public, str(key.kid))
