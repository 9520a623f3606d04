"""PAN handling that keeps full card numbers out of every log, screen, receipt and file.

PCI DSS allows showing at most the first six and last four digits; anything shaped like a PAN
(13 to 19 digits, optionally grouped by spaces or dashes, passing the Luhn check) or like track
data (PAN, separator, digits) is masked wherever text leaves the process.
"""

from __future__ import annotations

import re

# 13-19 digits in a row, not glued to other digits.
_PAN_RUN = re.compile(r"(?<![0-9])[0-9]{13,19}(?![0-9])")
# The groupings printed on cards: 4-4-4-4(-3), 4-4-4-1..3, 4-6-5 (Amex), 4-6-4 (Diners).
_PAN_GROUPED = re.compile(
    r"(?<![0-9])(?:[0-9]{4}([ -])[0-9]{4}\1[0-9]{4}\1[0-9]{1,4}(?:\1[0-9]{1,3})?"
    r"|[0-9]{4}([ -])[0-9]{6}\2[0-9]{4,5})(?![0-9])"
)
# Track 2 equivalent: PAN, 'D' or '=', then expiry, service code and discretionary data.
_TRACK2_SHAPE = re.compile(r"(?<![0-9])[0-9]{12,19}[D=][0-9]{4,}F?", re.IGNORECASE)
# Track 1: %B PAN ^ NAME ^ ...
_TRACK1_SHAPE = re.compile(r"%?B[0-9]{12,19}\^[^^]{2,26}\^[0-9]{4,}[^?\s]*\??")


def luhn_valid(digits: str) -> bool:
    """True when `digits` (only 0-9) passes the Luhn check used by card numbers."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def mask_pan(pan: str) -> str:
    """First six and last four digits, the rest as '*' (e.g. 411111******1111)."""
    digits = re.sub(r"[^0-9]", "", pan)
    if len(digits) < 10:
        return "*" * len(digits)
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def last_four(pan: str) -> str:
    """The last four digits, as printed on customer receipts ("**** 1111")."""
    digits = re.sub(r"[^0-9]", "", pan)
    return digits[-4:]


def redact_text(text: str) -> str:
    """`text` with every PAN-shaped number and all track data masked."""
    if not any(ch.isdigit() for ch in text):
        return text
    text = _TRACK1_SHAPE.sub("<track data>", text)
    text = _TRACK2_SHAPE.sub("<track data>", text)

    def mask(match: re.Match[str]) -> str:
        candidate = match.group(0)
        digits = re.sub(r"[ -]", "", candidate)
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return mask_pan(digits)
        return candidate

    text = _PAN_RUN.sub(mask, text)
    return _PAN_GROUPED.sub(mask, text)
