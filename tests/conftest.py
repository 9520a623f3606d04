"""Shared fixtures: a site config written to a temp folder, free loopback ports."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ["tests.fixtures.gateway_sim"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1 that /etc/services does not name (nfcpy's parser)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        try:
            socket.getservbyport(port)
        except OSError:
            return port


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


@pytest.fixture(autouse=True)
def _runner_keeps_its_core_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `posterm` command called in-process (`main([...])`) would clear the test runner's
    dumpable flag and lower its hard core limit to 0 for the rest of the run, which only
    CAP_SYS_RESOURCE can undo; the core-dump tests need a runner whose children may still dump.
    The guard itself is tested in child processes (tests/unit/test_process_guard.py,
    tests/integration/tech/test_tech_core_dumps.py)."""
    monkeypatch.setattr("terminal.cli.forbid_core_dumps", lambda: None)
