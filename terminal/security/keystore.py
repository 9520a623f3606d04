"""The terminal's keys, encrypted at rest: Ed25519 signing keys and the card-fingerprint secret.

Layout under `data_dir/keys/` (folder mode 0700, files 0600):

- `keystore.enc` — AES-256-GCM ciphertext of the key material (JSON inside), written atomically.
- `machine-secret` — 32 random bytes the encryption key is derived from (HKDF-SHA256). When
  systemd passes a credential (`LoadCredential=posterm-keystore:...`), the secret is read from
  `$CREDENTIALS_DIRECTORY/posterm-keystore` instead and no secret file is written.

Signing keys are numbered; `kid` is `"{terminal_id}-{n}"`. `rotate()` makes key n+1 current and
keeps the older public keys listed (`public_jwks()`) so messages queued before a rotation are
still recognised. The fingerprint key (32 bytes) keys the HMAC the payment core uses to spot the
same card without storing its PAN; it is made once and never rotated.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from terminal.errors import PostermError
from terminal.security.private import private_folder

FORMAT = "posterm-keystore/1"
KEYS_FOLDER = "keys"
STORE_FILE = "keystore.enc"
SECRET_FILE = "machine-secret"  # noqa: S105 (a file name, not a secret)
CREDENTIAL_NAME = "posterm-keystore"


class KeystoreError(PostermError):
    """The key store cannot be read, written or used."""

    exit_code = 3


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically with mode 0600 (temp file, fsync, rename)."""
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def public_jwk_of(key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    """The public JWK (RFC 8037) of an Ed25519 key."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": kid, "use": "sig"}


class Keystore:
    """The terminal's signing keys and fingerprint secret; see the module docstring."""

    def __init__(self, folder: Path, terminal_id: str, secret: bytes) -> None:
        self._folder = folder
        self._terminal_id = terminal_id
        self._secret = secret
        self._data: dict[str, Any] = {}
        self._mtime = 0

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def open(cls, data_dir: Path, terminal_id: str) -> Keystore:
        """Open the key store, creating it with key 1 on first start."""
        folder = Path(data_dir) / KEYS_FOLDER
        try:
            private_folder(data_dir)
            folder.mkdir(mode=0o700, exist_ok=True)
            secret = _machine_secret(folder)
        except OSError as error:
            raise KeystoreError(
                f"The key store folder {folder} cannot be used ({error.strerror}); "
                "check that data_dir exists and belongs to the posterm user."
            ) from None
        store = cls(folder, terminal_id, secret)
        if (folder / STORE_FILE).exists():
            store._load()
        else:
            now = _now()
            store._data = {
                "terminal_id": terminal_id,
                "current": 1,
                "keys": [{"n": 1, "private": _new_private(), "created_at": now}],
                "fingerprint_key": _b64(secrets.token_bytes(32)),
            }
            store._save()
        return store

    @property
    def path(self) -> Path:
        return self._folder / STORE_FILE

    @property
    def terminal_id(self) -> str:
        return self._terminal_id

    # -- keys ---------------------------------------------------------------------------

    @property
    def kid(self) -> str:
        """The current key's id, "{terminal_id}-{n}"."""
        self._reload_if_changed()
        return f"{self._terminal_id}-{self._data['current']}"

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        """The current Ed25519 private key (never logged, never written in clear)."""
        self._reload_if_changed()
        return self._private(int(self._data["current"]))

    def public_jwk(self, kid: str | None = None) -> dict[str, Any]:
        """The public JWK of `kid` (default: the current key)."""
        self._reload_if_changed()
        wanted = kid or self.kid
        for entry in self._data["keys"]:
            name = f"{self._terminal_id}-{entry['n']}"
            if name == wanted:
                return public_jwk_of(self._private(int(entry["n"])), name)
        raise KeystoreError(f"There is no key {wanted!r} in this terminal's key store.")

    def public_jwks(self) -> list[dict[str, Any]]:
        """Every public key, current first, then the older ones (newest first)."""
        self._reload_if_changed()
        numbers = sorted((int(e["n"]) for e in self._data["keys"]), reverse=True)
        current = int(self._data["current"])
        ordered = [current] + [n for n in numbers if n != current]
        return [public_jwk_of(self._private(n), f"{self._terminal_id}-{n}") for n in ordered]

    def rotate(self) -> str:
        """Make key n+1 current (the old one stays listed) and return its kid."""
        self._reload_if_changed()
        number = max(int(e["n"]) for e in self._data["keys"]) + 1
        self._data["keys"].append({"n": number, "private": _new_private(), "created_at": _now()})
        self._data["current"] = number
        self._save()
        return f"{self._terminal_id}-{number}"

    def fingerprint_key(self) -> bytes:
        """The 32-byte secret for HMAC card fingerprints (created once, never rotated)."""
        self._reload_if_changed()
        return _unb64(self._data["fingerprint_key"])

    def __repr__(self) -> str:
        return f"Keystore({str(self._folder)!r}, kid={self.kid!r})"

    # -- storage ------------------------------------------------------------------------

    def _private(self, number: int) -> Ed25519PrivateKey:
        for entry in self._data["keys"]:
            if int(entry["n"]) == number:
                return Ed25519PrivateKey.from_private_bytes(_unb64(entry["private"]))
        raise KeystoreError(f"Key {number} is missing from the key store {self.path}.")

    def _cipher_key(self, salt: bytes) -> bytes:
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=salt, info=FORMAT.encode("ascii")
        ).derive(self._secret)

    def _save(self) -> None:
        salt = secrets.token_bytes(16)
        nonce = secrets.token_bytes(12)
        plaintext = json.dumps(self._data).encode("utf-8")
        sealed = AESGCM(self._cipher_key(salt)).encrypt(nonce, plaintext, FORMAT.encode())
        envelope = {
            "format": FORMAT,
            "salt": _b64(salt),
            "nonce": _b64(nonce),
            "ciphertext": _b64(sealed),
        }
        _write_private(self.path, json.dumps(envelope).encode("ascii"))
        self._mtime = self.path.stat().st_mtime_ns

    def _load(self) -> None:
        try:
            envelope = json.loads(self.path.read_bytes())
            if envelope.get("format") != FORMAT:
                raise ValueError("unknown format")
            key = self._cipher_key(_unb64(envelope["salt"]))
            plaintext = AESGCM(key).decrypt(
                _unb64(envelope["nonce"]), _unb64(envelope["ciphertext"]), FORMAT.encode()
            )
            data = json.loads(plaintext)
        except InvalidTag:
            raise KeystoreError(
                f"The key store {self.path} cannot be decrypted with this machine's secret; "
                "restore the secret (or systemd credential) it was made with, "
                "or re-enrol the terminal with `posterm keys init --force`."
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise KeystoreError(f"The key store {self.path} is damaged ({error}).") from None
        if data.get("terminal_id") != self._terminal_id:
            raise KeystoreError(
                f"The key store {self.path} belongs to terminal {data.get('terminal_id')!r}, "
                f"not {self._terminal_id!r}; use the matching data_dir or re-enrol with "
                "`posterm keys init --force`."
            )
        self._data = data
        self._mtime = self.path.stat().st_mtime_ns

    def _reload_if_changed(self) -> None:
        """Pick up a rotation done by `posterm keys rotate` while this process runs."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return
        if mtime != self._mtime:
            self._load()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _new_private() -> str:
    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return _b64(raw)


def _machine_secret(folder: Path) -> bytes:
    """The systemd credential if present, else `machine-secret` (created 0600 on first use)."""
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials:
        candidate = Path(credentials) / CREDENTIAL_NAME
        if candidate.is_file():
            secret = candidate.read_bytes().strip()
            if len(secret) < 16:
                raise KeystoreError(
                    f"The systemd credential {candidate} is shorter than 16 bytes; "
                    "make one with `head -c 32 /dev/urandom`."
                )
            return secret
    path = folder / SECRET_FILE
    if not path.exists():
        _write_private(path, secrets.token_bytes(32))
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise KeystoreError(
            f"The machine secret {path} is readable by others (mode {mode:o}); "
            f"run `chmod 600 {path}`."
        )
    return path.read_bytes()
