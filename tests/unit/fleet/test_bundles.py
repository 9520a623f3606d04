"""Signed configuration bundles: the operator signs, the terminal refuses each bad bundle with
a sentence (unknown key, older version, expired, another terminal, a forbidden setting, an
invalid value) and takes a good one; a refusal leaves the site file unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from terminal.cli import main
from terminal.fleet.bundles import (
    BundleRefused,
    Target,
    merged_settings,
    sign_bundle,
    trusted_keys,
    verify_bundle,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
FLOOR_25 = '[offline]\nfloor_limit = "25.00"\n'


@pytest.fixture
def operator(tmp_path: Path) -> dict[str, Any]:
    assert main(["fleet", "keys", "init", "--out", str(tmp_path / "op")]) == 0
    private = tmp_path / "op" / "fleet-operator.jwk"
    public = tmp_path / "op" / "fleet-operator.pub.jwk"
    assert private.stat().st_mode & 0o077 == 0
    assert "d" not in json.loads(public.read_text())
    return {
        "private": json.loads(private.read_text()),
        "keys": trusted_keys([str(public)]),
    }


def signed(operator: dict[str, Any], **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "target": Target(merchant="SHOP42"),
        "version": 7,
        "expires_at": NOW + timedelta(hours=1),
        "settings_toml": FLOOR_25,
    }
    fields.update(overrides)
    return sign_bundle(operator["private"], **fields)


def verify(operator: dict[str, Any], token: str, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "terminal_id": "POS00001",
        "merchant_id": "SHOP42",
        "applied_version": 6,
        "now": NOW,
    }
    fields.update(overrides)
    return verify_bundle(token, operator["keys"], **fields)


def test_a_good_bundle_is_taken(operator: dict[str, Any]) -> None:
    bundle = verify(operator, signed(operator))
    assert bundle.version == 7
    assert bundle.settings == {"offline": {"floor_limit": "25.00"}}


def test_keys_init_never_overwrites_an_operator_key(tmp_path: Path, capsys: Any) -> None:
    assert main(["fleet", "keys", "init", "--out", str(tmp_path)]) == 0
    before = (tmp_path / "fleet-operator.jwk").read_bytes()
    assert main(["fleet", "keys", "init", "--out", str(tmp_path)]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert (tmp_path / "fleet-operator.jwk").read_bytes() == before


def test_a_bundle_signed_by_an_unknown_key_is_refused(
    operator: dict[str, Any], tmp_path: Path
) -> None:
    assert main(["fleet", "keys", "init", "--out", str(tmp_path / "rogue")]) == 0
    rogue = json.loads((tmp_path / "rogue" / "fleet-operator.jwk").read_text())
    token = sign_bundle(
        rogue,
        target=Target(merchant="SHOP42"),
        version=8,
        expires_at=NOW + timedelta(hours=1),
        settings_toml=FLOOR_25,
    )
    with pytest.raises(BundleRefused, match="does not trust"):
        verify(operator, token)


def test_a_forged_signature_is_refused(operator: dict[str, Any]) -> None:
    header, _, signature = signed(operator).split(".")
    other = signed(operator, settings_toml='[offline]\nfloor_limit = "500.00"\n').split(".")[1]
    with pytest.raises(BundleRefused, match="does not verify"):
        verify(operator, f"{header}.{other}.{signature}")


@pytest.mark.parametrize("version", [6, 5])
def test_an_older_or_replayed_version_is_refused(operator: dict[str, Any], version: int) -> None:
    with pytest.raises(BundleRefused, match="not newer than the applied version 6"):
        verify(operator, signed(operator, version=version))


def test_an_expired_bundle_is_refused(operator: dict[str, Any]) -> None:
    with pytest.raises(BundleRefused, match="expired"):
        verify(operator, signed(operator, expires_at=NOW - timedelta(seconds=1)))


@pytest.mark.parametrize(
    "target", [Target(terminals=("POS00002", "POS00003")), Target(merchant="SHOP43")]
)
def test_a_bundle_for_other_terminals_is_refused(operator: dict[str, Any], target: Target) -> None:
    with pytest.raises(BundleRefused, match="for other terminals, not POS00001"):
        verify(operator, signed(operator, target=target))


def test_a_bundle_naming_this_terminal_is_taken(operator: dict[str, Any]) -> None:
    token = signed(operator, target=Target(terminals=("POS00002", "POS00001")))
    assert verify(operator, token).target.terminals == ("POS00002", "POS00001")


@pytest.mark.parametrize(
    ("fragment", "key"),
    [
        ('[gateway]\nurl = "https://evil.example"\n', "gateway.url"),
        ('[fleet]\noperator_keys = ["/tmp/evil.jwk"]\n', "fleet.operator_keys"),
        ('[ecr]\ntoken = "stolen-0123456789"\n', "ecr.token"),
        ('[terminal]\nterminal_id = "EVIL0001"\n', "terminal.terminal_id"),
    ],
)
def test_settings_a_fleet_may_not_change_are_refused(
    operator: dict[str, Any], fragment: str, key: str
) -> None:
    with pytest.raises(BundleRefused, match=f"{key} may not be changed by the fleet"):
        signed(operator, settings_toml=fragment)  # the operator's side refuses first
    token = forged_fragment(operator, fragment)
    with pytest.raises(BundleRefused, match=f"{key} may not be changed by the fleet"):
        verify(operator, token)  # and the terminal, whatever signed it


def forged_fragment(operator: dict[str, Any], fragment: str) -> str:
    """A bundle with a forbidden fragment signed by the trusted key, as a careless or
    compromised operator tool would make it."""
    from joserfc import jws
    from joserfc.jwk import OKPKey

    key = OKPKey.import_key(operator["private"])
    payload = {
        "target": {"merchant": "SHOP42"},
        "version": 9,
        "expires_at": (NOW + timedelta(hours=1)).isoformat(),
        "settings": fragment,
    }
    return jws.serialize_compact(
        {"alg": "Ed25519", "typ": "posterm-config+jws", "kid": key.kid},
        json.dumps(payload).encode(),
        key,
        registry=jws.JWSRegistry(algorithms=["Ed25519"]),
    )


def test_an_invalid_value_is_refused_and_the_site_file_unchanged(
    operator: dict[str, Any], tmp_path: Path
) -> None:
    site = tmp_path / "posterm.toml"
    site.write_text('[offline]\nfloor_limit = "50.00"\n', encoding="utf-8")
    before = site.read_bytes()
    bundle = verify(operator, signed(operator, settings_toml="[offline]\nmax_age_hours = 0\n"))
    with pytest.raises(BundleRefused) as refused:
        merged_settings(site, bundle.settings)
    assert "offline.max_age_hours" in refused.value.sentence
    assert site.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["op", "posterm.toml"]


def test_a_valid_fragment_merges_over_the_site_file(
    operator: dict[str, Any], tmp_path: Path
) -> None:
    site = tmp_path / "posterm.toml"
    site.write_text('[ui]\nreceipt_footer = "Danke"\n', encoding="utf-8")
    bundle = verify(operator, signed(operator))
    settings = merged_settings(site, bundle.settings)
    assert settings.offline.floor_limit == "25.00"
    assert settings.ui.receipt_footer == "Danke"
