"""Signed configuration through the real broker to a running `posterm serve`: each bad bundle
is refused with the sentence in the terminal's answer, the site file unchanged and the refusal
audited; `fleet push-config` exits non-zero unless every terminal applied."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from terminal.fleet.bundles import Target, sign_bundle
from terminal.security.audit import AuditLog
from tests.fixtures.mosquitto import OPERATOR, OPERATOR_PASSWORD, Broker
from tests.integration.fleet.conftest import MERCHANT, TERMINAL
from tests.integration.fleet.mqtt_peer import Peer
from tests.integration.fleet.terminals import (
    posterm,
)


def push(setup: dict[str, Any], fragment: str, *extra: str) -> Any:
    file = setup["tmp"] / "change.toml"
    file.write_text(fragment, encoding="utf-8")
    return posterm(
        "--config", str(setup["operator"]), "fleet", "push-config", str(file),
        "--key", str(setup["key"]), "--wait", "30", *extra,
    )  # fmt: skip


def test_each_bad_bundle_is_refused_with_its_sentence(
    setup: dict[str, Any], mosquitto: Broker
) -> None:
    site_before = setup["config"].read_bytes()
    floor = '[offline]\nfloor_limit = "25.00"\n'

    older = push(setup, floor, "--terminal", TERMINAL, "--version", "9")
    assert older.returncode == 1, older.stderr
    assert f"{TERMINAL} refused: Version 9 is not newer than the applied version 10" in older.stdout

    expired = push(setup, floor, "--terminal", TERMINAL, "--version", "11", "--expires-in", "-1")
    assert expired.returncode == 1
    assert f"{TERMINAL} refused: The bundle expired" in expired.stdout

    invalid = push(setup, "[offline]\nmax_age_hours = 0\n", "--merchant", MERCHANT)
    assert invalid.returncode == 1
    assert "refused: The merged configuration is invalid" in invalid.stdout
    assert "offline.max_age_hours" in invalid.stdout

    gateway = push(setup, '[gateway]\nurl = "https://evil.example"\n', "--terminal", TERMINAL)
    assert gateway.returncode == 2  # refused by the operator's own tool: nothing sent
    assert "gateway.url may not be changed by the fleet" in gateway.stderr

    rogue_keys = setup["tmp"] / "rogue"
    assert posterm("fleet", "keys", "init", "--out", str(rogue_keys)).returncode == 0
    rogue = json.loads((rogue_keys / "fleet-operator.jwk").read_text())
    own = json.loads(setup["key"].read_text())
    base = f"posterm/{MERCHANT}/{TERMINAL}/config"
    later = datetime.now(UTC) + timedelta(hours=1)
    with Peer(mosquitto, OPERATOR, OPERATOR_PASSWORD) as peer:
        peer.subscribe(f"{base}/result")
        cases = [
            (sign_bundle(rogue, target=Target(terminals=(TERMINAL,)), version=20,
                         expires_at=later, settings_toml=floor), "does not trust"),
            (sign_bundle(own, target=Target(terminals=("OTHER001",)), version=21,
                         expires_at=later, settings_toml=floor),
             f"for other terminals, not {TERMINAL}"),
            (forbidden(own, '[gateway]\nurl = "https://evil.example"\n'),
             "gateway.url may not be changed by the fleet"),
        ]  # fmt: skip
        for token, sentence in cases:
            peer.client.publish(f"{base}/set", token, qos=1).wait_for_publish(10)
            _, answer = peer.next_json(timeout_s=30)
            assert answer["result"] == "refused"
            assert sentence in answer["sentence"]
    assert setup["config"].read_bytes() == site_before
    assert json.loads((setup["data"] / "fleet-config.json").read_text()) == {"version": 10}
    refusals = [r for r in AuditLog(setup["data"]).records() if r.action == "fleet.config.refused"]
    assert len(refusals) == 6


def test_a_good_bundle_is_applied_between_sales_and_audited(setup: dict[str, Any]) -> None:
    run = push(setup, '[offline]\nfloor_limit = "25.00"\n', "--merchant", MERCHANT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "applied between sales" in run.stdout
    site = setup["config"].read_text()
    assert "floor_limit" in site and "25.00" in site
    actions = [r.action for r in AuditLog(setup["data"]).records()]
    assert "fleet.config.apply" in actions


def forbidden(private: dict[str, Any], fragment: str) -> str:
    """A bundle with a forbidden setting, signed by the trusted key without the operator
    tool's own check (a careless or compromised tool)."""
    from joserfc import jws
    from joserfc.jwk import OKPKey

    key = OKPKey.import_key(private)
    payload = {
        "target": {"merchant": MERCHANT},
        "version": 30,
        "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        "settings": fragment,
    }
    return jws.serialize_compact(
        {"alg": "Ed25519", "typ": "posterm-config+jws", "kid": key.kid},
        json.dumps(payload).encode(),
        key,
        registry=jws.JWSRegistry(algorithms=["Ed25519"]),
    )
