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


_MACHINE_FOLDERS = (Path("/var/lib/posterm"), Path("/etc/posterm"))
"""The default data and configuration folders of a real install: tests must never write there
(a run that leaves files behind changes what the next run on the same machine sees)."""


@pytest.fixture(autouse=True, scope="session")
def _machine_folders_untouched() -> object:
    before = {folder: folder.exists() for folder in _MACHINE_FOLDERS}
    yield
    created = [str(folder) for folder, existed in before.items() if folder.exists() and not existed]
    if created:
        pytest.fail(f"the test run created {', '.join(created)}: use a temporary folder")


@pytest.fixture(autouse=True)
def _runner_keeps_its_core_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `posterm` command called in-process (`main([...])`) would clear the test runner's
    dumpable flag and lower its hard core limit to 0 for the rest of the run, which only
    CAP_SYS_RESOURCE can undo; the core-dump tests need a runner whose children may still dump.
    The guard itself is tested in child processes (tests/integration/tech/test_process_guard.py,
    tests/integration/tech/test_tech_core_dumps.py)."""
    monkeypatch.setattr("terminal.cli.forbid_core_dumps", lambda: None)
