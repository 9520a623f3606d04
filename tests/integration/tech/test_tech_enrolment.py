"""Enrolling the terminal's public keys with the gateway simulator's admin API, then using them:
a message signed with the enrolled key is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from terminal.security.enrolment import EnrolmentError, enroll_with_simulator
from terminal.security.keystore import Keystore
from tests.conftest import free_port
from tests.fixtures.gateway_sim import GatewaySim


def test_public_keys_are_enrolled_and_listed_by_the_simulator(
    tmp_path: Path, gateway_sim_module: GatewaySim
) -> None:
    store = Keystore.open(tmp_path, "ENROL001")
    store.rotate()
    kids = enroll_with_simulator(
        gateway_sim_module.admin_url,
        "ENROL001",
        store.public_jwks(),
        ca_file=str(gateway_sim_module.ca_file),
        token=gateway_sim_module.admin_token,
    )
    assert sorted(kids) == ["ENROL001-1", "ENROL001-2"]
    listed = gateway_sim_module.admin.get("/sim/terminals").json()["terminals"]
    assert {t["kid"] for t in listed if t["terminal_id"] == "ENROL001"} == set(kids)


def test_a_private_key_never_leaves_the_terminal(gateway_sim_module: GatewaySim) -> None:
    leaked = {"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "secret", "kid": "X-1"}
    with pytest.raises(EnrolmentError, match="not a public"):
        enroll_with_simulator(gateway_sim_module.admin_url, "ENROL002", [leaked])


def test_simulator_not_running_says_how_to_start_it(tmp_path: Path) -> None:
    store = Keystore.open(tmp_path, "ENROL003")
    with pytest.raises(EnrolmentError, match="start `posterm gateway-sim`"):
        enroll_with_simulator(f"https://127.0.0.1:{free_port()}", "ENROL003", store.public_jwks())


def test_unverifiable_tls_is_refused(tmp_path: Path, gateway_sim_module: GatewaySim) -> None:
    store = Keystore.open(tmp_path, "ENROL004")
    with pytest.raises(EnrolmentError, match="not signed by a trusted CA"):
        enroll_with_simulator(gateway_sim_module.admin_url, "ENROL004", store.public_jwks())


def test_keys_enroll_lets_a_new_terminal_talk_to_the_bank(
    tmp_path: Path, gateway_sim_module: GatewaySim, capsys: pytest.CaptureFixture[str]
) -> None:
    from terminal.cli import main

    gateway = gateway_sim_module.gateway_section()
    site = tmp_path / "posterm.toml"
    lines = ["[terminal]", 'terminal_id = "ENROL005"', f'data_dir = "{tmp_path / "data"}"']
    lines += ["[gateway]"] + [
        f'{key} = "{value}"' for key, value in gateway.items() if isinstance(value, str)
    ]
    site.write_text("\n".join(lines) + "\n")
    posterm = ["--config", str(site)]
    assert main([*posterm, "keys", "init"]) == 0
    capsys.readouterr()
    assert main([*posterm, "close-batch"]) != 0  # the bank does not know this key yet
    assert "401 unknown_key" in capsys.readouterr().err
    admin = ["keys", "enroll", "--gateway-admin", gateway_sim_module.admin_url]
    admin += ["--admin-token-file", str(gateway_sim_module.data_dir / "admin-token")]
    assert main([*posterm, *admin]) == 0
    assert '"enrolled": ["ENROL005-1"]' in capsys.readouterr().out
    assert main([*posterm, "close-batch"]) == 0
    assert main([*posterm, "audit", "show", "--json"]) == 0
    assert '"keys.enroll"' in capsys.readouterr().out
