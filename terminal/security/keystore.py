"""The terminal's signing keys, encrypted at rest under a key from the key hierarchy.

Layout under `data_dir/keys/` (folder mode 0700, files 0600):

- `keystore.enc` — AES-256-GCM ciphertext of the Ed25519 signing keys (JSON inside), written
  atomically, under a key derived from the root secret (key_hierarchy.py). The root is never in
  the data folder, so a copy of the folder does not open it.
- `root-check` — the check value that tells a wrong root from a damaged file (no secret).

Signing keys are numbered; `kid` is `"{terminal_id}-{n}"`. `rotate()` makes key n+1 current and
keeps the older public keys listed (`public_jwks()`) so messages queued before a rotation are
still recognised. The card-fingerprint key is derived from the root too and never stored.

Older key stores (format 1: encrypted under `keys/machine-secret` or the `posterm-keystore`
credential, the fingerprint key stored inside) are moved on the first open: re-encrypted under
the hierarchy, the stored fingerprint key dropped, `machine-secret` overwritten and deleted, and
the move sealed into the audit log. The derived fingerprint key differs from the stored one, so
velocity counts restart at the move (docs/security.md).
"""

from __future__ import annotations

import base64
import json
import logging
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
from terminal.security.key_hierarchy import KeyHierarchy, RootPlace
from terminal.security.private import private_folder, shred
from terminal.security.root_secret import RootSecretError

log = logging.getLogger("terminal.security.keystore")

FORMAT = "posterm-keystore/2"
LEGACY_FORMAT = "posterm-keystore/1"
KEYS_FOLDER = "keys"
STORE_FILE = "keystore.enc"
SECRET_FILE = "machine-secret"  # noqa: S105 (the legacy file's name, not a secret)
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
    """The terminal's signing keys; see the module docstring."""

    def __init__(self, folder: Path, terminal_id: str, hierarchy: KeyHierarchy) -> None:
        self._folder = folder
        self._terminal_id = terminal_id
        self._hierarchy = hierarchy
        self._data: dict[str, Any] = {}
        self._stamp: tuple[int, int] = (0, 0)

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def open(
        cls, data_dir: Path, terminal_id: str, root: KeyHierarchy | RootPlace | None = None
    ) -> Keystore:
        """Open the key store, creating it with key 1 on first start.

        `root` is the key hierarchy, or where the configuration puts its root
        (`RootPlace.of(settings)`); None: where the default configuration puts it."""
        folder = Path(data_dir) / KEYS_FOLDER
        try:
            private_folder(data_dir)
            folder.mkdir(mode=0o700, exist_ok=True)
            hierarchy = (
                root if isinstance(root, KeyHierarchy) else (root or RootPlace()).open(data_dir)
            )
        except RootSecretError as error:
            raise KeystoreError(f"The key store cannot be opened: {error.sentence}") from None
        except OSError as error:
            raise KeystoreError(
                f"The key store folder {folder} cannot be used ({error.strerror}); "
                "check that data_dir exists and belongs to the posterm user."
            ) from None
        store = cls(folder, terminal_id, hierarchy)
        if (folder / STORE_FILE).exists():
            if _stored_format(store.path) == LEGACY_FORMAT:
                store._move_to_hierarchy(Path(data_dir))
            else:
                store._load()
        else:
            now = _now()
            store._data = {
                "terminal_id": terminal_id,
                "current": 1,
                "keys": [{"n": 1, "private": _new_private(), "created_at": now}],
            }
            store._save()
        if (folder / SECRET_FILE).exists():  # a leftover beside a moved store: not needed
            shred(folder / SECRET_FILE)
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
        """The 32-byte secret for HMAC card fingerprints, derived from the root (never stored;
        the same for as long as the root is)."""
        return self._hierarchy.fingerprint_key()

    @property
    def root_warning(self) -> str:
        """Non-empty when the root secret is a plain file (development, demo): show it."""
        return self._hierarchy.warning

    def __repr__(self) -> str:
        return f"Keystore({str(self._folder)!r}, kid={self.kid!r})"

    # -- storage ------------------------------------------------------------------------

    def _check_owner(self, data: dict[str, Any]) -> None:
        """A key store opened from another terminal's data folder is refused, not used."""
        if data.get("terminal_id") != self._terminal_id:
            raise KeystoreError(
                f"The key store {self.path} belongs to terminal {data.get('terminal_id')!r}, "
                f"not {self._terminal_id!r}; use the matching data_dir or re-enrol with "
                "`posterm keys init --force`."
            )

    def _private(self, number: int) -> Ed25519PrivateKey:
        for entry in self._data["keys"]:
            if int(entry["n"]) == number:
                return Ed25519PrivateKey.from_private_bytes(_unb64(entry["private"]))
        raise KeystoreError(f"Key {number} is missing from the key store {self.path}.")

    def _cipher_key(self, salt: bytes) -> bytes:
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=salt, info=FORMAT.encode("ascii")
        ).derive(self._hierarchy.keystore_key())

    def _move_to_hierarchy(self, data_dir: Path) -> None:
        """Format 1 → 2: re-encrypt under the hierarchy, drop the stored fingerprint key, shred
        the machine secret, and seal the move into the audit log."""
        old_secret = _legacy_secret(self._folder)
        try:
            envelope = json.loads(self.path.read_bytes())
            key = HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=_unb64(envelope["salt"]),
                info=LEGACY_FORMAT.encode("ascii"),
            ).derive(old_secret)
            data = json.loads(
                AESGCM(key).decrypt(
                    _unb64(envelope["nonce"]),
                    _unb64(envelope["ciphertext"]),
                    LEGACY_FORMAT.encode(),
                )
            )
        except InvalidTag:
            raise KeystoreError(
                f"The old key store {self.path} cannot be decrypted with its machine secret; "
                "restore the secret it was made with, or re-enrol the terminal with "
                "`posterm keys init --force`."
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise KeystoreError(f"The key store {self.path} is damaged ({error}).") from None
        self._check_owner(data)
        data.pop("fingerprint_key", None)
        self._data = data
        self._save()
        shredded = shred(self._folder / SECRET_FILE)
        log.warning(
            "key store moved to the key hierarchy (root: %s); card fingerprints change, so "
            "velocity counts start again",
            self._hierarchy.source,
        )
        from terminal.security.audit import AuditLog

        AuditLog(data_dir, keys=self._hierarchy).append(
            "keys.moved_to_hierarchy",
            {
                "root": self._hierarchy.source,
                "machine_secret_deleted": shredded,
                "fingerprint_key": "derived from the root (the stored one was dropped)",
            },
            role="system",
            actor="posterm",
        )

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
        self._stamp = _stamp(self.path)

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
                f"The key store {self.path} cannot be decrypted with the root secret from "
                f"{self._hierarchy.source}; restore the root secret it was made with, "
                "or re-enrol the terminal with `posterm keys init --force`."
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise KeystoreError(f"The key store {self.path} is damaged ({error}).") from None
        self._check_owner(data)
        self._data = data
        self._stamp = _stamp(self.path)

    def _reload_if_changed(self) -> None:
        """Pick up a rotation done by `posterm keys rotate` while this process runs."""
        try:
            stamp = _stamp(self.path)
        except OSError:
            return
        if stamp != self._stamp:
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


def _stamp(path: Path) -> tuple[int, int]:
    """Inode and mtime: every save is a new file (atomic rename), so the inode changes even
    when two saves fall within the file system's timestamp granularity."""
    info = path.stat()
    return info.st_ino, info.st_mtime_ns


def _stored_format(path: Path) -> str:
    try:
        envelope = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return ""
    return str(envelope.get("format", "")) if isinstance(envelope, dict) else ""


def _legacy_secret(folder: Path) -> bytes:
    """The secret a format-1 store was made with: the old credential, else machine-secret."""
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials:
        candidate = Path(credentials) / CREDENTIAL_NAME
        if candidate.is_file():
            return candidate.read_bytes().strip()
    try:
        return (folder / SECRET_FILE).read_bytes()
    except OSError:
        raise KeystoreError(
            f"The old key store {folder / STORE_FILE} needs its machine secret "
            f"{folder / SECRET_FILE} (or the posterm-keystore credential) to be moved to the "
            "key hierarchy, and it is missing; restore it, or re-enrol the terminal with "
            "`posterm keys init --force`."
        ) from None
