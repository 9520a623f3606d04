"""The engine's CodeScanner over the simulated camera: worker thread, cancel, typed errors."""

from __future__ import annotations

import asyncio
import base64
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drivers.base import Cancelled, DeviceNotFound, Timeout
from simulators.camera import empty_frame, render_frame, write_image_sequence
from terminal.money import Amount
from terminal.payment.api import CodePresenter, CodeScanner
from terminal.settings import load_settings
from terminal.wiring.camera import (
    CameraCodeScanner,
    CodePresenters,
    LineDisplayPresenter,
    TextCodePresenter,
    code_presenter,
    code_scanner,
)
from tests.unit.drivers.camera.frames import PAYLOAD as SHOP_CODE
from tests.unit.drivers.camera.frames import write_frame_atomically


def cpm(token: str = "4761739001010119") -> str:
    """A consumer-presented code like the simulator wallet's one-time codes."""

    def tlv(tag: str, value: bytes) -> bytes:
        return bytes.fromhex(tag) + bytes([len(value)]) + value

    app = tlv("4F", bytes.fromhex("A0000000031010")) + tlv("5A", bytes.fromhex(token))
    return base64.b64encode(tlv("85", b"CPV01") + tlv("61", app)).decode()


CUSTOMER_CODE = cpm()


def scanner_for(device: str, rejected: list[str] | None = None) -> CameraCodeScanner:
    sink = rejected if rejected is not None else []
    return CameraCodeScanner(device, decoder="zxing", on_rejected=sink.append)


async def test_scan_returns_the_customer_code(tmp_path: Path) -> None:
    device = write_image_sequence(
        [empty_frame(seed=1), empty_frame(seed=2), render_frame(CUSTOMER_CODE, seed=3)], tmp_path
    )
    scanner: CodeScanner = scanner_for(device + "?follow=0")
    assert await scanner.scan(asyncio.Event(), timeout_s=5) == CUSTOMER_CODE


async def test_a_shop_code_is_refused_and_scanning_goes_on(tmp_path: Path) -> None:
    frames = [render_frame(SHOP_CODE, seed=i) for i in range(3)] + [
        render_frame(CUSTOMER_CODE, seed=9)
    ]
    rejected: list[str] = []
    scanner = scanner_for(write_image_sequence(frames, tmp_path) + "?follow=0", rejected)
    assert await scanner.scan(asyncio.Event(), timeout_s=5) == CUSTOMER_CODE
    assert rejected == [
        "That is a shop's payment code, not the customer's: ask the customer to open the pay "
        "code in their banking or wallet app. Scanning again."
    ]


async def test_only_a_web_address_in_view_times_out_with_the_reason(tmp_path: Path) -> None:
    frames = [render_frame("https://example.com/menu", seed=i) for i in range(3)]
    scanner = scanner_for(write_image_sequence(frames, tmp_path) + "?follow=0")
    with pytest.raises(Timeout, match=r"web address, not a payment code\. No payment code"):
        await scanner.scan(asyncio.Event(), timeout_s=5)


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
        write_frame_atomically(render_frame(CUSTOMER_CODE), tmp_path / "000.png")

    ticker = asyncio.create_task(clock())
    threading.Thread(target=customer).start()
    text = await scanner.scan(asyncio.Event(), timeout_s=5)
    ticker.cancel()
    assert text == CUSTOMER_CODE
    assert ticks >= 10  # the event loop kept running while the camera thread waited


async def test_operator_cancel_stops_the_scan_quickly(tmp_path: Path) -> None:
    cancel = asyncio.Event()
    asyncio.get_running_loop().call_later(0.1, cancel.set)
    start = time.monotonic()
    with pytest.raises(Cancelled):
        await scanner_for(str(tmp_path / "%03d.png")).scan(cancel, timeout_s=30)
    assert time.monotonic() - start < 2


async def test_no_code_in_time_is_a_timeout_with_a_sentence(tmp_path: Path) -> None:
    device = write_image_sequence([empty_frame(seed=i) for i in range(10)], tmp_path)
    with pytest.raises(Timeout, match=r"No payment code was seen within 0\.2 s"):
        await scanner_for(device + "?loop=1&follow=0").scan(asyncio.Event(), timeout_s=0.2)


async def test_missing_camera_is_device_not_found() -> None:
    with pytest.raises(DeviceNotFound, match="No camera answers at /dev/video96"):
        await scanner_for("/dev/video96").scan(asyncio.Event(), timeout_s=1)


async def test_code_still_held_up_after_a_rejection_is_not_read_twice(tmp_path: Path) -> None:
    device = write_image_sequence([render_frame(CUSTOMER_CODE, seed=i) for i in range(5)], tmp_path)
    scanner = scanner_for(device + "?follow=0")
    assert await scanner.scan(asyncio.Event(), timeout_s=5) == CUSTOMER_CODE
    with pytest.raises(Timeout):
        await scanner.scan(asyncio.Event(), timeout_s=5)


def test_wiring_from_settings(tmp_path: Path) -> None:
    assert code_scanner(load_settings(environ={})) is None  # devices.camera = "none"
    settings = load_settings(
        environ={
            "POSTERM_DEVICES__CAMERA": str(tmp_path / "%03d.png"),
            "POSTERM_QR__DECODER": "pyzbar",
        }
    )
    scanner = code_scanner(settings)
    assert scanner is not None and scanner.decoder_name == "pyzbar"
    written: list[str] = []
    presenter = code_presenter(settings, written.append)
    presenter.show(SHOP_CODE, Amount.of(500, "EUR"), datetime.now(UTC) + timedelta(minutes=2))
    assert "pay EUR 5.00" in written[0]


class RecordingDisplay:
    columns = 20
    rows = 2

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
        [TextCodePresenter(written.append), LineDisplayPresenter(display)]
    )
    presenter.show(SHOP_CODE, Amount.of(1234, "EUR"), datetime.now(UTC) + timedelta(minutes=2))
    assert re.search(r"pay EUR 12\.34 \(valid until \d\d:\d\d:\d\d\)", written[0])
    assert "█" in written[0]
    assert display.shown == [["PAY EUR 12.34", "SCAN THE QR CODE"]]
    presenter.clear()
    assert display.cleared == 1


async def test_a_camera_folder_nobody_writes_to_still_times_out(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(Timeout, match="camera gave no pictures"):
        await scanner_for(str(tmp_path / "%03d.png")).scan(asyncio.Event(), timeout_s=0.3)
    assert time.monotonic() - start < 2


def test_qr_show_prompts_on_the_serial_customer_display(tmp_path: Path) -> None:
    """The real pole-display driver over pyserial's socket:// to a device that records bytes."""
    import socket

    from tests.conftest import free_port

    port = free_port()
    received = bytearray()
    server = socket.create_server(("127.0.0.1", port))

    def device() -> None:
        connection, _ = server.accept()
        with connection:
            while chunk := connection.recv(4096):
                received.extend(chunk)

    listener = threading.Thread(target=device, daemon=True)
    listener.start()
    settings = load_settings(environ={"POSTERM_DEVICES__DISPLAY": f"socket://127.0.0.1:{port}"})
    written: list[str] = []
    presenter = code_presenter(settings, written.append)
    presenter.show(SHOP_CODE, Amount.of(1234, "EUR"), datetime.now(UTC) + timedelta(minutes=2))
    presenter.clear()
    deadline = time.monotonic() + 5
    while b"SCAN THE QR CODE" not in received and time.monotonic() < deadline:
        time.sleep(0.02)
    server.close()
    assert b"PAY EUR 12.34" in received
    assert b"SCAN THE QR CODE" in received
    assert "Payment code: " + SHOP_CODE in written[0]
