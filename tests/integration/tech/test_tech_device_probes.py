"""`posterm devices probe` on simulated and missing hardware: found / opened / self-test, and
the fix for every failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.probe.camera import probe_camera
from drivers.probe.nfc_reader import probe_reader
from drivers.probe.serial_devices import decode_printer_status, probe_display, probe_printer
from tests.conftest import free_port
from tests.integration.tech.fakes import (
    FakeDisplay,
    FakeEscPosPrinter,
    PtyPrinter,
    render_frames,
    silent_udp_peer,
    simulated_card,
)


@pytest.fixture
def printer() -> Iterator[FakeEscPosPrinter]:
    fake = FakeEscPosPrinter()
    yield fake
    fake.close()


# -- reader ----------------------------------------------------------------------------------
def test_reader_pointed_at_nothing_names_the_problem_and_the_fix() -> None:
    result = probe_reader(f"udp:localhost:{free_port()}")
    assert not result.healthy and result.found is False
    assert "nothing is listening" in result.problem
    assert "start the card simulator" in result.fix


def test_simulated_reader_opens_and_senses_for_about_two_seconds() -> None:
    with silent_udp_peer() as path:
        result = probe_reader(path, sense_seconds=0.5)
    assert result.healthy and result.found and result.opened
    assert "no card presented" in result.self_test


def test_simulated_payment_card_is_seen_and_answers_select_ppse() -> None:
    with simulated_card("visa-credit") as path:
        result = probe_reader(path)
    assert result.healthy and result.opened
    assert "SELECT PPSE answered 9000" in result.self_test
    assert result.details["sensed_s"] < 2


def test_probe_says_whether_the_reader_refuses_two_cards(monkeypatch: pytest.MonkeyPatch) -> None:
    with silent_udp_peer() as path:
        result = probe_reader(path, sense_seconds=0.2)
    assert result.details["counts_cards"] is False  # nfcpy's UDP front end hands back one card
    assert "cannot tell two cards in the field apart" in result.self_test
    monkeypatch.setattr("drivers.nfc.collision.can_count_cards", lambda device: True)
    with silent_udp_peer() as path:
        result = probe_reader(path, sense_seconds=0.2)
    assert result.details["counts_cards"] is True
    assert "two cards in the field are refused" in result.self_test


def test_a_tag_that_is_no_payment_card_is_named_as_such() -> None:
    with simulated_card("not-emv") as path:
        result = probe_reader(path)
    assert result.healthy  # the reader works; the card is the wrong kind
    assert "not" in result.details["ppse"] and "payment card" in result.details["ppse"]


def test_usb_reader_absent_tells_to_plug_it_in() -> None:
    result = probe_reader("usb:04e6:5591")
    assert not result.healthy and result.found is False
    assert "plug the reader in" in result.fix


def test_serial_reader_on_a_missing_port() -> None:
    result = probe_reader("tty:USB9:pn532")
    assert not result.healthy and "/dev/ttyUSB9" in result.problem


def test_reader_set_to_none_is_not_configured_and_not_a_failure() -> None:
    result = probe_reader("none")
    assert result.healthy and result.found is None and "not configured" in result.self_test


# -- camera ----------------------------------------------------------------------------------
def test_image_sequence_camera_reports_resolution_and_frame_rate(tmp_path: Path) -> None:
    result = probe_camera(render_frames(tmp_path, 5))
    assert result.healthy and result.opened
    assert result.details["width"] == 640 and result.details["height"] == 480
    assert result.details["frames"] == 5 and result.details["fps"] > 0
    assert "640×480" in result.self_test


def test_low_resolution_camera_is_healthy_with_a_warning(tmp_path: Path) -> None:
    result = probe_camera(render_frames(tmp_path, 2, size=(320, 240)))
    assert result.healthy and result.details["warning"] == "low resolution"


def test_missing_camera_file_and_device(tmp_path: Path) -> None:
    missing_file = probe_camera(str(tmp_path / "absent" / "none-%03d.png"))
    assert not missing_file.healthy and missing_file.found is False
    missing_device = probe_camera("/dev/video97")
    assert not missing_device.healthy and "plug the camera in" in missing_device.fix


def test_file_that_is_not_video_is_found_but_not_opened(tmp_path: Path) -> None:
    junk = tmp_path / "clip.mp4"
    junk.write_bytes(b"this is not a video")
    result = probe_camera(str(junk))
    assert not result.healthy and result.found is True and not result.opened


# -- printer ---------------------------------------------------------------------------------
def test_printer_online_with_paper_is_healthy(printer: FakeEscPosPrinter) -> None:
    result = probe_printer(printer.url)
    assert result.healthy and result.self_test == "status: online, paper OK"
    assert bytes(printer.received) == b"\x10\x04\x01\x10\x04\x02\x10\x04\x04"


def test_printer_out_of_paper(printer: FakeEscPosPrinter) -> None:
    printer.status[4] = 0x12 | 0x60
    result = probe_printer(printer.url)
    assert not result.healthy and "paper out" in result.problem and "load paper" in result.fix


def test_printer_offline_with_cover_open(printer: FakeEscPosPrinter) -> None:
    printer.status[1] = 0x12 | 0x08
    printer.status[2] = 0x12 | 0x04
    result = probe_printer(printer.url)
    assert result.problem == "printer offline, cover open"


def test_printer_paper_low_is_healthy_but_said(printer: FakeEscPosPrinter) -> None:
    printer.status[4] = 0x12 | 0x0C
    result = probe_printer(printer.url)
    assert result.healthy and "paper low" in result.self_test


def test_printer_that_does_not_answer(printer: FakeEscPosPrinter) -> None:
    printer.silent = True
    result = probe_printer(printer.url)
    assert not result.healthy and result.opened and "did not answer" in result.problem
    assert "one connection at a time" in result.fix


def test_printer_nothing_listening() -> None:
    result = probe_printer(f"socket://127.0.0.1:{free_port()}")
    assert not result.healthy and result.found is False
    assert "nothing is listening" in result.problem


def test_printer_on_a_serial_device_node() -> None:
    printer = PtyPrinter()
    try:
        result = probe_printer(f"{printer.path}?baudrate=19200")
    finally:
        printer.close()
    assert result.healthy and result.self_test == "status: online, paper OK"


def test_serial_port_held_by_another_program_is_busy() -> None:
    import serial

    printer = PtyPrinter()
    holder = serial.Serial(printer.path, exclusive=True)
    try:
        result = probe_printer(printer.path)
    finally:
        holder.close()
        printer.close()
    assert not result.healthy and result.found is True
    assert "busy" in result.problem and "systemctl stop posterm" in result.fix


def test_printer_port_that_echoes_is_no_printer() -> None:
    result = probe_printer("loop://")
    assert not result.healthy and "echoes" in result.problem


def test_printer_on_a_missing_serial_port() -> None:
    result = probe_printer("/dev/ttyUSB97?baudrate=19200")
    assert not result.healthy and result.found is False and "/dev/ttyUSB97" in result.problem


def test_any_status_byte_decodes_to_words_never_a_crash() -> None:
    for value in range(256):
        problems = decode_printer_status(value, value, value)
        assert all(isinstance(p, str) and p for p in problems)
    assert decode_printer_status(0x12, 0x12, 0x12) == []


# -- display ---------------------------------------------------------------------------------
def test_display_that_echoes_is_checked() -> None:
    display = FakeDisplay(echo=True)
    try:
        result = probe_display(display.url)
    finally:
        display.close()
    assert result.healthy and "echoed the test text" in result.self_test
    assert b"POSTERM PROBE" in display.received


def test_display_that_stays_silent_asks_to_look_at_it() -> None:
    display = FakeDisplay(echo=False)
    try:
        result = probe_display(display.url)
    finally:
        display.close()
    assert result.healthy and "check that POSTERM PROBE shows" in result.self_test


def test_display_nothing_listening() -> None:
    result = probe_display(f"socket://127.0.0.1:{free_port()}")
    assert not result.healthy and result.found is False


def test_followed_image_sequence_without_frames_yet_is_waiting_not_broken(tmp_path: Path) -> None:
    result = probe_camera(str(tmp_path / "frame-%03d.png"))
    assert result.healthy and result.details["followed"] is True
    assert "no frames yet" in result.self_test


def test_camera_options_after_the_path_are_not_part_of_it(tmp_path: Path) -> None:
    device = render_frames(tmp_path, 3) + "?fps=15&follow=0"
    result = probe_camera(device)
    assert result.healthy and result.device == device and result.details["frames"] == 3
    assert not probe_camera(str(tmp_path / "nope" / "f-%03d.png?follow=0")).healthy
