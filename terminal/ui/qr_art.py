"""A QR code drawn with Unicode half blocks: two modules per character cell, dark modules
black on a white ground whatever the terminal's colours, so phones scan it off the screen."""

from __future__ import annotations

import qrcode
from rich.segment import Segment
from rich.style import Style

GROUND = Style(color="black", bgcolor="white")
_CHARS = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def modules(payload: str, border: int = 2) -> list[list[bool]]:
    """The module matrix (True = dark) with a quiet zone of `border` modules."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=border)
    code.add_data(payload)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


def half_block_lines(matrix: list[list[bool]]) -> list[str]:
    """Rows of text, each cell showing an upper and a lower module."""
    lines = []
    for top in range(0, len(matrix), 2):
        upper = matrix[top]
        lower = matrix[top + 1] if top + 1 < len(matrix) else [False] * len(upper)
        lines.append("".join(_CHARS[(u, d)] for u, d in zip(upper, lower, strict=True)))
    return lines


def segments(lines: list[str]) -> list[list[Segment]]:
    return [[Segment(line, GROUND)] for line in lines]
