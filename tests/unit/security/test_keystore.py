"""The terminal key store: created on first start, encrypted at rest under the key hierarchy,
rotated by a technician; older stores move into the hierarchy on their first open."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from terminal.security.keystore import Keystore, KeystoreError


def test_first_open_creates_key_one_and_a_private_root_outside_the_data_folder(
    tmp_path: Path,
) -> None:
    store = Keystore.open(tmp_path / "data", "POS00001")
    assert store.kid == "POS00001-1"
    assert not (tmp_path / "data" / "keys" / "machine-secret").exists()
    root = tmp_path / "data.root-secret"
    assert stat.S_IMODE(root.stat().st_mode) == 0o600
    assert "plain file" in store.root_warning
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.public_jwk()["crv"] == "Ed25519"
    assert "d" not in store.public_jwk()


def test_key_material_is_not_on_disk_in_clear(tmp_path: Path) -> None:
    store = Keystore.open(tmp_path, "POS00001")
    assert b"fingerprint" not in store.path.read_bytes()
    from cryptography.hazmat.primitives import serialization

    raw = store.signing_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    blob = store.path.read_bytes()
    import base64

    for form in (raw, base64.urlsafe_b64encode(raw).rstrip(b"="), store.fingerprint_key()):
        assert form not in blob


def test_reopening_gives_the_same_keys(tmp_path: Path) -> None:
    first = Keystore.open(tmp_path, "POS00001")
    second = Keystore.open(tmp_path, "POS00001")
    assert first.public_jwk() == second.public_jwk()
    assert first.fingerprint_key() == second.fingerprint_key()
    assert len(first.fingerprint_key()) == 32


def test_rotation_keeps_the_old_public_key_listed(tmp_path: Path) -> None:
    store = Keystore.open(tmp_path, "POS00001")
    old = store.public_jwk()
    assert store.rotate() == "POS00001-2"
    assert store.kid == "POS00001-2"
    kids = [jwk["kid"] for jwk in store.public_jwks()]
    assert kids == ["POS00001-2", "POS00001-1"]
    assert store.public_jwk("POS00001-1") == old
    assert Keystore.open(tmp_path, "POS00001").kid == "POS00001-2"


def test_a_running_process_sees_a_rotation_made_elsewhere(tmp_path: Path) -> None:
    running = Keystore.open(tmp_path, "POS00001")
    Keystore.open(tmp_path, "POS00001").rotate()
    assert running.kid == "POS00001-2"


def test_a_different_root_secret_is_a_clear_error(tmp_path: Path) -> None:
    Keystore.open(tmp_path / "data", "POS00001")
    (tmp_path / "data.root-secret").write_bytes(b"x" * 32)
    with pytest.raises(KeystoreError, match=r"not the one the keys in .* were sealed with"):
        Keystore.open(tmp_path / "data", "POS00001")


def test_a_missing_root_secret_is_not_replaced_by_a_new_one(tmp_path: Path) -> None:
    Keystore.open(tmp_path / "data", "POS00001")
    (tmp_path / "data.root-secret").unlink()
    with pytest.raises(KeystoreError, match=r"root secret is missing.*Restore"):
        Keystore.open(tmp_path / "data", "POS00001")
    assert not (tmp_path / "data.root-secret").exists()


def test_keystore_of_another_terminal_is_refused(tmp_path: Path) -> None:
    Keystore.open(tmp_path, "POS00001")
    with pytest.raises(KeystoreError, match="belongs to terminal"):
        Keystore.open(tmp_path, "POS00002")


def test_root_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    Keystore.open(tmp_path / "data", "POS00001")
    (tmp_path / "data.root-secret").chmod(0o644)
    with pytest.raises(KeystoreError, match="chmod 600"):
        Keystore.open(tmp_path / "data", "POS00001")


@pytest.mark.parametrize("name", ["posterm-root", "posterm-keystore"])
def test_systemd_credential_is_the_root_and_no_secret_file_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / name).write_bytes(b"k" * 32)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    store = Keystore.open(tmp_path / "data", "POS00001")
    assert store.root_warning == ""
    assert not (tmp_path / "data" / "keys" / "machine-secret").exists()
    assert not (tmp_path / "data.root-secret").exists()
    (credentials / name).write_bytes(b"z" * 32)
    with pytest.raises(KeystoreError, match="not the one"):
        Keystore.open(tmp_path / "data", "POS00001")
    assert store.kid == "POS00001-1"
