"""The bounded scan: frames in, one new code out, within a deadline, cancellable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from drivers.base import Cancelled, DecodedCode, DriverError, Frame, FrameSource, QrDecoder, Timeout


class MultipleCodes(Timeout):
    """The time ran out with several different codes in view at once, so none was chosen."""


@dataclass(frozen=True, slots=True)
class RegionOfInterest:
    """The part of each frame to search, as fractions of width and height (0..1)."""

    x: float = 0.0
    y: float = 0.0
    width: float = 1.0
    height: float = 1.0

    @classmethod
    def parse(cls, text: str) -> RegionOfInterest:
        """ "" (whole frame) or "x,y,width,height" in fractions, e.g. "0.25,0.25,0.5,0.5"."""
        if not text.strip():
            return cls()
        try:
            x, y, w, h = (float(part) for part in text.split(","))
        except ValueError:
            raise DriverError(
                f"Region of interest {text!r} must be x,y,width,height as fractions "
                "(e.g. 0.25,0.25,0.5,0.5)."
            ) from None
        if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x + 1e-9 and 0 < h <= 1 - y + 1e-9):
            raise DriverError(f"Region of interest {text!r} must lie inside the frame (0..1).")
        return cls(x, y, w, h)

    def crop(self, frame: Frame) -> Frame:
        if (self.x, self.y, self.width, self.height) == (0.0, 0.0, 1.0, 1.0):
            return frame
        rows, cols = frame.shape[:2]
        top, left = int(rows * self.y), int(cols * self.x)
        return frame[
            top : top + max(1, int(rows * self.height)),
            left : left + max(1, int(cols * self.width)),
        ]


class CodeDeduplicator:
    """Reports each code once while it stays in view over consecutive frames.

    A code counts as new again only after it has been out of view for `hold_frames` frames,
    so a code held up steadily is one event, and a rejected code still in front of the camera
    is not reported over and over.
    """

    def __init__(self, hold_frames: int = 15) -> None:
        self.hold_frames = hold_frames
        self._last_seen: dict[str, int] = {}
        self._frame = 0

    def fresh(self, texts: list[str]) -> list[str]:
        """The texts of this frame that are new events, in order."""
        self._frame += 1
        new = []
        for text in dict.fromkeys(texts):
            last = self._last_seen.get(text)
            if last is None or self._frame - last > self.hold_frames:
                new.append(text)
            self._last_seen[text] = self._frame
        stale = [t for t, seen in self._last_seen.items() if self._frame - seen > self.hold_frames]
        for text in stale:
            del self._last_seen[text]
        return new

    def suppress(self, text: str) -> None:
        """Treat `text` as just seen (e.g. a code the caller rejected)."""
        self._last_seen[text] = self._frame


def scan_for_code(
    source: FrameSource,
    decoder: QrDecoder,
    *,
    timeout_s: float,
    cancel: threading.Event | None = None,
    roi: RegionOfInterest | None = None,
    dedup: CodeDeduplicator | None = None,
    clock: Callable[[], float] = time.monotonic,
    deadline: float | None = None,
) -> DecodedCode:
    """The first new code in view; `Timeout`, `Cancelled` or `MultipleCodes` otherwise.

    A finite source (a video file) that ends without a code counts as the time running out.
    `deadline` (on `clock`) continues a scan that started earlier; `timeout_s` is then only
    what the operator is told.
    """
    region = roi or RegionOfInterest()
    seen = dedup or CodeDeduplicator()
    if deadline is None:
        deadline = clock() + timeout_s
    crowded = 0
    frames = 0
    for frame in source.frames():
        if cancel is not None and cancel.is_set():
            raise Cancelled("The scan was cancelled.")
        frames += 1
        codes = decoder.decode(region.crop(frame))
        texts = [code.text for code in codes]
        if len(set(texts)) > 1:
            crowded += 1
            seen.fresh(texts)
        else:
            fresh = seen.fresh(texts)
            if fresh:
                return next(code for code in codes if code.text == fresh[0])
        if clock() >= deadline:
            break
    if cancel is not None and cancel.is_set():
        raise Cancelled("The scan was cancelled.")
    if crowded:
        raise MultipleCodes(
            "Two or more codes were in view at once: ask the customer to show only the "
            "payment code, then scan again."
        )
    if frames == 0:
        raise Timeout("The camera gave no pictures: check the camera, then scan again.")
    raise Timeout(
        f"No payment code was seen within {timeout_s:g} s: ask the customer to hold the code "
        "steady about 20 cm from the camera, then scan again."
    )
