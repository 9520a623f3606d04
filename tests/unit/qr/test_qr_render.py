"""A shown code must really scan: the rendered text and PNG are decoded back with zxing-cpp."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from terminal.qr.errors import BuildError
from terminal.qr.render import half_block_text, png_bytes, write_png

from .vectors import EMVCO_SAMPLE, PIX_BCB_EXAMPLE

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def raster(text: str, *, drawn_is_light: bool, pixels: int = 6) -> np.ndarray:
    """Paint half-block text as a terminal would: each cell is two module rows."""
    rows = []
    for line in _ANSI.sub("", text).splitlines():
        top, bottom = [], []
        for ch in line:
            upper = ch in "▀█"
            lower = ch in "▄█"
            top.append(upper)
            bottom.append(lower)
        rows.extend([top, bottom])
    drawn = np.array(rows, dtype=bool)
    light = drawn if drawn_is_light else ~drawn
    image = np.where(light, 255, 0).astype(np.uint8)
    return np.kron(image, np.ones((pixels, pixels), dtype=np.uint8))


def decoded(image: np.ndarray) -> list[str]:
    return [bytes(r.bytes).decode("utf-8") for r in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize("payload", [PIX_BCB_EXAMPLE, EMVCO_SAMPLE])
def test_half_block_text_on_a_dark_terminal_scans(payload: str) -> None:
    text = half_block_text(payload)
    assert decoded(raster(text, drawn_is_light=True)) == [payload]


def test_half_block_text_for_a_light_terminal_scans() -> None:
    text = half_block_text(PIX_BCB_EXAMPLE, dark_background=False)
    assert decoded(raster(text, drawn_is_light=False)) == [PIX_BCB_EXAMPLE]


def test_ansi_text_paints_both_colours_and_scans() -> None:
    text = half_block_text(PIX_BCB_EXAMPLE, ansi=True)
    assert all(line.startswith("\x1b[97;40m") for line in text.splitlines())
    assert decoded(raster(text, drawn_is_light=True)) == [PIX_BCB_EXAMPLE]


def test_half_block_text_fits_an_80_column_window_with_quiet_zone() -> None:
    lines = half_block_text(EMVCO_SAMPLE).splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) <= 40
    assert set(lines[0]) == set(lines[1]) == {"█"}  # four light module rows on top


def test_png_scans(tmp_path: Path) -> None:
    path = tmp_path / "code.png"
    write_png(EMVCO_SAMPLE, path)
    image = np.array(Image.open(path).convert("L"))
    assert decoded(image) == [EMVCO_SAMPLE]
    assert Image.open(io.BytesIO(png_bytes(EMVCO_SAMPLE))).format == "PNG"


def test_png_to_an_unwritable_place_is_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="cannot write"):
        write_png(PIX_BCB_EXAMPLE, tmp_path / "missing" / "code.png")


def test_empty_or_huge_payload_is_refused() -> None:
    with pytest.raises(BuildError):
        half_block_text("")
    with pytest.raises(BuildError, match="too long"):
        half_block_text("9" * 8000)
