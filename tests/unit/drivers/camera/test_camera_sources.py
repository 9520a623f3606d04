"""The camera driver over real OpenCV VideoCapture on files the tests render."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from drivers.base import CameraError, DeviceLost, DeviceNotFound
from drivers.camera import OpenCvCamera, open_camera, parse_camera_device
from simulators.camera import Degradation, empty_frame, render_frame, write_video

from .frames import PAYLOAD, sequence, write_frame_atomically


def test_device_strings_are_read_as_a_technician_writes_them() -> None:
    assert parse_camera_device("0").kind == "index"
    assert parse_camera_device("/dev/video2").kind == "device"
    assert parse_camera_device("clip.avi").kind == "video"
    images = parse_camera_device("frames/%03d.png?fps=15")
    assert (images.kind, images.fps, images.follow) == ("images", 15.0, True)
    assert parse_camera_device("frames/%03d.png?follow=0").follow is False
    assert parse_camera_device("odd?name.avi").target == "odd?name.avi"


def test_no_camera_configured() -> None:
    with pytest.raises(DeviceNotFound, match="No camera is configured"):
        open_camera("none")


def test_unplugged_device_node_is_device_not_found() -> None:
    with pytest.raises(DeviceNotFound, match="No camera answers at /dev/video97"):
        open_camera("/dev/video97")


def test_missing_video_file(tmp_path: Path) -> None:
    with pytest.raises(DeviceNotFound, match="does not exist"):
        open_camera(str(tmp_path / "nothing.avi"))


def test_empty_video_file_is_a_camera_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.avi"
    write_video([], empty)
    with pytest.raises(CameraError, match="has no frames"):
        open_camera(str(empty))


def test_image_sequence_plays_every_frame(tmp_path: Path) -> None:
    frames = [empty_frame(seed=1), render_frame(PAYLOAD, seed=2), empty_frame(seed=3)]
    camera = open_camera(sequence(frames, tmp_path))
    read = list(camera.frames())
    camera.close()
    assert len(read) == 3
    assert read[1].shape == (480, 640, 3)


def test_video_file_plays_and_loops(tmp_path: Path) -> None:
    device = write_video([render_frame(PAYLOAD, seed=i) for i in range(4)], tmp_path / "c.avi")
    camera = open_camera(device + "?loop=1")
    frames = camera.frames()
    got = [next(frames) for _ in range(10)]
    camera.close()
    assert len(got) == 10


def test_fps_paces_file_playback(tmp_path: Path) -> None:
    device = sequence([empty_frame(seed=i) for i in range(6)], tmp_path)
    camera = open_camera(device + "&fps=50")
    start = time.monotonic()
    assert len(list(camera.frames())) == 6
    assert time.monotonic() - start >= 0.1


def test_followed_sequence_reads_frames_as_they_are_written(tmp_path: Path) -> None:
    camera = open_camera(str(tmp_path / "%03d.png"))

    def customer() -> None:
        for number in range(3):
            time.sleep(0.05)
            write_frame_atomically(
                render_frame(PAYLOAD, seed=number), tmp_path / f"{number:03d}.png"
            )

    writer = threading.Thread(target=customer)
    writer.start()
    frames = camera.frames()
    got = [next(frames) for _ in range(3)]
    camera.close()
    writer.join()
    assert [frame.shape for frame in got] == [(480, 640, 3)] * 3


class _UnpluggedCapture:
    """A live camera whose reads start failing, as V4L2 does when the cable is pulled."""

    def __init__(self) -> None:
        self.reads = 0

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        self.reads += 1
        if self.reads <= 2:
            return True, np.zeros((480, 640, 3), np.uint8)
        return False, None

    def set(self, prop: int, value: float) -> bool:
        return True

    def release(self) -> None:
        pass


def test_camera_unplugged_mid_scan_is_device_lost() -> None:
    camera = OpenCvCamera("0", capture_factory=lambda options: _UnpluggedCapture())
    frames = camera.frames()
    next(frames)
    next(frames)
    with pytest.raises(DeviceLost, match="stopped sending pictures"):
        next(frames)


def test_degraded_frames_survive_a_lossy_video(tmp_path: Path) -> None:
    from drivers.qr import open_decoder

    rng = np.random.default_rng(7)
    frames = [render_frame(PAYLOAD, degradation=Degradation.random(rng), seed=i) for i in range(5)]
    camera = open_camera(write_video(frames, tmp_path / "deg.avi"))
    decoder = open_decoder("zxing")
    found = [any(c.text == PAYLOAD for c in decoder.decode(f)) for f in camera.frames()]
    assert sum(found) >= 4


def test_followed_sequence_starts_at_what_the_camera_sees_now(tmp_path: Path) -> None:
    for number in range(3):
        write_frame_atomically(empty_frame(seed=number), tmp_path / f"{number:03d}.png")
        time.sleep(0.01)
    camera = open_camera(str(tmp_path / "%03d.png"))
    frames = camera.frames()
    first = next(frames)  # the newest frame only: older ones are the past

    def restart_numbering() -> None:
        time.sleep(0.05)
        write_frame_atomically(render_frame(PAYLOAD), tmp_path / "000.png")

    writer = threading.Thread(target=restart_numbering)
    writer.start()
    second = next(frames)
    camera.close()
    writer.join()
    assert np.array_equal(first, empty_frame(seed=2))
    assert not np.array_equal(second, empty_frame(seed=0))
