"""The units, udev rules and module blacklist in systemd/ are valid and say what the issue asks.

`systemd-analyze verify` runs offline against a throw-away root that holds the units and an
executable at /opt/posterm/venv/bin/posterm (verify checks ExecStart= exists); User= does not
need to exist for the offline check.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SYSTEMD = REPO / "systemd"
UNITS = sorted(p.name for p in SYSTEMD.glob("*.service"))
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not installed (scripts/setup.sh installs systemd)"
)


def unit_root(tmp_path: Path, unit: str, text: str | None = None) -> Path:
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True, exist_ok=True)
    binary = root / "opt/posterm/venv/bin/posterm"
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    content = text if text is not None else (SYSTEMD / unit).read_text()
    (root / "etc/systemd/system" / unit).write_text(content)
    return root


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60, check=False)


def directives(unit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (SYSTEMD / unit).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_service_and_its_kiosk_variant_exist() -> None:
    assert UNITS == ["posterm-kiosk.service", "posterm.service"]


@needs_analyze
@pytest.mark.parametrize("unit", UNITS)
def test_systemd_analyze_verify_passes_without_warnings(tmp_path: Path, unit: str) -> None:
    root = unit_root(tmp_path, unit)
    done = analyze(
        "verify",
        "--man=no",
        f"--root={root}",
        "--recursive-errors=no",
        f"/etc/systemd/system/{unit}",
    )
    assert done.returncode == 0, done.stderr
    assert unit not in done.stderr, done.stderr  # any warning about our unit names it


@needs_analyze
def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    broken = (SYSTEMD / "posterm.service").read_text().replace("Type=notify", "Type=notfy")
    root = unit_root(tmp_path, "posterm.service", broken)
    done = analyze(
        "verify",
        "--man=no",
        f"--root={root}",
        "--recursive-errors=no",
        "/etc/systemd/system/posterm.service",
    )
    assert "notfy" in done.stderr


@needs_analyze
@pytest.mark.parametrize("unit", UNITS)
def test_exposure_stays_low(tmp_path: Path, unit: str) -> None:
    root = unit_root(tmp_path, unit)
    done = analyze(
        "security",
        "--offline=true",
        "--threshold=25",
        f"--root={root}",
        f"/etc/systemd/system/{unit}",
    )
    assert done.returncode == 0, done.stdout[-400:]


def test_service_is_notify_with_a_watchdog_and_locked_down() -> None:
    unit = directives("posterm.service")
    assert unit["Type"] == ["notify"]
    assert unit["WatchdogSec"] and unit["Restart"] == ["on-failure"]
    assert unit["User"] == ["posterm"] and unit["StateDirectory"] == ["posterm"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["NoNewPrivileges"] == ["true"] and unit["PrivateTmp"] == ["true"]
    assert unit["DevicePolicy"] == ["closed"]
    assert set(unit["SupplementaryGroups"][0].split()) == {"plugdev", "video", "dialout"}
    assert unit["ExecStart"][0].endswith("posterm --config /etc/posterm/posterm.toml serve")


def test_kiosk_runs_the_operator_screen_on_tty1() -> None:
    unit = directives("posterm-kiosk.service")
    assert unit["TTYPath"] == ["/dev/tty1"]
    assert unit["Type"] == ["notify"] and unit["WatchdogSec"]
    assert "getty@tty1.service" in unit["Conflicts"][0]
    assert unit["ExecStart"][0].endswith(" run")


def test_udev_rules_cover_every_usb_reader_nfcpy_drives() -> None:
    from nfc.clf.device import usb_device_map

    rules = (SYSTEMD / "60-posterm-nfc.rules").read_text()
    covered = {
        (int(v, 16), int(p, 16))
        for v, p in re.findall(r'ATTR\{idVendor\}=="(\w{4})", ATTR\{idProduct\}=="(\w{4})"', rules)
    }
    assert set(usb_device_map) <= covered
    for line in rules.splitlines():
        if line and not line.startswith("#"):
            # every clause is KEY op "value" (udev's grammar), separated by commas
            for clause in line.split(", "):
                assert re.fullmatch(r'[A-Z_]+(\{\w+\})?(==|!=|=|\+=)"[^"]*"', clause), clause


def test_kernel_nfc_drivers_that_grab_readers_are_blacklisted() -> None:
    lines = (SYSTEMD / "posterm-nfc.conf").read_text().splitlines()
    listed = {line.split()[1] for line in lines if line.startswith("blacklist ")}
    assert {"pn533_usb", "pn533", "nfc", "port100"} <= listed
