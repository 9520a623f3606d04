"""SVG snapshots of the main screens at 80 × 24 (pytest-textual-snapshot).

Update after a deliberate change with `pytest tests/ui/test_snapshots.py --snapshot-update`,
then look at the SVGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from terminal.settings import Settings
from terminal.ui.app import PostermApp, build_app
from tests.ui.helpers import text_of, until
from tests.ui.memory_engine import MemoryEngine

SnapCompare = Any


@pytest.fixture
def engine() -> MemoryEngine:
    engine = MemoryEngine()
    engine.code_lifetime_s = None
    return engine


def app_for(engine: MemoryEngine, tmp_path: Path, **ui: object) -> PostermApp:
    conf = Settings.model_validate({"terminal": {"data_dir": str(tmp_path)}, "ui": ui})
    return build_app(conf, engine)


async def sell(pilot: Pilot[Any], engine: MemoryEngine, keys: str) -> None:
    await pilot.press(*keys)
    await pilot.press("enter")
    await until(pilot, lambda: len(engine.requests) > len(engine.rows))
    engine.tap()
    await until(pilot, lambda: pilot.app.screen.phase == "result")  # type: ignore[attr-defined]


def test_sale_screen_ready(snap_compare: SnapCompare, engine: MemoryEngine, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press(*"1234")

    assert snap_compare(app_for(engine, tmp_path), run_before=run_before)


def test_sale_waiting_for_card(
    snap_compare: SnapCompare, engine: MemoryEngine, tmp_path: Path
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press(*"4250", "enter")
        await until(pilot, lambda: "Present card" in text_of(pilot, "#stage"))

    assert snap_compare(app_for(engine, tmp_path), run_before=run_before)


def test_sale_approved(snap_compare: SnapCompare, engine: MemoryEngine, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await sell(pilot, engine, "1234")

    assert snap_compare(app_for(engine, tmp_path), run_before=run_before)


def test_sale_declined(snap_compare: SnapCompare, engine: MemoryEngine, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await sell(pilot, engine, "1251")

    assert snap_compare(app_for(engine, tmp_path), run_before=run_before)


def test_merchant_code(snap_compare: SnapCompare, engine: MemoryEngine, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press(*"1234", "q")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "QrScreen")

    assert snap_compare(app_for(engine, tmp_path), run_before=run_before)


def test_history(snap_compare: SnapCompare, engine: MemoryEngine, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await sell(pilot, engine, "1234")
        await pilot.press("enter")
        await sell(pilot, engine, "1251")
        await pilot.press("enter", "h")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "HistoryScreen")

    assert snap_compare(app_for(engine, tmp_path), run_before=run_before)


def test_transaction_details(
    snap_compare: SnapCompare, engine: MemoryEngine, tmp_path: Path
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await sell(pilot, engine, "1234")
        await pilot.press("enter", "h")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "HistoryScreen")
        await pilot.press("enter")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "TransactionScreen")

    assert snap_compare(app_for(engine, tmp_path), run_before=run_before)


def test_end_of_day(snap_compare: SnapCompare, engine: MemoryEngine, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        for keys in ("1234", "2500", "1251"):
            await sell(pilot, engine, keys)
            await pilot.press("enter")
        await pilot.press("e")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "EndOfDayScreen")
        await pilot.pause()

    assert snap_compare(app_for(engine, tmp_path), run_before=run_before)


def test_help(snap_compare: SnapCompare, engine: MemoryEngine, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press("f1")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen")

    assert snap_compare(app_for(engine, tmp_path), run_before=run_before)


def test_sale_screen_in_chinese(
    snap_compare: SnapCompare, engine: MemoryEngine, tmp_path: Path
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await sell(pilot, engine, "8800")

    assert snap_compare(app_for(engine, tmp_path, language="zh"), run_before=run_before)


def test_tip_prompt(snap_compare: SnapCompare, engine: MemoryEngine, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press(*"4000", "enter")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "TipScreen")

    assert snap_compare(app_for(engine, tmp_path, tip_presets=[5, 10, 15]), run_before=run_before)
