"""`OpenCvCamera`: frames from `cv2.VideoCapture`, with typed errors and pacing for files."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import numpy as np

from drivers.base import CameraError, DeviceLost, DeviceNotFound, Frame

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
import cv2

_OPTION_KEYS = frozenset({"fps", "loop", "width", "height", "follow"})
_DEV_NODE = re.compile(r"/dev/video\d+")
FOLLOW_POLL_S = 0.02
"""How often a followed image sequence looks for its next file."""
LIVE_READ_FAILURES = 15
"""Consecutive failed reads after which a live camera counts as unplugged (~0.5 s at 30 fps)."""


@dataclass(frozen=True, slots=True)
class CameraOptions:
    """What a device string says: where the frames come from and how to play them."""

    kind: str
    """index, device, video, images."""
    target: str
    fps: float = 0.0
    """Files only: frames per second to pace playback at (0: as fast as they decode)."""
    loop: bool = False
    width: int = 0
    height: int = 0
    follow: bool = False
    """Image sequences: wait for further files as a simulator writes them (default on)."""

    @property
    def live(self) -> bool:
        return self.kind in ("index", "device")


def parse_camera_device(device: str) -> CameraOptions:
    """Read a device string (see the package doc); raises `DeviceNotFound` for "none"/empty."""
    text = device.strip()
    if text in ("", "none"):
        raise DeviceNotFound(
            "No camera is configured: set devices.camera (e.g. /dev/video0).", device=device
        )
    target, options = _split_options(text)
    fps = _number(options.get("fps", "0"), "fps", device)
    loop = options.get("loop", "0") in ("1", "true", "yes")
    follow = options.get("follow", "1") in ("1", "true", "yes")
    width = int(_number(options.get("width", "0"), "width", device))
    height = int(_number(options.get("height", "0"), "height", device))
    if target.isdigit():
        kind = "index"
    elif _DEV_NODE.fullmatch(target):
        kind = "device"
    elif "%" in target:
        kind = "images"
    else:
        kind = "video"
    return CameraOptions(kind, target, fps, loop, width, height, follow and kind == "images")


def _split_options(text: str) -> tuple[str, dict[str, str]]:
    target, sep, query = text.rpartition("?")
    if not sep:
        return text, {}
    parsed = parse_qs(query, keep_blank_values=True)
    if not parsed or not set(parsed) <= _OPTION_KEYS:
        return text, {}  # a '?' that is part of a file name
    return target, {key: values[-1] for key, values in parsed.items()}


def _number(text: str, key: str, device: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise CameraError(f"Camera option {key}={text!r} is not a positive number.", device=device)
    return value


Capture = Any
"""A `cv2.VideoCapture` (or a stand-in with isOpened/read/release/set in tests)."""


class OpenCvCamera:
    """A `FrameSource` over OpenCV; `close()` may be called from another thread."""

    def __init__(
        self,
        device: str,
        *,
        capture_factory: Callable[[CameraOptions], Capture] | None = None,
    ) -> None:
        self.device = device
        self.options = parse_camera_device(device)
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._factory = capture_factory or _open_capture
        self.frames_read = 0
        self._capture: Capture = None if self.options.follow else self._open()

    def _open(self) -> Capture:
        options = self.options
        if not options.live and options.kind == "video" and not Path(options.target).exists():
            raise DeviceNotFound(
                f"The camera file {options.target} does not exist: check devices.camera.",
                device=self.device,
            )
        capture = self._factory(options)
        if not capture.isOpened():
            capture.release()
            if options.live:
                raise DeviceNotFound(
                    f"No camera answers at {options.target}: check that it is plugged in "
                    "and that devices.camera names it.",
                    device=self.device,
                )
            if options.kind == "images":
                raise DeviceNotFound(
                    f"No images match {options.target}: check devices.camera.",
                    device=self.device,
                )
            raise CameraError(
                f"{options.target} has no frames or is not a video OpenCV can read.",
                device=self.device,
            )
        if options.width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, options.width)
        if options.height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, options.height)
        return capture

    def frames(self) -> Iterator[Frame]:
        """Frames until the file ends (unless looping), the camera fails, or `close()`."""
        if self.options.follow:
            yield from self._follow()
            return
        options = self.options
        interval = 1.0 / options.fps if options.fps > 0 and not options.live else 0.0
        next_due = time.monotonic()
        failures = 0
        played = 0
        while not self._closed.is_set():
            with self._lock:
                if self._closed.is_set():
                    return
                ok, frame = self._capture.read()
            if not ok or frame is None:
                if options.live:
                    failures += 1
                    if failures >= LIVE_READ_FAILURES:
                        raise DeviceLost(
                            f"The camera at {options.target} stopped sending pictures "
                            "(unplugged?): check the cable, then try again.",
                            device=self.device,
                        )
                    time.sleep(0.03)
                    continue
                if played == 0:
                    raise CameraError(
                        f"{options.target} holds no frames: nothing to scan.", device=self.device
                    )
                if options.loop:
                    self._rewind()
                    played = 0
                    continue
                return
            failures = 0
            played += 1
            self.frames_read += 1
            if interval:
                next_due += interval
                delay = next_due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    next_due = time.monotonic()
            yield frame

    def _follow(self) -> Iterator[Frame]:
        """An image sequence a simulator is writing, played like a live camera.

        The newest file when the scan starts is what the camera sees now; after it, every file
        written later (newer modification time) is the next frame, whatever its number, so a
        simulator may append frames or start its numbering again. Writers should create each
        file atomically (write elsewhere, then rename); a file that cannot be read yet is
        retried briefly and then skipped.
        """
        folder, matcher = _sequence_matcher(self.options.target)
        interval = 1.0 / self.options.fps if self.options.fps > 0 else 0.0
        existing = _sequence_files(folder, matcher)
        played: set[tuple[str, int]] = {(name, mtime) for mtime, name in existing[:-1]}
        retries: dict[str, int] = {}
        while not self._closed.is_set():
            fresh = [
                (mtime, name)
                for mtime, name in _sequence_files(folder, matcher)
                if (name, mtime) not in played
            ]
            if not fresh:
                time.sleep(FOLLOW_POLL_S)
                continue
            for mtime, name in fresh:
                if self._closed.is_set():
                    return
                frame = _read_image(str(folder / name))
                if frame is None and retries.get(name, 0) < 5:
                    retries[name] = retries.get(name, 0) + 1
                    time.sleep(FOLLOW_POLL_S)
                    break
                played.add((name, mtime))
                if frame is None:
                    continue  # not an image: skip it rather than stall the scan
                self.frames_read += 1
                yield frame
                if interval:
                    time.sleep(interval)

    def _rewind(self) -> None:
        with self._lock:
            self._capture.release()
            self._capture = self._factory(self.options)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            if self._capture is not None:
                self._capture.release()


def _open_capture(options: CameraOptions) -> Capture:
    if options.kind == "index":
        return cv2.VideoCapture(int(options.target))
    if options.kind == "device":
        if not Path(options.target).exists():
            return _Closed()
        return cv2.VideoCapture(options.target, cv2.CAP_V4L2)
    if options.kind == "images":
        return cv2.VideoCapture(options.target, cv2.CAP_IMAGES)
    path = Path(options.target)
    if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tif", ".tiff"):
        return cv2.VideoCapture(options.target, cv2.CAP_IMAGES)
    return cv2.VideoCapture(options.target)


class _Closed:
    """A capture that never opened (a /dev/videoN that does not exist: skip OpenCV's probing)."""

    def isOpened(self) -> bool:
        return False

    def release(self) -> None:
        return None


def _sequence_matcher(pattern: str) -> tuple[Path, re.Pattern[str]]:
    """The folder of an image pattern and a regex for its file names ("%03d" -> digits)."""
    path = Path(pattern)
    parts = re.split(r"(%0?\d*d)", path.name)
    regex = "".join(r"\d+" if re.fullmatch(r"%0?\d*d", part) else re.escape(part) for part in parts)
    return path.parent, re.compile(regex)


def _sequence_files(folder: Path, matcher: re.Pattern[str]) -> list[tuple[int, str]]:
    """(modification time in ns, name) of the sequence's files, oldest first."""
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        if matcher.fullmatch(entry.name):
            try:
                found.append((entry.stat().st_mtime_ns, entry.name))
            except OSError:
                continue
    return sorted(found)


def _read_image(path: str) -> Frame | None:
    capture = cv2.VideoCapture(path, cv2.CAP_IMAGES)
    try:
        ok, frame = capture.read()
    finally:
        capture.release()
    return np.asarray(frame, dtype=np.uint8) if ok and frame is not None else None


def open_camera(device: str) -> OpenCvCamera:
    """Open the camera a device string names (raises `DeviceNotFound` / `CameraError`)."""
    return OpenCvCamera(device)
