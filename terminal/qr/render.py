"""Showing a merchant-presented code: terminal text, PNG, and bytes for a serial display.

Terminal text uses Unicode half blocks (▀ ▄ █), two QR modules per character cell, so a code
fits an 80×24 window and keeps square modules in the usual 1:2 cell shape. Phones need dark
modules on a light field with a quiet zone of four modules; `ansi=True` paints both colours
explicitly so the code scans on light and dark terminal themes alike, while plain text assumes
the common light-on-dark terminal (light modules are the drawn blocks).
"""

from __future__ import annotations

import io
from pathlib import Path

import qrcode
import qrcode.constants

from terminal.qr.errors import BuildError

QUIET_ZONE = 4
"""Modules of light margin around the code, as ISO/IEC 18004 asks for."""

_UPPER, _LOWER, _FULL = "▀", "▄", "█"
_ANSI_LIGHT_ON_DARK = "\x1b[97;40m"  # bright white foreground on black background
_ANSI_RESET = "\x1b[0m"
_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


def qr_matrix(
    payload: str, *, error_correction: str = "M", border: int = QUIET_ZONE
) -> list[list[bool]]:
    """The code's modules (True = dark), quiet zone included, smallest version that fits."""
    if not payload:
        raise BuildError("nothing to show: the payload is empty")
    code = qrcode.QRCode(error_correction=_LEVELS[error_correction], border=border)
    code.add_data(payload.encode("utf-8"))
    try:
        code.make(fit=True)
    except (ValueError, qrcode.exceptions.DataOverflowError):
        raise BuildError(
            f"the payload ({len(payload)} characters) is too long for a QR code"
        ) from None
    return [[bool(module) for module in row] for row in code.get_matrix()]


def half_block_text(payload: str, *, ansi: bool = False, dark_background: bool = True) -> str:
    """The code as lines of half-block characters (see module doc for the colour choice)."""
    matrix = qr_matrix(payload)
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))  # a light row: part of the quiet zone
    # With ansi the foreground is light, so drawn blocks are the light modules too.
    draw_light = ansi or dark_background
    lines = []
    for top_row, bottom_row in zip(matrix[0::2], matrix[1::2], strict=True):
        cells = []
        for top, bottom in zip(top_row, bottom_row, strict=True):
            upper = (not top) if draw_light else top
            lower = (not bottom) if draw_light else bottom
            cells.append(
                _FULL if upper and lower else _UPPER if upper else _LOWER if lower else " "
            )
        line = "".join(cells)
        lines.append(f"{_ANSI_LIGHT_ON_DARK}{line}{_ANSI_RESET}" if ansi else line)
    return "\n".join(lines)


def png_bytes(payload: str, *, box_size: int = 10) -> bytes:
    """A PNG of the code, `box_size` pixels per module, with the quiet zone."""
    matrix = qr_matrix(payload)
    from PIL import Image

    size = len(matrix)
    image = Image.new("1", (size, size), 1)
    pixels = image.load()
    assert pixels is not None
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                pixels[x, y] = 0
    image = image.resize((size * box_size, size * box_size), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def write_png(payload: str, path: Path, *, box_size: int = 10) -> None:
    """Write the code as a PNG file (e.g. for a web till or a printed table card)."""
    data = png_bytes(payload, box_size=box_size)
    try:
        path.write_bytes(data)
    except OSError as error:
        raise BuildError(f"cannot write {path}: {error.strerror or error}") from None
