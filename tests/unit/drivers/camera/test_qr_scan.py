"""Decoders and the bounded scan on frames a simulated camera delivers."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.base import Cancelled, DeviceNotFound, DriverError, Timeout
from drivers.camera import open_camera
from drivers.qr import (
    CodeDeduplicator,
    MultipleCodes,
    RegionOfInterest,
    open_decoder,
    scan_for_code,
)
from simulators.camera import empty_frame, render_frame

from .frames import PAYLOAD, sequence

CHINESE = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678"
    "520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京"
    "540523.7253031565502016233030412340603***0708A60086670902ME"
    "91320016A0112233449988770708123456786304A13A"
)


@pytest.mark.parametrize("name", ["zxing", "pyzbar", "opencv"])
def test_every_decoder_reads_a_clean_frame(name: str) -> None:
    assert [c.text for c in open_decoder(name).decode(render_frame(PAYLOAD))] == [PAYLOAD]


@pytest.mark.parametrize("name", ["zxing", "pyzbar"])
def test_utf8_merchant_text_is_decoded_as_utf8(name: str) -> None:
    assert [c.text for c in open_decoder(name).decode(render_frame(CHINESE))] == [CHINESE]


def test_unknown_decoder_name() -> None:
    with pytest.raises(DeviceNotFound, match="choose one of zxing, pyzbar, opencv"):
        open_decoder("tesseract")


@pytest.mark.parametrize("name", ["zxing", "pyzbar", "opencv"])
def test_one_pixel_image_decodes_to_nothing(name: str, tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    cv2.imwrite(str(path), np.full((1, 1, 3), 255, np.uint8))
    camera = open_camera(str(path))
    frames = list(camera.frames())
    assert [f.shape for f in frames] == [(1, 1, 3)]
    assert open_decoder(name).decode(frames[0]) == []


def test_one_pixel_image_scan_times_out_with_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    cv2.imwrite(str(path), np.zeros((1, 1, 3), np.uint8))
    with pytest.raises(Timeout, match="No payment code was seen within 5 s"):
        scan_for_code(open_camera(str(path)), open_decoder("zxing"), timeout_s=5)


def test_scan_returns_the_code_once_it_enters_the_view(tmp_path: Path) -> None:
    frames = [empty_frame(seed=i) for i in range(3)] + [render_frame(PAYLOAD, seed=9)] * 2
    camera = open_camera(sequence(frames, tmp_path))
    code = scan_for_code(camera, open_decoder("zxing"), timeout_s=5)
    assert code.text == PAYLOAD
    assert camera.frames_read == 4


def test_image_with_two_codes_is_refused_not_guessed(tmp_path: Path) -> None:
    other = PAYLOAD.replace("INV42", "INV43")
    frame = render_frame([PAYLOAD, other], size=(1280, 720), module_px=4)
    assert len(open_decoder("zxing").decode(frame)) == 2
    camera = open_camera(sequence([frame] * 3, tmp_path))
    with pytest.raises(MultipleCodes, match="show only the payment code"):
        scan_for_code(camera, open_decoder("zxing"), timeout_s=5)


def test_scan_of_an_empty_view_times_out(tmp_path: Path) -> None:
    camera = open_camera(sequence([empty_frame(seed=i) for i in range(40)], tmp_path) + "&loop=1")
    with pytest.raises(Timeout, match=r"within 0\.3 s"):
        scan_for_code(camera, open_decoder("zxing"), timeout_s=0.3)


def test_scan_is_cancellable_from_another_thread(tmp_path: Path) -> None:
    camera = open_camera(str(tmp_path / "%03d.png"))  # followed, nothing written yet
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    threading.Timer(0.15, camera.close).start()
    with pytest.raises(Cancelled):
        scan_for_code(camera, open_decoder("zxing"), timeout_s=10, cancel=cancel)


def test_same_code_over_consecutive_frames_is_one_event() -> None:
    dedup = CodeDeduplicator(hold_frames=3)
    seen = [dedup.fresh(["A"]) for _ in range(10)]
    assert seen == [["A"]] + [[]] * 9
    for _ in range(4):
        dedup.fresh([])
    assert dedup.fresh(["A"]) == ["A"]


def test_rejected_code_still_in_view_is_not_reported_again(tmp_path: Path) -> None:
    frames = [render_frame(PAYLOAD, seed=i) for i in range(6)]
    dedup = CodeDeduplicator()
    decoder = open_decoder("zxing")
    first = scan_for_code(
        open_camera(sequence(frames, tmp_path / "a")), decoder, timeout_s=5, dedup=dedup
    )
    assert first.text == PAYLOAD
    with pytest.raises(Timeout):
        scan_for_code(
            open_camera(sequence(frames, tmp_path / "b")), decoder, timeout_s=5, dedup=dedup
        )


def test_region_of_interest_limits_the_search() -> None:
    frame = render_frame([PAYLOAD, PAYLOAD.replace("INV42", "INV43")], size=(1280, 720))
    left = RegionOfInterest.parse("0,0,0.5,1").crop(frame)
    right = RegionOfInterest.parse("0.5,0,0.5,1").crop(frame)
    decoder = open_decoder("zxing")
    assert [c.text for c in decoder.decode(left)] == [PAYLOAD]
    assert [c.text for c in decoder.decode(right)] == [PAYLOAD.replace("INV42", "INV43")]


@pytest.mark.parametrize("text", ["0.5,0.5", "a,b,c,d", "0.5,0,0.8,1"])
def test_bad_region_of_interest(text: str) -> None:
    with pytest.raises(DriverError, match="Region of interest"):
        RegionOfInterest.parse(text)
