"""One root secret, one key per purpose: the key hierarchy.

    root secret (systemd credential posterm-root, or a file outside data_dir; root_secret.py)
      ├── HKDF "posterm/keystore/v1"         encrypts keys/keystore.enc (signing keys)
      ├── HKDF "posterm/card-fingerprint/v1" keys the HMAC that spots the same card (velocity)
      ├── HKDF "posterm/audit-mac/v1"        seals the audit log records and head
      ├── HKDF "posterm/pin-pepper/v1"       peppers PIN hashes in the site file
      ├── HKDF "posterm/iso8583-store/v1"    seals queued ISO 8583 requests (PAN, track 2)
      └── HKDF "posterm/root-check/v1"       a check value kept in keys/root-check

Nothing in the data folder alone opens any of them: the data folder only holds the check value
(an HMAC output that says "this is the right root" without revealing anything about it), so a
wrong or missing root is reported as such instead of as a damaged file, and a new root is never
made for a folder sealed by another one.

Derived keys are deterministic: the same root always gives the same keys, so nothing but the
root needs a backup. Changing the root changes every derived key (see docs/security.md).
"""

from __future__ import annotations

import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from terminal.security.private import private_folder
from terminal.security.root_secret import (
    DEFAULT_CREDENTIAL_FILE,
    RootSecret,
    RootSecretError,
    load_root_secret,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from terminal.settings import Settings

KEYSTORE_INFO = b"posterm/keystore/v1"
FINGERPRINT_INFO = b"posterm/card-fingerprint/v1"
AUDIT_INFO = b"posterm/audit-mac/v1"
PIN_PEPPER_INFO = b"posterm/pin-pepper/v1"
ISO8583_STORE_INFO = b"posterm/iso8583-store/v1"
CHECK_INFO = b"posterm/root-check/v1"
CHECK_FILE = "root-check"
CHECK_FORMAT = "posterm-root-check/1"
KEYS_FOLDER = "keys"


@dataclass(frozen=True, slots=True)
class RootPlace:
    """Where the configuration says the root is (`[security]`), for opening it later."""

    root_key_file: str = ""
    root_credential_file: str = DEFAULT_CREDENTIAL_FILE

    @classmethod
    def of(cls, settings: Settings | None) -> RootPlace:
        """The settings' places, or the defaults when there are no (valid) settings."""
        if settings is None:
            return cls()
        return cls(settings.security.root_key_file, settings.security.root_credential_file)

    @classmethod
    def from_site(cls, site: Path | None) -> RootPlace:
        """The places the site file sets (defaults if it cannot be read)."""
        from terminal.settings import ConfigError, load_settings

        try:
            return cls.of(load_settings(site, environ={}))
        except ConfigError:
            return cls()

    def open(self, data_dir: Path | str) -> KeyHierarchy:
        return KeyHierarchy.open(
            data_dir,
            root_key_file=self.root_key_file,
            root_credential_file=self.root_credential_file,
        )


def derive(root: bytes, info: bytes) -> bytes:
    """A 32-byte key for one purpose (HKDF-SHA256, no salt: the root is uniformly random)."""
    # Imported here: the CLI's parser imports this module and must stay light to start.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(root)


class KeyHierarchy:
    """The per-purpose keys derived from one root secret; see the module docstring."""

    def __init__(self, root: RootSecret) -> None:
        self._root = root

    @classmethod
    def open(
        cls,
        data_dir: Path | str,
        *,
        root_key_file: str = "",
        root_credential_file: str = DEFAULT_CREDENTIAL_FILE,
        environ: Mapping[str, str] | None = None,
    ) -> KeyHierarchy:
        """The hierarchy for `data_dir`: find its root, check it is the one the folder was
        sealed with (or record it, on first use). Raises RootSecretError."""
        check_path = Path(data_dir) / KEYS_FOLDER / CHECK_FILE
        sealed = check_path.exists()
        root = load_root_secret(
            data_dir,
            root_key_file=root_key_file,
            root_credential_file=root_credential_file,
            may_create=not sealed,
            environ=environ,
        )
        hierarchy = cls(root)
        if sealed:
            hierarchy._check_against(check_path)
        else:
            hierarchy._record_check(check_path)
        return hierarchy

    @classmethod
    def for_settings(cls, settings: Settings) -> KeyHierarchy:
        """The hierarchy as the configuration places its root (`[security]`)."""
        return RootPlace.of(settings).open(settings.data_dir)

    # -- the keys ------------------------------------------------------------------------
    def keystore_key(self) -> bytes:
        """Encrypts the key store (keys/keystore.enc)."""
        return derive(self._root.value, KEYSTORE_INFO)

    def fingerprint_key(self) -> bytes:
        """Keys the card fingerprint HMAC (velocity rules); never stored anywhere."""
        return derive(self._root.value, FINGERPRINT_INFO)

    def audit_key(self) -> bytes:
        """Seals the audit log."""
        return derive(self._root.value, AUDIT_INFO)

    def pin_pepper(self) -> bytes:
        """Mixed into every new PIN hash, so the site file alone cannot be cracked."""
        return derive(self._root.value, PIN_PEPPER_INFO)

    def iso8583_store_key(self) -> bytes:
        """Seals ISO 8583 requests at rest (AES-GCM): they carry the PAN and track 2 in clear."""
        return derive(self._root.value, ISO8583_STORE_INFO)

    def check_value(self) -> str:
        return derive(self._root.value, CHECK_INFO)[:16].hex()

    @property
    def source(self) -> str:
        """Where the root came from, e.g. "systemd credential posterm-root" (no secret)."""
        return self._root.source

    @property
    def warning(self) -> str:
        """Non-empty when the root is a plain file (development, demo)."""
        return self._root.warning

    @property
    def created(self) -> bool:
        """True when this call made a new root file."""
        return self._root.created

    def __repr__(self) -> str:
        return f"KeyHierarchy(source={self.source!r})"

    # -- the check value -----------------------------------------------------------------
    def _check_against(self, path: Path) -> None:
        try:
            stored = str(json.loads(path.read_text(encoding="ascii"))["check"])
        except (OSError, ValueError, KeyError, TypeError):
            raise RootSecretError(
                f"{path} is damaged: it cannot tell whether the root secret from "
                f"{self.source} is the right one. Restore it from the backup."
            ) from None
        if not hmac.compare_digest(stored, self.check_value()):
            raise RootSecretError(
                f"The root secret from {self.source} is not the one the keys in "
                f"{path.parent.parent} were sealed with: restore the original root secret "
                "(systemd credential or file); a new one cannot open the old keys."
            )

    def _record_check(self, path: Path) -> None:
        private_folder(path.parent.parent)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        body = json.dumps({"format": CHECK_FORMAT, "check": self.check_value()}).encode()
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)
        except FileExistsError:  # a parallel first start recorded one: it must be ours too
            self._check_against(path)
        finally:
            temp.unlink(missing_ok=True)
