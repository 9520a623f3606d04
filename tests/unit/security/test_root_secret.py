"""Where the root secret comes from, and the places it must never come from."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from terminal.cli import main
from terminal.security.key_hierarchy import KeyHierarchy, RootPlace
from terminal.security.root_secret import RootSecretError, load_root_secret


def test_a_root_file_inside_the_data_folder_is_refused_with_the_fix(tmp_path: Path) -> None:
    inside = tmp_path / "data" / "keys" / "root"
    with pytest.raises(RootSecretError, match=r"inside terminal\.data_dir.*Move the file outside"):
        load_root_secret(tmp_path / "data", root_key_file=str(inside), environ={})
    assert not inside.exists()


def test_the_config_check_names_the_fix_for_a_root_file_in_the_data_folder(
    tmp_path: Path, write_config, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        f'[terminal]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[security]\nroot_key_file = "{tmp_path / "data" / "root"}"\n'
    )
    assert main(["--config", str(config), "keys", "show-public"]) == 3
    assert "Move the file outside" in capsys.readouterr().err


def test_a_configured_root_file_is_created_private_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    place = RootPlace(root_key_file=str(tmp_path / "etc" / "root-secret"))
    keys = place.open(tmp_path / "data")
    root = tmp_path / "etc" / "root-secret"
    assert stat.S_IMODE(root.stat().st_mode) == 0o600 and len(root.read_bytes().strip()) == 64
    assert keys.created and "plain file" in keys.warning and "plain file" in caplog.text
    assert place.open(tmp_path / "data").fingerprint_key() == keys.fingerprint_key()


def test_the_credential_comes_before_any_file(tmp_path: Path) -> None:
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "posterm-root").write_bytes(b"c" * 32)
    (credentials / "posterm-keystore").write_bytes(b"o" * 32)
    root = load_root_secret(tmp_path / "data", environ={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert root.value == b"c" * 32 and root.source == "systemd credential posterm-root"
    assert not root.warning and "c" * 32 not in repr(root)
    assert not (tmp_path / "data.root-secret").exists()


def test_a_short_credential_is_refused(tmp_path: Path) -> None:
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "posterm-root").write_bytes(b"short")
    with pytest.raises(RootSecretError, match="shorter than 16 bytes"):
        load_root_secret(tmp_path / "data", environ={"CREDENTIALS_DIRECTORY": str(credentials)})


def test_each_purpose_gets_its_own_key(tmp_path: Path) -> None:
    keys = KeyHierarchy.open(tmp_path / "data")
    derived = {
        keys.keystore_key(),
        keys.fingerprint_key(),
        keys.audit_key(),
        keys.pin_pepper(),
        bytes.fromhex(keys.check_value()),
    }
    assert len(derived) == 5
    root = (tmp_path / "data.root-secret").read_bytes().strip()
    assert root not in derived and bytes.fromhex(root.decode()) not in derived


@pytest.mark.skipif(
    os.geteuid() != 0 or subprocess.run(["which", "systemd-creds"], check=False).returncode,
    reason="needs root and systemd-creds",
)
def test_sudo_commands_decrypt_the_encrypted_credential(tmp_path: Path) -> None:
    """`sudo posterm ...` outside the service reads the root from the encrypted credential
    (null key here, so the machine's host key is neither needed nor created)."""
    cred = tmp_path / "posterm-root.cred"
    made = subprocess.run(
        ["systemd-creds", "encrypt", "--name=posterm-root", "--with-key=null", "-", str(cred)],
        input=b"r" * 32,
        capture_output=True,
        check=False,
    )
    if made.returncode:
        pytest.skip(f"systemd-creds cannot encrypt here: {made.stderr!r}")
    decrypted = subprocess.run(
        ["systemd-creds", "decrypt", "--name=posterm-root", str(cred), "-"],
        capture_output=True,
        check=False,
    )
    if decrypted.returncode:
        pytest.skip(f"systemd-creds refuses null-key credentials here: {decrypted.stderr!r}")
    root = load_root_secret(tmp_path / "data", root_credential_file=str(cred), environ={})
    assert root.value == b"r" * 32 and root.source == f"credential {cred}"
