"""Probe a camera through OpenCV: open it, grab frames, report resolution and frame rate.

The same device strings the camera driver takes: an index (`0`), `/dev/videoN`, a video file
or an image sequence (`frames/%03d.png`).
"""

from __future__ import annotations

import glob
import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from drivers.probe import ProbeResult, failed, not_configured, working

GRAB_SECONDS = 2.0
GRAB_FRAMES = 30
# Below this a customer's phone screen is hard to decode from arm's length.
MIN_QR_WIDTH = 640


# Options the camera driver accepts after "?" (drivers/camera): not part of the path.
_OPTION_KEYS = frozenset({"fps", "loop", "width", "height", "follow"})


def split_camera_options(device: str) -> tuple[str, dict[str, str]]:
    """`frames/%03d.png?follow=0` -> ("frames/%03d.png", {"follow": "0"})."""
    target, sep, query = device.rpartition("?")
    if not sep:
        return device, {}
    options = dict(parse_qsl(query, keep_blank_values=True))
    if not options or not set(options) <= _OPTION_KEYS:
        return device, {}  # a "?" that is part of a file name
    return target, options


def camera_exists(device: str) -> bool:
    """Is there anything at this camera string (a device node, a file, a sequence's frame)?"""
    if device.isdigit():
        return os.path.exists(f"/dev/video{device}")
    if "%" in device:
        pattern = re.sub(r"%0?\d*d", "*", device)
        return bool(glob.glob(pattern))
    return os.path.exists(device)


def probe_camera(
    device: str, *, seconds: float = GRAB_SECONDS, max_frames: int = GRAB_FRAMES
) -> ProbeResult:
    """Open the camera at `device`, grab frames for up to `seconds` and report what came."""
    if device == "none":
        return not_configured("camera", "devices.camera")
    configured = device
    device, options = split_camera_options(device)
    live = device.isdigit() or device.startswith("/dev/video")
    followed = "%" in device and options.get("follow", "1") in ("1", "true", "yes")
    if followed and not camera_exists(device) and Path(device).parent.is_dir():
        return working(
            "camera",
            configured,
            f"image sequence in {Path(device).parent} has no frames yet (a simulator "
            "writes them when a customer shows a code)",
            {"frames": 0, "followed": True},
        )
    if not camera_exists(device):
        if live:
            fix = (
                "plug the camera in, check `posterm devices list` for its /dev/videoN and set "
                "devices.camera to it"
            )
        else:
            fix = (
                "check the path in devices.camera (a video file or a pattern like frames/%03d.png)"
            )
        return failed(
            "camera", configured, found=False, problem=f"no camera or file at {device}", fix=fix
        )
    node = f"/dev/video{device}" if device.isdigit() else device
    if live and not os.access(node, os.R_OK | os.W_OK):
        return failed(
            "camera",
            configured,
            found=True,
            problem=f"no permission to open {node}",
            fix="add the posterm user to the video group (`sudo usermod -aG video posterm`) and "
            "restart posterm",
        )

    import cv2

    capture = cv2.VideoCapture(int(device) if device.isdigit() else device)
    try:
        if not capture.isOpened():
            problem = f"OpenCV could not open {device}"
            fix = (
                "another program may be using the camera, or it is not a V4L2 capture device: "
                "stop the other program and check `v4l2-ctl --list-devices`"
                if live
                else "the file is not a video or image sequence OpenCV can read: re-export it"
            )
            return failed("camera", configured, found=True, problem=problem, fix=fix)
        frames = 0
        width = height = 0
        started = time.monotonic()
        while frames < max_frames and time.monotonic() - started < seconds:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            if frames == 0:
                height, width = int(frame.shape[0]), int(frame.shape[1])
            frames += 1
        elapsed = time.monotonic() - started
        reported_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        capture.release()
    if frames == 0:
        return failed(
            "camera",
            configured,
            found=True,
            opened=True,
            problem="the camera opened but delivered no frames",
            fix="replug the camera; if it persists, lower its resolution or use another USB port",
        )
    measured = frames / elapsed if elapsed > 0 else 0.0
    details: dict[str, Any] = {
        "width": width,
        "height": height,
        "frames": frames,
        "fps": round(measured, 1),
        "reported_fps": round(reported_fps, 1),
    }
    note = ""
    if width < MIN_QR_WIDTH:
        note = f"; {width}×{height} is small for scanning phone screens (640×480 or more is better)"
        details["warning"] = "low resolution"
    return working(
        "camera",
        configured,
        f"grabbed {frames} frames {width}×{height} at {measured:.1f} fps{note}",
        details,
    )
