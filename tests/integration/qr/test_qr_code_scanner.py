"""The engine's CodeScanner over the simulated camera: worker thread, cancel, typed errors."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drivers.camera.simulate import empty_frame, render_frame, write_image_sequence
from terminal.money import Amount
from terminal.payment.api import CodePresenter, CodeScanner
from terminal.wiring.camera import (
    CameraCodeScanner,
    CameraUnavailable,
    CodePresenters,
    LineDisplayPresenter,
    NoCodeScanned,
    ScanCancelled,
    ScreenCodePresenter,
)
from tests.drivers.camera.frames import PAYLOAD, write_frame_atomically


def scanner_for(device: str) -> CodeScanner:
    return CameraCodeScanner(device, decoder="zxing")


async def test_scan_returns_the_customer_code(tmp_path: Path) -> None:
    device = write_image_sequence(
        [empty_frame(seed=1), empty_frame(seed=2), render_frame(PAYLOAD, seed=3)], tmp_path
    )
    text = await scanner_for(device + "?follow=0").scan(asyncio.Event(), timeout_s=5)
    assert text == PAYLOAD


async def test_scan_waits_for_the_customer_without_blocking_the_loop(tmp_path: Path) -> None:
    scanner = scanner_for(str(tmp_path / "%03d.png"))
    ticks = 0

    async def clock() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    def customer() -> None:
        time.sleep(0.3)
        write_frame_atomically(render_frame(PAYLOAD), tmp_path / "000.png")

    ticker = asyncio.create_task(clock())
    threading.Thread(target=customer).start()
    text = await scanner.scan(asyncio.Event(), timeout_s=5)
    ticker.cancel()
    assert text == PAYLOAD
    assert ticks >= 10  # the event loop kept running while the camera thread waited


async def test_operator_cancel_stops_the_scan_quickly(tmp_path: Path) -> None:
    cancel = asyncio.Event()
    asyncio.get_running_loop().call_later(0.1, cancel.set)
    start = time.monotonic()
    with pytest.raises(ScanCancelled, match="nothing was charged"):
        await scanner_for(str(tmp_path / "%03d.png")).scan(cancel, timeout_s=30)
    assert time.monotonic() - start < 2


async def test_no_code_in_time_is_a_sentence_not_a_crash(tmp_path: Path) -> None:
    device = write_image_sequence([empty_frame(seed=i) for i in range(10)], tmp_path)
    with pytest.raises(NoCodeScanned, match=r"No payment code was seen within 0\.2 s") as caught:
        await scanner_for(device + "?loop=1&follow=0").scan(asyncio.Event(), timeout_s=0.2)
    assert caught.value.exit_code == 1


async def test_missing_camera_is_camera_unavailable() -> None:
    with pytest.raises(CameraUnavailable, match="No camera answers at /dev/video96") as caught:
        await scanner_for("/dev/video96").scan(asyncio.Event(), timeout_s=1)
    assert caught.value.exit_code == 3


async def test_code_still_held_up_after_a_rejection_is_not_read_twice(tmp_path: Path) -> None:
    device = write_image_sequence([render_frame(PAYLOAD, seed=i) for i in range(5)], tmp_path)
    scanner = scanner_for(device + "?follow=0")
    assert await scanner.scan(asyncio.Event(), timeout_s=5) == PAYLOAD
    with pytest.raises(NoCodeScanned):
        await scanner.scan(asyncio.Event(), timeout_s=5)


class RecordingDisplay:
    def __init__(self) -> None:
        self.shown: list[list[str]] = []
        self.cleared = 0

    def show(self, lines: list[str]) -> None:
        self.shown.append(lines)

    def clear(self) -> None:
        self.cleared += 1


def test_presenters_draw_the_code_and_prompt_the_customer() -> None:
    written: list[str] = []
    display = RecordingDisplay()
    presenter: CodePresenter = CodePresenters(
        [ScreenCodePresenter(written.append), LineDisplayPresenter(display)]
    )
    presenter.show(PAYLOAD, Amount.of(1234, "EUR"), datetime.now(UTC) + timedelta(minutes=2))
    assert re.search(r"pay EUR 12\.34 \(valid until \d\d:\d\d:\d\d\)", written[0])
    assert "█" in written[0]
    assert display.shown == [["PAY EUR 12.34", "SCAN THE QR CODE"]]
    presenter.clear()
    assert display.cleared == 1
