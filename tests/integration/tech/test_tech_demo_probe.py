"""`posterm devices probe` on the demo configuration while the demo's simulated world runs:
gateway simulator, reader with an empty field (and a tapped card), camera frames, printer."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from drivers.probe.nfc_reader import probe_reader
from simulators import demo
from terminal.cli import main
from tests.conftest import free_port


def demo_copy(tmp_path: Path) -> Path:
    """config/demo.toml with its fixed ports moved to free ones (a running demo keeps its)."""
    text = demo.DEMO_CONFIG.read_text(encoding="utf-8")
    for port in sorted(set(re.findall(r"1844\d", text))):
        text = text.replace(port, str(free_port()))
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "demo.toml").write_text(text, encoding="utf-8")
    return folder / "demo.toml"


@pytest.fixture(scope="module")
def demo_world(tmp_path_factory: pytest.TempPathFactory):
    tmp_path = tmp_path_factory.mktemp("demo")
    config = demo_copy(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo, "ADMIN_PORT", free_port())
        stack = demo.DemoStack(config=config, state=tmp_path / "var" / "demo")
        settings = stack.start()
        yield config, stack, settings
        stack.stop()


def test_every_simulated_demo_device_is_healthy(demo_world, capsys) -> None:
    config, _, _ = demo_world
    assert main(["--config", str(config), "devices", "probe", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    kinds = {d["kind"]: d for d in report["devices"]}
    assert report["healthy"] is True, report
    assert "no card presented" in kinds["reader"]["self_test"]
    assert kinds["camera"]["details"]["width"] == 640
    assert kinds["printer"]["self_test"] == "status: online, paper OK"
    assert kinds["display"]["found"] is None  # display = "none" in the demo
    assert "TLS verified" in kinds["gateway"]["self_test"]


def test_a_demo_tap_hands_the_reader_to_the_card_and_back(demo_world) -> None:
    _, stack, settings = demo_world
    tap = threading.Thread(target=stack.tap, args=("visa-credit",))
    tap.start()
    seen = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "SELECT PPSE answered 9000" not in seen:
        seen = probe_reader(settings.devices.nfc, sense_seconds=1.0).self_test
    tap.join(40)
    assert "SELECT PPSE answered 9000" in seen
    after = probe_reader(settings.devices.nfc, sense_seconds=0.5)
    assert after.healthy and "no card presented" in after.self_test


def test_demo_reader_without_the_demo_running_names_the_problem(tmp_path: Path, capsys) -> None:
    config = demo_copy(tmp_path)
    # Without the demo its gateway files do not exist yet: keep only what the reader needs.
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"(?m)^(ca_file|signing_key|encryption_key) = .*$", "", text))
    assert main(["--config", str(config), "devices", "probe", "--only", "reader"]) == 3
    out = capsys.readouterr().out
    assert "nothing is listening" in out and "fix: start the card simulator" in out
