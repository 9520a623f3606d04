"""A data folder from an older posterm (machine-secret beside keystore.enc, fingerprint key and
audit key stored in the folder) moves into the key hierarchy on its first open."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from terminal.security.audit import KEY_MOVED, AuditLog
from terminal.security.keystore import Keystore, KeystoreError, public_jwk_of


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def old_data_folder(folder: Path, terminal_id: str = "OLD00001") -> dict[str, bytes]:
    """keys/keystore.enc in format 1 under keys/machine-secret, and a sealed audit.key log."""
    keys = folder / "keys"
    keys.mkdir(parents=True)
    secret, fingerprint = os.urandom(32), os.urandom(32)
    signing = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    (keys / "machine-secret").write_bytes(secret)
    (keys / "machine-secret").chmod(0o600)
    data = {
        "terminal_id": terminal_id,
        "current": 1,
        "keys": [{"n": 1, "private": b64(signing), "created_at": "2026-01-01T00:00:00+00:00"}],
        "fingerprint_key": b64(fingerprint),
    }
    salt, nonce = os.urandom(16), os.urandom(12)
    key = HKDF(hashes.SHA256(), 32, salt, b"posterm-keystore/1").derive(secret)
    sealed = AESGCM(key).encrypt(nonce, json.dumps(data).encode(), b"posterm-keystore/1")
    envelope = {
        "format": "posterm-keystore/1",
        "salt": b64(salt),
        "nonce": b64(nonce),
        "ciphertext": b64(sealed),
    }
    (keys / "keystore.enc").write_text(json.dumps(envelope))
    audit_key = os.urandom(32)
    (folder / "audit.key").write_text(audit_key.hex() + "\n")
    body = {
        "seq": 1,
        "at": "2026-01-01T00:00:00.000Z",
        "actor": "ana",
        "role": "technician",
        "action": "config.set",
        "details": {},
        "prev": "0" * 64,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    seal = hmac.new(audit_key, canonical, hashlib.sha256).hexdigest()
    (folder / "audit.log").write_text(
        json.dumps({**body, "seal": seal}, sort_keys=True, separators=(",", ":")) + "\n"
    )
    return {"signing": signing, "fingerprint": fingerprint, "secret": secret}


def test_an_old_store_moves_into_the_hierarchy_and_leaves_no_key_in_the_folder(
    tmp_path: Path,
) -> None:
    old = old_data_folder(tmp_path / "data")
    store = Keystore.open(tmp_path / "data", "OLD00001")
    expected = public_jwk_of(Ed25519PrivateKey.from_private_bytes(old["signing"]), "OLD00001-1")
    assert store.public_jwk() == expected  # the bank's enrolment stays valid
    assert store.fingerprint_key() != old["fingerprint"]  # derived now; velocity restarts
    assert not (tmp_path / "data" / "keys" / "machine-secret").exists()
    assert not (tmp_path / "data" / "audit.key").exists()
    assert json.loads(store.path.read_text())["format"] == "posterm-keystore/2"
    everything = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    for secret in (old["secret"], old["fingerprint"], old["signing"]):
        assert secret not in everything and b64(secret).encode() not in everything
    log = AuditLog(tmp_path / "data")
    assert [r.action for r in log.records()] == ["config.set", KEY_MOVED, "keys.moved_to_hierarchy"]
    assert log.verify().intact
    assert Keystore.open(tmp_path / "data", "OLD00001").public_jwk() == expected


def test_an_old_store_without_its_machine_secret_says_what_to_restore(tmp_path: Path) -> None:
    old_data_folder(tmp_path / "data")
    (tmp_path / "data" / "keys" / "machine-secret").unlink()
    with pytest.raises(KeystoreError, match="needs its machine secret"):
        Keystore.open(tmp_path / "data", "OLD00001")
