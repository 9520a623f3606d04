"""The technician screen (F12 on the sale screen): technician PIN through the shared guard,
then the configuration with secrets redacted and the same device probes as
`posterm devices probe`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from simulators.printer import FakePrinter
from terminal.security.audit import AuditLog
from terminal.settings import Settings
from terminal.ui.app import PostermApp, build_app
from terminal.ui.screens.help import help_text
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.screens.technician import TechnicianScreen
from tests.ui.helpers import cheap_pin_hash, screen_text, text_of, type_keys, until
from tests.ui.memory_engine import MemoryEngine

PIN = "2468"
PIN_HASH = cheap_pin_hash(PIN)
TILL_TOKEN = "till-token-0123456789-secret"
CLOSED_GATEWAY = "http://127.0.0.1:1"  # nothing listens on port 1: a refused connection


def technician_app(
    data_dir: Path | str, printer: str = "none", pin_hash: str = PIN_HASH
) -> PostermApp:
    conf = Settings.model_validate(
        {
            "terminal": {"data_dir": str(data_dir)},
            "ui": {"technician_pin_hash": pin_hash},
            "ecr": {"token": TILL_TOKEN},
            "gateway": {"url": CLOSED_GATEWAY},
            "devices": {"nfc": "none", "camera": "none", "printer": printer, "display": "none"},
        }
    )
    return build_app(conf, MemoryEngine())


async def open_technician(pilot: Pilot[Any]) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, SaleScreen))
    await pilot.press("f12")
    await until(pilot, lambda: isinstance(pilot.app.screen, TechnicianScreen))


async def enter_pin(pilot: Pilot[Any], pin: str) -> None:
    await type_keys(pilot, pin)
    await pilot.press("enter")
    await pilot.pause()
    await until(pilot, lambda: not pilot.app.screen.busy)


def test_the_help_screen_lists_the_technician_key() -> None:
    assert "F12" in help_text() and "technician PIN" in help_text()


async def test_wrong_pin_is_refused_and_audited(tmp_path: Path) -> None:
    app = technician_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await open_technician(pilot)
        await enter_pin(pilot, "1111")
        assert "Wrong technician PIN" in text_of(pilot, "#pin-result")
        assert TILL_TOKEN not in screen_text(pilot)
        assert "[terminal]" not in text_of(pilot, "#config")
        assert not app.screen.unlocked  # type: ignore[attr-defined]
    records = AuditLog(tmp_path).records()
    assert [r.action for r in records] == ["pin.rejected"]
    assert records[0].details["pin"] == "technician"
    assert records[0].details["purpose"] == "technician screen"


async def test_repeated_wrong_pins_lock_out_even_the_right_one(tmp_path: Path) -> None:
    app = technician_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await open_technician(pilot)
        for _ in range(3):
            await enter_pin(pilot, "1111")
        assert "Too many wrong PINs" in text_of(pilot, "#pin-result")
        await enter_pin(pilot, PIN)
        assert "Too many wrong PINs" in text_of(pilot, "#pin-result")
        assert not app.screen.unlocked  # type: ignore[attr-defined]
    actions = [r.action for r in AuditLog(tmp_path).records()]
    assert actions == ["pin.rejected"] * 3 + ["pin.locked_out"]


async def test_right_pin_shows_redacted_config_and_probe_results(tmp_path: Path) -> None:
    with FakePrinter() as printer:
        app = technician_app(tmp_path, printer=printer.url)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await open_technician(pilot)
            await enter_pin(pilot, PIN)
            assert app.screen.unlocked  # type: ignore[attr-defined]
            config = text_of(pilot, "#config")
            assert "[ecr]" in config and "<redacted>" in config
            assert TILL_TOKEN not in screen_text(pilot) and PIN_HASH not in screen_text(pilot)
            assert printer.url in config
            await until(pilot, lambda: "gateway" in text_of(pilot, "#probes"), timeout=20)
            probes = text_of(pilot, "#probes")
            printer_line = next(line for line in probes.splitlines() if "printer" in line)
            assert printer_line.startswith("✔")
            gateway_line = next(line for line in probes.splitlines() if "gateway" in line)
            assert gateway_line.startswith("✘")
            assert "Fix:" in probes
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, SaleScreen))
    assert [r.action for r in AuditLog(tmp_path).records()] == ["pin.accepted"]


async def test_without_a_technician_pin_the_screen_says_how_to_set_one(tmp_path: Path) -> None:
    app = technician_app(tmp_path, pin_hash="")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await open_technician(pilot)
        assert "posterm pin set technician" in text_of(pilot, "#pin-result")
        assert not app.screen.query("#config")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SaleScreen))


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # a relative data_dir keeps the snapshot free of tmp paths
    return tmp_path


def test_technician_screen_snapshot(snap_compare: Any, in_tmp: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await open_technician(pilot)
        await enter_pin(pilot, PIN)
        await until(pilot, lambda: "gateway" in text_of(pilot, "#probes"), timeout=20)

    assert snap_compare(technician_app("data"), run_before=run_before, terminal_size=(80, 24))
