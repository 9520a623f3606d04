"""Helpers that put rendered QR frames where the camera driver reads them."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import cv2

from drivers.base import Frame

PAYLOAD = (
    "00020101021226380015com.posterm.pay0115MERCHANT0000001520459995303978540512.34"
    "5802DE5917POSTERM DEMO SHOP6006BERLIN62210505INV420708POSTERM163046901"
)


def write_frame_atomically(frame: Frame, path: Path) -> None:
    """As a simulator must: write elsewhere, then rename, so a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.partial.png")
    cv2.imwrite(str(partial), frame)
    os.replace(partial, path)


def sequence(frames: Iterable[Frame], folder: Path, *, follow: bool = False) -> str:
    from simulators.camera import write_image_sequence

    device = write_image_sequence(frames, folder)
    return device if follow else f"{device}?follow=0"
