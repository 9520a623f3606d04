"""Shared fixtures: a site config written to a temp folder, free loopback ports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from simulators.loopback import free_port

pytest_plugins = ["tests.fixtures.gateway_sim"]

__all__ = ["free_port"]


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write a site TOML file and return its path."""

    def write(text: str, name: str = "posterm.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--nfc-device",
        default=None,
        metavar="PATH",
        help="run the NFC driver tests against a real reader (nfcpy path, e.g. usb) "
        "instead of the UDP simulator; a person taps a payment card when asked",
    )
