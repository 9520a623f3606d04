"""QR figures: decoder speed and success on the same generated frames, and scan latency.

Frames are dynamic merchant codes as this terminal makes them, rendered with `qrcode` at 4 px
per module (640×480) or 6 px (1280×720), clean or degraded with blur, noise, rotation,
perspective and low contrast all at once (`Degradation.random`). Every decoder sees exactly the
same frames. Target (issue 6): the chosen decoder (zxing) reads ≥ 95 % of degraded 640×480
frames, median under 5 ms.

Latency: a followed image sequence is written at 30 frames per second, as a camera would
deliver them; the clock starts when the first frame holding the code lands and stops when the
`CameraCodeScanner` hands the text to its caller (the engine's next step is `authorize`).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from bench.harness import Row
from drivers.camera.simulate import Degradation, empty_frame, render_frame
from drivers.qr import open_decoder
from terminal.iso_codes import currency
from terminal.money import Amount
from terminal.qr.mpm import MerchantCodeRequest, build_merchant_code

DECODERS = ("zxing", "pyzbar", "opencv")
SIZES = {(640, 480): 4, (1280, 720): 6}


def payload(number: int) -> str:
    eur = currency("EUR")
    return build_merchant_code(
        MerchantCodeRequest(
            merchant_account={"26": {"00": "com.posterm.pay", "01": "MERCHANT0000001"}},
            mcc="5812",
            currency=eur,
            country="DE",
            merchant_name="POSTERM DEMO SHOP",
            merchant_city="BERLIN",
            amount=Amount(100 + number * 37, eur),
            reference_label=uuid.UUID(int=number).hex[:25],
            terminal_label="POSTERM1",
        )
    )


def frame_set(
    size: tuple[int, int], degraded: bool, count: int, seed: int
) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    module_px = SIZES[size]
    frames = []
    for number in range(count):
        text = payload(seed * 1000 + number)
        damage = Degradation.random(rng) if degraded else Degradation()
        frames.append(
            (
                text,
                render_frame(text, size=size, module_px=module_px, degradation=damage, seed=number),
            )
        )
    return frames


def decode_rows(quick: bool) -> list[Row]:
    rows: list[Row] = []
    counts = {(640, 480): 12 if quick else 80, (1280, 720): 6 if quick else 30}
    decoders = {name: open_decoder(name) for name in DECODERS}
    for size, count in counts.items():
        for degraded in (False, True):
            frames = frame_set(size, degraded, count, seed=size[0] + degraded)
            label = f"{'degraded' if degraded else 'clean'} {size[0]}x{size[1]}"
            medians: dict[str, float] = {}
            results: dict[str, tuple[list[float], int]] = {}
            for name, decoder in decoders.items():
                decoder.decode(frames[0][1])  # warm up
                times, hits = [], 0
                for text, frame in frames:
                    start = time.perf_counter()
                    found = decoder.decode(frame)
                    times.append((time.perf_counter() - start) * 1000)
                    hits += any(code.text == text for code in found)
                medians[name] = statistics.median(times)
                results[name] = (times, hits)
            for name, (times, hits) in results.items():
                is_target = name == "zxing" and degraded and size == (640, 480)
                speed = medians["pyzbar"] / medians[name]
                ratio = (
                    "baseline"
                    if name == "pyzbar"
                    else f"{speed:.1f}x faster than pyzbar"
                    if speed >= 1
                    else f"{1 / speed:.1f}x slower than pyzbar"
                )
                rows.append(
                    Row(
                        "qr",
                        f"decode {name} {label}",
                        statistics.median(times),
                        "ms/frame",
                        min(times),
                        max(times),
                        len(times),
                        ratio=ratio,
                        target="< 5 ms" if is_target else "",
                        note=f"read {hits}/{len(frames)} ({100 * hits / len(frames):.1f}%)",
                    )
                )
                if is_target:
                    rows.append(
                        Row(
                            "qr",
                            f"success {name} {label}",
                            100 * hits / len(frames),
                            "%",
                            100 * hits / len(frames),
                            100 * hits / len(frames),
                            len(frames),
                            target=">= 95 %",
                            note="4 px/module, blur+noise+rotation+perspective+low contrast",
                        )
                    )
    return rows


def latency_row(quick: bool) -> Row:
    """From the code's first frame landing in the camera's folder to the scanner's answer."""
    from terminal.wiring.camera import CameraCodeScanner

    runs = 3 if quick else 10
    values = []
    rng = np.random.default_rng(5)
    for run in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder)
            text = payload(run)
            code_frames = [
                render_frame(text, degradation=Degradation.random(rng), seed=run * 10 + i)
                for i in range(10)
            ]
            empties = [empty_frame(seed=i) for i in range(5)]
            entered = threading.Event()
            entered_at = [0.0]

            def camera(
                path: Path = path,
                code_frames: list[np.ndarray] = code_frames,
                empties: list[np.ndarray] = empties,
                entered: threading.Event = entered,
                entered_at: list[float] = entered_at,
            ) -> None:
                import cv2

                for number, frame in enumerate(empties + code_frames):
                    partial = path / f".{number:03d}.png"
                    cv2.imwrite(str(partial), frame)
                    if number == len(empties):
                        entered_at[0] = time.perf_counter()
                    partial.rename(path / f"{number:03d}.png")
                    time.sleep(1 / 30)

            writer = threading.Thread(target=camera)
            scanner = CameraCodeScanner(str(path / "%03d.png"), decoder="zxing")
            writer.start()
            found = asyncio.run(scanner.scan(asyncio.Event(), timeout_s=10))
            done = time.perf_counter()
            writer.join()
            assert found == text
            values.append((done - entered_at[0]) * 1000)
    return Row(
        "qr",
        "code in view -> scanned (30 fps camera)",
        statistics.median(values),
        "ms",
        min(values),
        max(values),
        runs,
        note="degraded 640x480 frames, followed image sequence",
    )


def run(quick: bool) -> list[Row]:
    return [*decode_rows(quick), latency_row(quick)]
