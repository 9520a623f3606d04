"""`posterm devices probe` and `devices list` as a technician runs them, against simulated
devices: `posterm sim card` behind nfcpy's UDP reader, an image-sequence camera, a socket://
ESC/POS printer and display, and the real gateway simulator process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.cli import main
from tests.conftest import free_port
from tests.fixtures.gateway_sim import GatewaySim
from tests.integration.tech.fakes import (
    FakeDisplay,
    FakeEscPosPrinter,
    render_frames,
    simulated_card,
)


@pytest.fixture
def bench(tmp_path: Path, gateway_sim_module: GatewaySim) -> Iterator[dict[str, str]]:
    """A counter of simulated devices and the gateway simulator, as configuration strings."""
    printer, display = FakeEscPosPrinter(), FakeDisplay()
    gateway = gateway_sim_module.gateway_section()
    frames = tmp_path / "frames"
    frames.mkdir()
    with simulated_card("visa-credit") as reader:
        yield {
            "nfc": reader,
            "camera": render_frames(frames, 3),
            "printer": printer.url,
            "display": display.url,
            "gateway": gateway["url"],
            "ca_file": gateway["ca_file"],
            "signing_key": gateway["signing_key"],
            "encryption_key": gateway["encryption_key"],
        }
    printer.close()
    display.close()


def site_file(tmp_path: Path, bench: dict[str, str]) -> Path:
    path = tmp_path / "posterm.toml"
    path.write_text(
        f"""
[terminal]
data_dir = "{tmp_path / "data"}"
[gateway]
url = "{bench["gateway"]}"
ca_file = "{bench["ca_file"]}"
signing_key = "{bench["signing_key"]}"
encryption_key = "{bench["encryption_key"]}"
[devices]
nfc = "{bench["nfc"]}"
camera = "{bench["camera"]}"
printer = "{bench["printer"]}"
display = "{bench["display"]}"
"""
    )
    return path


def test_every_simulated_device_healthy_exits_0(tmp_path: Path, bench, capsys) -> None:
    site = site_file(tmp_path, bench)
    assert main(["--config", str(site), "devices", "probe", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["healthy"] is True
    kinds = {d["kind"]: d for d in report["devices"]}
    assert list(kinds) == ["reader", "camera", "printer", "display", "gateway"]
    assert all(d["found"] and d["opened"] and d["healthy"] for d in kinds.values())
    assert kinds["camera"]["details"]["width"] == 640
    assert kinds["printer"]["self_test"] == "status: online, paper OK"
    assert "SELECT PPSE answered 9000" in kinds["reader"]["self_test"]
    assert "TLS verified" in kinds["gateway"]["self_test"]


def test_reader_pointed_at_nothing_exits_3_with_the_fix(tmp_path: Path, bench, capsys) -> None:
    bench["nfc"] = f"udp:localhost:{free_port()}"
    site = site_file(tmp_path, bench)
    assert main(["--config", str(site), "devices", "probe"]) == 3
    out = capsys.readouterr().out
    assert "FAIL reader" in out
    assert "problem: nothing is listening at udp:localhost:" in out
    assert "fix: start the card simulator on that port" in out
    assert "ok   printer" in out and "ok   gateway" in out
    assert out.rstrip().endswith("some devices need attention (see above)")


def test_probe_only_one_kind(tmp_path: Path, bench, capsys) -> None:
    site = site_file(tmp_path, bench)
    assert main(["--config", str(site), "devices", "probe", "--only", "printer", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [d["kind"] for d in report["devices"]] == ["printer"]


def test_devices_list_prints_one_line_per_device_or_says_none(capsys) -> None:
    assert main(["devices", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["devices"]
    assert all(d["kind"] in ("reader", "camera", "serial") and d["path"] for d in listed)
    assert main(["devices", "list"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == max(len(listed), 1)
