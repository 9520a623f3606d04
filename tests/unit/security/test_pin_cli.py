"""`posterm pin set|hash` and `posterm keys pin-hash`: new PINs are 6 to 12 digits and their
hashes verify only with this terminal's pepper."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from terminal.cli import main
from terminal.security.key_hierarchy import KeyHierarchy
from terminal.security.pins import PinGuard, PinRejected


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "posterm.toml"
    path.write_text(f'[terminal]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("command", [["keys", "pin-hash"], ["pin", "hash", "--pin-stdin"]])
def test_printed_hash_is_peppered_for_this_terminal(
    site: Path, tmp_path: Path, command: list[str], capsys, monkeypatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("864213\n"))
    assert main(["--config", str(site), *command]) == 0
    pin_hash = capsys.readouterr().out.strip()
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(pin_hash, "864213")
    keys = KeyHierarchy.open(tmp_path / "data")
    PinGuard(tmp_path / "data", keys=keys).check("supervisor", "864213", pin_hash)
    with pytest.raises(PinRejected):
        PinGuard(tmp_path / "data", keys=keys).check("supervisor", "864212", pin_hash)


@pytest.mark.parametrize(
    "command", [["keys", "pin-hash"], ["pin", "set", "technician", "--pin-stdin"]]
)
def test_a_4_digit_new_pin_is_refused_with_a_sentence(
    site: Path, command: list[str], capsys, monkeypatch
) -> None:
    before = site.read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO("2468\n"))
    assert main(["--config", str(site), *command]) == 2
    assert "6 to 12 digits" in capsys.readouterr().err
    assert site.read_text() == before
