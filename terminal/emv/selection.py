"""Choosing the application: the PPSE directory against the terminal's supported AIDs.

EMV Entry Point: the card lists its applications in the PPSE answer (`61` entries with `4F`
AID, `50` label, `87` priority); the terminal keeps those whose AID starts with one it supports
and tries them by priority (1 first, no priority last), then by the terminal's own order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from terminal.emv import tlv
from terminal.emv.errors import CardDataError

SCHEMES: tuple[tuple[str, str], ...] = (
    ("A0000000043060", "maestro"),
    ("A000000003", "visa"),
    ("A000000004", "mastercard"),
    ("A000000025", "amex"),
    ("A000000152", "discover"),
    ("A000000065", "jcb"),
    ("A000000333", "unionpay"),
)


def scheme_of(aid: str) -> str:
    """Scheme name for an AID (visa, mastercard, maestro, ...), "unknown" otherwise."""
    aid = aid.upper()
    return next((name for prefix, name in SCHEMES if aid.startswith(prefix)), "unknown")


class Candidate(NamedTuple):
    """One application the card lists (a named tuple: built for every entry of every tap)."""

    aid: str
    label: str
    priority: int
    """1..15 from tag 87; 0 when the card gave none."""


def directory(fci: bytes) -> list[Candidate]:
    """Every application the PPSE answer lists, in the card's order."""
    answer = tlv.scan(fci, ("61",))
    if "BF0C" not in answer.templates:
        raise CardDataError("PPSE answer without a directory (BF0C)")
    found = []
    for fields in answer.groups:
        aid = fields.get("4F", b"")
        if not 5 <= len(aid) <= 16:
            continue
        label = fields.get("50", b"").decode("ascii", "replace").strip()
        priority = fields.get("87", b"\x00")[:1] or b"\x00"
        found.append(Candidate(aid.hex().upper(), label, priority[0] & 0x0F))
    return found


def choose(listed: Sequence[Candidate], supported: Sequence[str]) -> list[Candidate]:
    """The applications to try, best first; empty when the terminal supports none."""
    ranked: list[tuple[int, int, int, Candidate]] = []
    for listed_at, candidate in enumerate(listed):
        for terminal_rank, aid in enumerate(supported):
            if candidate.aid.startswith(aid):
                ranked.append((candidate.priority or 16, terminal_rank, listed_at, candidate))
                break
    ranked.sort()
    return [entry[3] for entry in ranked]
