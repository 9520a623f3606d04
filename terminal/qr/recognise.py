"""Which kind of code a scanned or pasted text is, before reading it in detail."""

from __future__ import annotations

from enum import StrEnum

from terminal.qr.data_objects import is_ascii_digits


class CodeKind(StrEnum):
    MPM = "mpm"
    """EMVCo merchant-presented: ID-length-value text starting with 000201."""
    CPM = "cpm"
    """EMVCo consumer-presented: base64 of BER-TLV starting with tag 85 ("hQ...")."""
    UNKNOWN = "unknown"


def guess_kind(text: str) -> CodeKind:
    """The kind a text claims to be by its first characters (reading it may still fail)."""
    stripped = text.strip()
    if stripped.startswith("hQ"):
        return CodeKind.CPM
    if len(stripped) >= 4 and is_ascii_digits(stripped[:4]):
        return CodeKind.MPM
    return CodeKind.UNKNOWN
