"""The gateway part of `posterm devices probe`: reachability, TLS against the configured CA,
the pinned gateway keys and the terminal's clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.settings import load_settings
from terminal.wiring.probes import check_gateway
from tests.conftest import free_port
from tests.integration.tech.tls_gateway import HealthGateway, make_ca, write_public_jwks


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[HealthGateway]:
    server = HealthGateway(tmp_path)
    yield server
    server.close()


def settings_for(tmp_path: Path, url: str, ca_file: Path | None, *, keys: bool = True) -> object:
    lines = ["[gateway]", f'url = "{url}"', "connect_timeout_s = 2.0", "timeout_s = 3.0"]
    if ca_file is not None:
        lines.append(f'ca_file = "{ca_file}"')
    if keys:
        signing, encryption = write_public_jwks(tmp_path)
        lines += [f'signing_key = "{signing}"', f'encryption_key = "{encryption}"']
    site = tmp_path / "site.toml"
    site.write_text("\n".join(lines) + "\n")
    return load_settings(site, environ={})


def test_reachable_gateway_with_its_ca_and_pinned_keys_is_healthy(
    tmp_path: Path, gateway: HealthGateway
) -> None:
    result = check_gateway(settings_for(tmp_path, gateway.url, gateway.ca_file))
    assert result.healthy, result.problem
    assert "TLS verified" in result.self_test and "keys pinned" in result.self_test
    assert abs(result.details["clock_skew_s"]) < 5


def test_certificate_from_another_ca_is_refused(tmp_path: Path, gateway: HealthGateway) -> None:
    _, _, stranger = make_ca(tmp_path, "someone-else")
    result = check_gateway(settings_for(tmp_path, gateway.url, stranger))
    assert not result.healthy and result.found is True
    assert "not signed by the configured CA" in result.problem
    assert "never turn verification off" in result.fix


def test_gateway_down_says_sales_continue_offline(tmp_path: Path) -> None:
    result = check_gateway(settings_for(tmp_path, f"https://127.0.0.1:{free_port()}", None))
    assert not result.healthy and result.found is False
    assert "cannot connect" in result.problem and "offline" in result.fix


def test_unpinned_gateway_keys_are_a_failure(tmp_path: Path, gateway: HealthGateway) -> None:
    result = check_gateway(settings_for(tmp_path, gateway.url, gateway.ca_file, keys=False))
    assert not result.healthy
    assert (
        result.problem == "gateway.signing_key is not set: the gateway's Ed25519 key is not pinned"
    )


def test_terminal_clock_far_off_the_gateways_is_a_failure(
    tmp_path: Path, gateway: HealthGateway
) -> None:
    gateway.clock_offset_s = -600
    result = check_gateway(settings_for(tmp_path, gateway.url, gateway.ca_file))
    assert not result.healthy and "clock is +600 s off" in result.problem
    assert "timedatectl set-ntp true" in result.fix
