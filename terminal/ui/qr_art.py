"""A merchant-presented QR code drawn with Unicode half blocks (`terminal.qr.render`'s matrix):
dark modules black on a white ground whatever the terminal's colours, so a phone scans it off
the screen. The standard quiet zone (4 modules) and error correction M are used when they fit
the screen; on a small screen (80 × 24) the code steps down to level L and a narrower quiet
zone rather than being cut off. Extra white columns on both sides widen the quiet zone
sideways at no cost in height."""

from __future__ import annotations

from terminal.qr.render import QUIET_ZONE, qr_matrix

_CHARS = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}

# (error correction, quiet zone) from best to smallest.
STEPS = (("M", QUIET_ZONE), ("M", 2), ("L", QUIET_ZONE), ("L", 2), ("L", 1))
SIDE_MARGIN = 2


def half_block_lines(matrix: list[list[bool]], side: int = SIDE_MARGIN) -> list[str]:
    """Rows of text, each cell showing an upper and a lower module (True = dark)."""
    lines = []
    pad = " " * side
    for top in range(0, len(matrix), 2):
        upper = matrix[top]
        lower = matrix[top + 1] if top + 1 < len(matrix) else [False] * len(upper)
        lines.append(pad + "".join(_CHARS[(u, d)] for u, d in zip(upper, lower, strict=True)) + pad)
    return lines


def fitted_lines(payload: str, max_lines: int) -> list[str]:
    """The code's lines at the best quality that fits `max_lines` rows (the smallest if none)."""
    lines: list[str] = []
    for level, border in STEPS:
        lines = half_block_lines(qr_matrix(payload, error_correction=level, border=border))
        if len(lines) <= max_lines:
            return lines
    return lines
