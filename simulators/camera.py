"""The simulated camera's pictures: QR codes rendered with `qrcode`, degraded like real ones.

Tests and benchmarks write these frames as an image sequence or a video file and open them
through `OpenCvCamera`, so the decoding path is the one a real camera feeds. Degradations
mimic a phone screen held in front of a cheap camera: defocus blur, sensor noise, rotation,
perspective tilt and low contrast.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import qrcode
import qrcode.constants

from drivers.base import Frame

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
import cv2


@dataclass(frozen=True, slots=True)
class Degradation:
    """How much each defect spoils a frame (all zero: a clean frame)."""

    blur_sigma: float = 0.0
    noise_sigma: float = 0.0
    rotation_deg: float = 0.0
    perspective: float = 0.0
    """Corner displacement as a fraction of the code's size."""
    contrast: float = 1.0
    """1: black on white; 0.3: dark grey on light grey."""

    @classmethod
    def random(cls, rng: np.random.Generator) -> Degradation:
        """A moderately bad frame, all five defects at once."""
        return cls(
            blur_sigma=float(rng.uniform(0.6, 1.2)),
            noise_sigma=float(rng.uniform(6, 14)),
            rotation_deg=float(rng.uniform(-35, 35)),
            perspective=float(rng.uniform(0.03, 0.08)),
            contrast=float(rng.uniform(0.35, 0.6)),
        )


CLEAN = Degradation()


def code_image(payload: str, module_px: int, *, border: int = 4) -> Frame:
    """The code as a grayscale image (0 dark, 255 light), `module_px` pixels per module."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=border)
    code.add_data(payload.encode("utf-8"))
    code.make(fit=True)
    matrix = np.array(code.get_matrix(), dtype=bool)
    image = np.where(matrix, 0, 255).astype(np.uint8)
    return np.asarray(np.kron(image, np.ones((module_px, module_px), dtype=np.uint8)), np.uint8)


def barcode_image(text: str, module_px: int, *, height_px: int = 70, quiet: int = 10) -> Frame:
    """`text` as a Code 128 barcode (the one wallets show under their pay code's QR code),
    grayscale, `module_px` pixels per module, with a quiet zone of `quiet` modules."""
    import barcode  # python-barcode (sim extra): the bar pattern, never its image writer

    pattern = barcode.get_barcode_class("code128")(text).build()[0]
    row = np.array([0 if bit == "1" else 255 for bit in "0" * quiet + pattern + "0" * quiet])
    wide = np.repeat(row.astype(np.uint8), module_px)
    return np.asarray(np.tile(wide, (height_px, 1)), dtype=np.uint8)


def background(size: tuple[int, int], rng: np.random.Generator) -> Frame:
    """A counter top: a soft gradient with some texture, as grayscale."""
    width, height = size
    x = np.linspace(0, 1, width, dtype=np.float32)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    base = 90 + 60 * x[None, :] * 0.5 + 50 * y
    texture = cv2.GaussianBlur(rng.normal(0, 18, (height, width)).astype(np.float32), (0, 0), 3)
    return np.asarray(np.clip(base + texture, 0, 255), dtype=np.uint8)


def render_frame(
    payloads: str | Iterable[str],
    *,
    size: tuple[int, int] = (640, 480),
    module_px: int = 4,
    degradation: Degradation = CLEAN,
    seed: int = 0,
    symbology: str = "qr",
) -> Frame:
    """A BGR frame of `size` (width, height) showing each payload's code side by side, as QR
    codes or (`symbology="code128"`) as Code 128 barcodes."""
    rng = np.random.default_rng(seed)
    width, height = size
    frame = background(size, rng).astype(np.float32)
    codes = [payloads] if isinstance(payloads, str) else list(payloads)
    slot = width // max(1, len(codes))
    for number, payload in enumerate(codes):
        drawn = (
            barcode_image(payload, module_px)
            if symbology == "code128"
            else code_image(payload, module_px)
        )
        image = drawn.astype(np.float32)
        tall, wide = image.shape[:2]
        low, high = _levels(degradation.contrast)
        image = low + (high - low) * (image / 255.0)
        src = np.array([[0, 0], [wide, 0], [wide, tall], [0, tall]], dtype=np.float32)
        dst = _placement((wide, tall), number * slot, slot, height, degradation, rng)
        matrix = cv2.getPerspectiveTransform(src, dst)
        warped = cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(
            np.ones_like(image), matrix, (width, height), flags=cv2.INTER_LINEAR
        )
        frame = np.asarray(frame * (1 - mask) + warped * mask, dtype=np.float32)
    if degradation.blur_sigma > 0:
        frame = np.asarray(cv2.GaussianBlur(frame, (0, 0), degradation.blur_sigma), np.float32)
    if degradation.noise_sigma > 0:
        frame = frame + rng.normal(0, degradation.noise_sigma, frame.shape).astype(np.float32)
    gray = np.asarray(np.clip(frame, 0, 255), dtype=np.uint8)
    return np.asarray(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), dtype=np.uint8)


def empty_frame(size: tuple[int, int] = (640, 480), *, seed: int = 0) -> Frame:
    """What the camera sees before the customer holds up a code."""
    gray = background(size, np.random.default_rng(seed))
    return np.asarray(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), dtype=np.uint8)


def _levels(contrast: float) -> tuple[float, float]:
    middle = 140.0
    half = 115.0 * max(0.05, min(1.0, contrast))
    return middle - half, middle + half


def _placement(
    shape: tuple[int, int],
    left: int,
    slot: int,
    height: int,
    degradation: Degradation,
    rng: np.random.Generator,
) -> np.ndarray:
    """Corners of the code (`shape` = width, height) in the frame: rotated, tilted, somewhere
    inside its slot."""
    angle = np.deg2rad(degradation.rotation_deg)
    half = np.array(shape, dtype=np.float32) / 2
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float32) * half
    side = float(min(shape))
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], dtype=np.float32
    )
    corners = corners @ rotation.T
    if degradation.perspective > 0:
        corners += rng.uniform(-1, 1, corners.shape).astype(np.float32) * (
            degradation.perspective * side
        )
    extent = corners.max(axis=0) - corners.min(axis=0)
    room_x = max(0.0, slot - float(extent[0]))
    room_y = max(0.0, height - float(extent[1]))
    centre = np.array(
        [
            left + float(extent[0]) / 2 + rng.uniform(0, room_x),
            float(extent[1]) / 2 + rng.uniform(0, room_y),
        ],
        dtype=np.float32,
    )
    return np.asarray(
        corners - (corners.max(axis=0) + corners.min(axis=0)) / 2 + centre, np.float32
    )


def write_image_sequence(frames: Iterable[Frame], folder: Path) -> str:
    """Write frames as folder/000.png, 001.png, ...; returns the camera device string."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{number:03d}.png"), frame)
    return str(folder / "%03d.png")


def write_video(frames: Iterable[Frame], path: Path, *, fps: float = 30.0) -> str:
    """Write frames as an MJPEG .avi (lossy, as a real camera stream is); returns its path."""
    writer: cv2.VideoWriter | None = None
    try:
        for frame in frames:
            if writer is None:
                height, width = frame.shape[:2]
                fourcc = cv2.VideoWriter.fourcc(*"MJPG")
                writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
            writer.write(frame)
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        path.write_bytes(b"")
    return str(path)
