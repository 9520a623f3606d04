"""The terminal's handling of a bundle once verified: applied through the engine's
`reconfigure`, the site file replaced atomically, the version kept against replays, audited;
rolled back when the engine refuses the new settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from terminal.cli import main
from terminal.fleet.bundles import Target, sign_bundle
from terminal.fleet.remote_config import RemoteConfig
from terminal.security.audit import AuditLog
from terminal.settings import Settings, load_settings


class Engine:
    """Stands for the payment engine's `reconfigure` (which waits for a sale in progress)."""

    def __init__(self, fail: bool = False) -> None:
        self.taken: list[Settings] = []
        self.fail = fail

    async def reconfigure(self, settings: Settings) -> None:
        if self.fail:
            raise RuntimeError("a device probe failed with the new settings")
        self.taken.append(settings)


@pytest.fixture
def terminal(tmp_path: Path) -> dict[str, Any]:
    assert main(["fleet", "keys", "init", "--out", str(tmp_path / "keys")]) == 0
    site = tmp_path / "posterm.toml"
    site.write_text(
        "# shop 12, counter 3\n"
        f'[terminal]\nterminal_id = "POS00001"\nmerchant_id = "SHOP42"\n'
        f'data_dir = "{tmp_path / "data"}"\n\n'
        '[fleet]\noperator_keys = ["keys/fleet-operator.pub.jwk"]\n',
        encoding="utf-8",
    )
    private = json.loads((tmp_path / "keys" / "fleet-operator.jwk").read_text())
    return {"site": site, "private": private, "data": tmp_path / "data"}


def bundle(private: dict[str, Any], version: int) -> bytes:
    return sign_bundle(
        private,
        target=Target(merchant="SHOP42"),
        version=version,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        settings_toml='[offline]\nfloor_limit = "25.00"\n',
    ).encode()


async def test_a_bundle_is_applied_audited_and_not_taken_twice(terminal: dict[str, Any]) -> None:
    engine = Engine()
    remote = RemoteConfig(load_settings(terminal["site"], {}), engine)
    answer = await remote.take(bundle(terminal["private"], 3))
    assert answer["result"] == "applied", answer
    assert answer["version"] == 3
    assert engine.taken[0].offline.floor_limit == "25.00"
    text = terminal["site"].read_text()
    assert text.startswith("# shop 12, counter 3")  # the technician's comments stay
    assert load_settings(terminal["site"], {}).offline.floor_limit == "25.00"
    (record,) = AuditLog(terminal["data"]).records()
    assert record.action == "fleet.config.apply"
    assert record.details["settings"] == {"offline": {"floor_limit": "25.00"}}
    replay = await remote.take(bundle(terminal["private"], 3))
    assert replay["result"] == "refused"
    assert "not newer than the applied version 3" in replay["sentence"]
    restarted = RemoteConfig(load_settings(terminal["site"], {}), Engine())
    assert restarted.applied_version == 3  # the replay guard survives a restart


async def test_a_bundle_the_engine_refuses_is_rolled_back(terminal: dict[str, Any]) -> None:
    before = terminal["site"].read_bytes()
    remote = RemoteConfig(load_settings(terminal["site"], {}), Engine(fail=True))
    answer = await remote.take(bundle(terminal["private"], 4))
    assert answer["result"] == "refused"
    assert "a device probe failed" in answer["sentence"]
    assert "rolled back" in answer["sentence"]
    assert terminal["site"].read_bytes() == before
    assert remote.applied_version == 0
    actions = [r.action for r in AuditLog(terminal["data"]).records()]
    assert actions == ["fleet.config.apply", "fleet.config.refused"]


async def test_a_failing_check_after_applying_gives_the_old_settings_back(
    terminal: dict[str, Any],
) -> None:
    before = terminal["site"].read_bytes()
    looks = iter([{"printer": "ok"}, {"printer": "missing"}])
    engine = Engine()
    settings = load_settings(terminal["site"], {})
    remote = RemoteConfig(settings, engine, devices=lambda: next(looks))
    answer = await remote.take(bundle(terminal["private"], 5))
    assert answer["result"] == "refused"
    assert answer["sentence"] == (
        "After applying version 5, the printer is missing after the change (it was ok "
        "before); rolled back to the previous settings, nothing changed."
    )
    assert [s.offline.floor_limit for s in engine.taken] == ["25.00", settings.offline.floor_limit]
    assert terminal["site"].read_bytes() == before
    assert remote.applied_version == 0 and remote.settings is settings
    actions = [r.action for r in AuditLog(terminal["data"]).records()]
    assert actions == ["fleet.config.apply", "fleet.config.rolled_back", "fleet.config.refused"]
