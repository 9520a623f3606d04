"""`scripts/install.sh` (behind `make install`) into a staging root: the layout a terminal gets."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def install(root: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DESTDIR": str(root), "INSTALL_VENV": "0", **extra}
    return subprocess.run(
        ["bash", str(REPO / "scripts/install.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_install_lays_out_app_config_state_units_rules(tmp_path: Path) -> None:
    done = install(tmp_path)
    assert done.returncode == 0, done.stderr
    app = tmp_path / "opt/posterm/app"
    assert (app / "terminal/cli/__init__.py").is_file()
    assert (app / "config/default.toml").is_file()
    assert not (app / ".venv").exists() and not (app / ".git").exists()
    config = tmp_path / "etc/posterm/posterm.toml"
    assert config.read_text() == (REPO / "config/examples/posterm.toml").read_text()
    assert mode(config) == 0o640 and mode(config.parent) == 0o750
    assert mode(tmp_path / "var/lib/posterm") == 0o750
    units = tmp_path / "etc/systemd/system"
    assert sorted(p.name for p in units.iterdir()) == ["posterm-kiosk.service", "posterm.service"]
    assert (tmp_path / "etc/udev/rules.d/60-posterm-nfc.rules").is_file()
    assert "blacklist pn533_usb" in (tmp_path / "etc/modprobe.d/posterm-nfc.conf").read_text()
    assert "sudo systemctl enable --now posterm" in done.stdout


def test_reinstall_keeps_the_sites_configuration(tmp_path: Path) -> None:
    assert install(tmp_path).returncode == 0
    config = tmp_path / "etc/posterm/posterm.toml"
    config.write_text('[terminal]\nterminal_id = "CAFE0042"\n')
    again = install(tmp_path)
    assert again.returncode == 0
    assert config.read_text() == '[terminal]\nterminal_id = "CAFE0042"\n'
    assert "keeping the existing /etc/posterm/posterm.toml" in again.stdout


def test_other_prefix_is_written_into_the_units(tmp_path: Path) -> None:
    assert install(tmp_path, PREFIX="/srv/pos", CONFDIR="/etc/pos").returncode == 0
    unit = (tmp_path / "etc/systemd/system/posterm.service").read_text()
    assert "ExecStart=/srv/pos/venv/bin/posterm --config /etc/pos/posterm.toml serve" in unit
    assert "/opt/posterm" not in unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
def test_installed_units_verify_in_the_installed_root(tmp_path: Path) -> None:
    assert install(tmp_path).returncode == 0
    binary = tmp_path / "opt/posterm/venv/bin/posterm"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    for unit in ("posterm.service", "posterm-kiosk.service"):
        done = subprocess.run(
            [
                "systemd-analyze",
                "verify",
                "--man=no",
                f"--root={tmp_path}",
                "--recursive-errors=no",
                f"/etc/systemd/system/{unit}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0 and unit not in done.stderr, done.stderr


def test_refuses_a_system_install_without_root(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: the refusal cannot be observed")
    done = install(tmp_path, DESTDIR="", SYSTEM_SETUP="1")
    assert done.returncode == 1 and "run as root" in done.stderr


@pytest.mark.slow
def test_full_install_builds_a_venv_whose_posterm_runs(tmp_path: Path) -> None:
    done = install(tmp_path, INSTALL_VENV="1")
    assert done.returncode == 0, done.stderr[-2000:]
    posterm = tmp_path / "opt/posterm/venv/bin/posterm"
    check = subprocess.run(
        [str(posterm), "--config", str(tmp_path / "etc/posterm/posterm.toml"), "config", "check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr
    assert str(tmp_path / "opt/posterm/app/config/default.toml") in check.stderr
