"""Three QR decoders with one face: grayscale frame in, decoded texts out.

Texts come from the raw bytes as UTF-8 (EMVCo payloads are UTF-8; guessing a charset would
turn "最佳运输" into mojibake), falling back to the decoder's own text.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from drivers.base import DecodedCode, DeviceNotFound, Frame, QrDecoder

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
import cv2


def prepare_frame(frame: Frame) -> Frame:
    """Grayscale, contiguous 8-bit: what every decoder reads fastest."""
    if frame.ndim == 3:
        channels = frame.shape[2]
        code = cv2.COLOR_BGRA2GRAY if channels == 4 else cv2.COLOR_BGR2GRAY
        frame = np.asarray(cv2.cvtColor(frame, code), dtype=np.uint8)
    if frame.dtype != np.uint8:
        frame = frame.astype(np.uint8)
    return np.ascontiguousarray(frame)


def _text(raw: bytes, fallback: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return fallback


class ZxingDecoder:
    """zxing-cpp, QR codes first, then Code 128 (the barcode wallets show under their pay
    code's QR code) when no QR code was found; no rotation search (finder patterns make it moot
    for QR, and the customer holds the phone's barcode level) and no inverted-code pass
    (wallets show dark on light), which halves the time of a miss."""

    name = "zxing"

    def __init__(self) -> None:
        import zxingcpp

        self._zxing = zxingcpp
        self._formats = zxingcpp.barcode_formats_from_str("QRCode")
        self._bars = zxingcpp.barcode_formats_from_str("Code128")

    def decode(self, frame: Frame) -> list[DecodedCode]:
        gray = prepare_frame(frame)
        if min(gray.shape[:2]) < 21:
            return []  # smaller than the smallest QR code: nothing to find
        results = self._zxing.read_barcodes(
            gray, formats=self._formats, try_rotate=False, try_downscale=True, try_invert=False
        )
        if not results:
            # Code 128 in a pass of its own: asked together with QR codes, zxing's row scan of a
            # noisy frame made every QR frame ~4x slower (measured: degraded 640x480 median
            # 1.3 -> 6.0 ms). The barcode pass reads a frame averaged along the bars (a
            # vertical box blur), which removes most sensor noise: read rate ~0.57 -> 1.0 per
            # degraded frame; a frame with no code at all costs ~0.4 ms more.
            results = self._zxing.read_barcodes(
                cv2.blur(gray, (1, 9)),
                formats=self._bars,
                try_rotate=False,
                try_downscale=False,
                try_invert=False,
            )
        return [DecodedCode(_text(bytes(r.bytes), r.text)) for r in results if r.valid]


class PyzbarDecoder:
    """ZBar through pyzbar."""

    name = "pyzbar"

    def __init__(self) -> None:
        try:
            from pyzbar import pyzbar
        except ImportError as error:  # the system library libzbar0 is missing
            raise DeviceNotFound(
                "The pyzbar decoder needs the system library libzbar0: install it "
                '(apt-get install libzbar0) or set qr.decoder = "zxing".',
                detail=str(error),
            ) from None
        self._pyzbar = pyzbar
        self._symbols = [pyzbar.ZBarSymbol.QRCODE, pyzbar.ZBarSymbol.CODE128]

    def decode(self, frame: Frame) -> list[DecodedCode]:
        gray = prepare_frame(frame)
        if min(gray.shape[:2]) < 21:
            return []
        results = self._pyzbar.decode(gray, symbols=self._symbols)
        return [DecodedCode(_text(r.data, r.data.decode("latin-1"))) for r in results]


class OpenCvDecoder:
    """OpenCV's QRCodeDetector (several codes per frame)."""

    name = "opencv"

    def __init__(self) -> None:
        self._detector = cv2.QRCodeDetector()

    def decode(self, frame: Frame) -> list[DecodedCode]:
        gray = prepare_frame(frame)
        if min(gray.shape[:2]) < 21:
            return []
        try:
            if hasattr(self._detector, "detectAndDecodeBytesMulti"):  # OpenCV >= 4.11
                ok, raw, _points, _ = self._detector.detectAndDecodeBytesMulti(gray)
                texts = [_text(bytes(data), bytes(data).decode("latin-1")) for data in raw]
            else:
                ok, decoded, _points, _ = self._detector.detectAndDecodeMulti(gray)
                texts = list(decoded)
        except cv2.error:
            return []
        if not ok:
            return []
        return [DecodedCode(text) for text in texts if text]


DECODERS: dict[str, Callable[[], QrDecoder]] = {
    "zxing": ZxingDecoder,
    "pyzbar": PyzbarDecoder,
    "opencv": OpenCvDecoder,
}


def open_decoder(name: str) -> QrDecoder:
    """The decoder `settings.qr.decoder` names."""
    factory = DECODERS.get(name)
    if factory is None:
        raise DeviceNotFound(f"Unknown QR decoder {name!r}: choose one of {', '.join(DECODERS)}.")
    return factory()
