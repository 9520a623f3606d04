"""A camera file or image sequence in the site file is relative to that file, like every
other path: `make demo` run from anywhere writes and reads the same frames."""

from __future__ import annotations

from pathlib import Path

from terminal.settings import load_settings


def test_relative_image_sequence_is_resolved_against_the_config_file(tmp_path: Path) -> None:
    site = tmp_path / "config" / "site.toml"
    site.parent.mkdir()
    site.write_text('[devices]\ncamera = "../var/camera/frame-%03d.png?follow=1"\n')
    settings = load_settings(site, environ={})
    assert settings.devices.camera == f"{tmp_path}/var/camera/frame-%03d.png?follow=1"


def test_camera_indexes_devices_and_absolute_paths_are_left_alone(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    for value in ("0", "/dev/video2", "/srv/frames/%03d.png", "none"):
        site.write_text(f'[devices]\ncamera = "{value}"\n')
        assert load_settings(site, environ={}).devices.camera == value
