"""The merchant code as drawn on screen decodes back to the payload (zxing-cpp), at 80 × 24
and on a larger screen."""

from __future__ import annotations

import numpy as np
import pytest
import zxingcpp

from terminal.ui.qr_art import fitted_lines
from tests.ui.memory_engine import MPM_PAYLOAD

CELL = 8  # pixels per module


def picture(lines: list[str]) -> np.ndarray:
    """What a terminal shows: each character cell is one module wide and two modules high."""
    upper = {"▀": True, "█": True, "▄": False, " ": False}
    lower = {"▄": True, "█": True, "▀": False, " ": False}
    rows = []
    for line in lines:
        rows.append([upper[ch] for ch in line])
        rows.append([lower[ch] for ch in line])
    dark = np.array(rows, dtype=bool)
    image = np.where(dark, 0, 255).astype(np.uint8)
    image = np.kron(image, np.ones((CELL, CELL), dtype=np.uint8))
    return np.pad(image, 4 * CELL, constant_values=255)


@pytest.mark.parametrize(("height", "quiet_rows"), [(23, 1), (40, 2)])
def test_code_on_screen_decodes_to_the_payload(height: int, quiet_rows: int) -> None:
    lines = fitted_lines(MPM_PAYLOAD, height)
    assert len(lines) <= height
    assert all(set(line) == {" "} for line in lines[:quiet_rows])  # quiet zone on top
    found = zxingcpp.read_barcodes(picture(lines))
    assert [code.text for code in found] == [MPM_PAYLOAD]


def test_larger_screens_get_the_standard_quiet_zone_and_level_m() -> None:
    small = fitted_lines(MPM_PAYLOAD, 23)
    large = fitted_lines(MPM_PAYLOAD, 60)
    assert len(large) > len(small)
    assert all(set(line) == {" "} for line in large[:2])  # 4 modules = 2 text rows
