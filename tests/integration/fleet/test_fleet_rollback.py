"""A bundle that makes a device check fail right after it was applied is rolled back: a running
`posterm serve` with a camera takes `qr.decoder = "pyzbar"` on a machine without the system
library libzbar0, finds that the decoder cannot start, gives the engine and the site file the
previous settings back, audits it, and answers `refused` with the reason on `.../config/result`.
A good bundle afterwards is applied as usual."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from terminal.security.audit import AuditLog
from terminal.settings import load_settings
from tests.fixtures.mosquitto import Broker
from tests.integration.fleet.terminals import (
    Serve,
    fleet_status,
    operator_config,
    posterm,
    wait_for,
)

MERCHANT = "SHOP88"
TERMINAL = "ROLLBK01"

NO_LIBZBAR = (
    '"""Stands for a machine without libzbar0: pyzbar fails to load as it does there."""\n'
    'raise ImportError("Unable to find zbar shared library")\n'
)


def test_a_bundle_whose_device_check_fails_is_rolled_back(
    gateway_sim: Any, mosquitto: Broker, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    assert posterm("fleet", "keys", "init", "--out", str(keys)).returncode == 0
    mosquitto.add_user(TERMINAL, "pw-rollback")
    frames = tmp_path / "camera"
    frames.mkdir()
    config = gateway_sim.terminal_config(
        tmp_path,
        terminal_id=TERMINAL,
        merchant_id=MERCHANT,
        fleet=mosquitto.fleet(
            TERMINAL,
            "pw-rollback",
            heartbeat_s=2,
            operator_keys=[str(keys / "fleet-operator.pub.jwk")],
        ),
        devices={"nfc": "none", "camera": str(frames / "frame-%03d.png")},
        gateway={"timeout_s": 2.0, "connect_timeout_s": 1.0},
    )
    shim = tmp_path / "no-libzbar" / "pyzbar"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(NO_LIBZBAR, encoding="utf-8")
    serve = Serve(config, tmp_path / "serve.log", env={"PYTHONPATH": str(shim.parent)})
    operator = operator_config(mosquitto, tmp_path)
    site_before = config.read_bytes()
    data = Path(load_settings(config, {}).data_dir)
    try:
        wait_for(lambda: fleet_status(operator), "the terminal's status", serve=serve)
        change = tmp_path / "decoder.toml"
        change.write_text('[qr]\ndecoder = "pyzbar"\n', encoding="utf-8")
        pushed = posterm(
            "--config", str(operator), "fleet", "push-config", str(change),
            "--terminal", TERMINAL, "--key", str(keys / "fleet-operator.jwk"),
            "--version", "5", "--wait", "30",
        )  # fmt: skip
        assert pushed.returncode == 1, pushed.stdout + pushed.stderr
        assert (
            f"{TERMINAL} refused: After applying version 5, the camera's QR decoder 'pyzbar' "
            "cannot start: The pyzbar decoder needs the system library libzbar0"
        ) in pushed.stdout
        assert "rolled back to the previous settings, nothing changed" in pushed.stdout
        assert config.read_bytes() == site_before
        assert not (data / "fleet-config.json").exists()  # version 5 was never applied
        actions = [r.action for r in AuditLog(data).records() if r.action.startswith("fleet.")]
        assert actions == ["fleet.config.apply", "fleet.config.rolled_back", "fleet.config.refused"]

        change.write_text('[qr]\ndecoder = "opencv"\n', encoding="utf-8")
        pushed = posterm(
            "--config", str(operator), "fleet", "push-config", str(change),
            "--terminal", TERMINAL, "--key", str(keys / "fleet-operator.jwk"),
            "--version", "6", "--wait", "30",
        )  # fmt: skip
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert load_settings(config, {}).qr.decoder == "opencv"
        assert json.loads((data / "fleet-config.json").read_text()) == {"version": 6}
    finally:
        assert serve.stop() == 0, serve.output()
