"""`posterm keys ...` and `posterm gateway-sim enroll` as a technician runs them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from terminal.cli import main


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "posterm.toml"
    path.write_text(
        f'[terminal]\nterminal_id = "CAFE0001"\ndata_dir = "{tmp_path / "data"}"\n',
        encoding="utf-8",
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().out


def test_init_rotate_and_show_public(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run(capsys, "--config", str(site), "keys", "init")
    assert status == 0 and json.loads(out) == {"kid": "CAFE0001-1", "created": True}
    _, out = run(capsys, "--config", str(site), "keys", "init")
    assert json.loads(out)["created"] is False
    _, out = run(capsys, "--config", str(site), "keys", "show-public", "--format", "jwk")
    jwk = json.loads(out)
    assert (jwk["kty"], jwk["crv"], jwk["kid"]) == ("OKP", "Ed25519", "CAFE0001-1")
    assert "d" not in jwk
    _, out = run(capsys, "--config", str(site), "keys", "rotate")
    assert json.loads(out) == {"kid": "CAFE0001-2", "previous": "CAFE0001-1"}
    _, out = run(capsys, "--config", str(site), "keys", "show-public", "--format", "jwks")
    assert [k["kid"] for k in json.loads(out)["keys"]] == ["CAFE0001-2", "CAFE0001-1"]


def test_init_force_keeps_a_backup(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "--config", str(site), "keys", "init")
    _, first = run(capsys, "--config", str(site), "keys", "show-public")
    run(capsys, "--config", str(site), "keys", "init", "--force")
    _, second = run(capsys, "--config", str(site), "keys", "show-public")
    assert json.loads(first)["x"] != json.loads(second)["x"]
    assert list((site.parent / "data" / "keys").glob("keystore.enc.*.bak"))


def test_unknown_kid_is_a_sentence_not_a_traceback(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["--config", str(site), "keys", "show-public", "--kid", "CAFE0001-9"])
    assert status == 3
    assert "There is no key 'CAFE0001-9'" in capsys.readouterr().err


def test_enroll_writes_the_key_into_the_simulator_ledger(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = run(capsys, "--config", str(site), "keys", "show-public")
    jwk_file = tmp_path / "terminal.jwk"
    jwk_file.write_text(out)
    sim = tmp_path / "sim"
    status, out = run(
        capsys,
        "gateway-sim",
        "enroll",
        "--data",
        str(sim),
        "--terminal-id",
        "CAFE0001",
        "--jwk",
        str(jwk_file),
    )
    assert status == 0 and json.loads(out) == {"enrolled": ["CAFE0001-1"]}
    rows = sqlite3.connect(sim / "ledger.sqlite").execute("SELECT kid FROM terminals").fetchall()
    assert rows == [("CAFE0001-1",)]
    for name in ("ca.pem", "gateway-signing.jwk", "gateway-encryption.jwk"):
        assert (sim / name).is_file()
    status = main(
        [
            "gateway-sim",
            "enroll",
            "--data",
            str(sim),
            "--terminal-id",
            "OTHER001",
            "--jwk",
            str(jwk_file),
        ]
    )
    assert status == 2
    assert "kid" in capsys.readouterr().err


def test_rotation_asks_for_the_technician_pin_and_is_audited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from terminal.security.audit import AuditLog
    from terminal.security.key_hierarchy import KeyHierarchy
    from terminal.security.pins import hash_pin

    pepper = KeyHierarchy.open(tmp_path / "data").pin_pepper()
    site = tmp_path / "posterm.toml"
    site.write_text(
        f'[terminal]\nterminal_id = "CAFE0001"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[ui]\ntechnician_pin_hash = "{hash_pin("246813", pepper)}"\n',
        encoding="utf-8",
    )
    run(capsys, "--config", str(site), "keys", "init")
    monkeypatch.setattr("sys.stdin", io.StringIO("111111\n"))
    assert main(["--config", str(site), "keys", "rotate", "--pin-stdin"]) != 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("246813\n"))
    status, out = run(capsys, "--config", str(site), "keys", "rotate", "--pin-stdin")
    assert status == 0 and json.loads(out)["kid"] == "CAFE0001-2"
    actions = [record.action for record in AuditLog(tmp_path / "data").records()]
    assert "keys.rotate" in actions


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--listen", "nonsense"], "not host:port"),
        (["--listen", "0.0.0.0:18999", "--plain-http"], "loopback"),
        (["--listen", "127.0.0.1:18999", "--admin-listen", "x"], "not host:port"),
    ],
)
def test_gateway_sim_refuses_bad_listen_addresses(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gateway-sim", "--data", str(tmp_path / "sim"), *argv]) == 2
    assert message in capsys.readouterr().err
