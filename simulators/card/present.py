"""A simulated card or phone held to a reader: `posterm sim card` and the tests' taps.

The card's application (`applet.SimulatedCard`, a profile of the test-card file) answers
through `emulator.CardEmulator` on the far side of nfcpy's UDP front end, so the terminal reads
it with its real reader code over `udp:HOST:PORT`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from drivers.base import DriverError
from simulators.card.applet import SimulatedCard
from simulators.card.emulator import CardEmulator
from simulators.card.testcards import CARDS_FILE, TestCard, load_test_cards
from terminal.errors import PostermError, UsageError
from terminal.security.pan import mask_pan


def simulated_card(profile: str, cards_file: Path = CARDS_FILE) -> SimulatedCard:
    """The profile `profile` of `cards_file`; `UsageError` naming the known ones otherwise."""
    cards = load_test_cards(cards_file)
    if profile not in cards:
        raise UsageError(f"No card profile '{profile}' — known profiles: {', '.join(cards)}.")
    return SimulatedCard(cards[profile], cards)


def present_card(
    card: SimulatedCard,
    reader_path: str,
    *,
    taps: int | None = None,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
    on_tap_end: Callable[[int, str], None] | None = None,
) -> int:
    """Present `card` to the reader at `reader_path` (udp:HOST:PORT); the taps served."""
    try:
        emulator = CardEmulator(
            reader_path, card.handle, technology=card.technology, on_tap=card.reset
        )
    except DriverError as error:
        raise PostermError(error.sentence) from None  # exit code 3: a device problem
    served = 0
    end = None if duration_s is None else time.monotonic() + duration_s
    try:
        while taps is None or served < taps:
            remaining = None if end is None else max(0.0, end - time.monotonic())
            if remaining == 0.0:
                break
            more = emulator.serve(taps=1, stop=stop, duration_s=remaining)
            if not more:
                break
            served += 1
            if on_tap_end is not None:
                on_tap_end(served, emulator.last_reason)
    finally:
        emulator.close()
    return served


def profile_summary(profile: TestCard) -> str:
    """One line for `posterm sim card --list`: name, label, kind, masked PAN, behaviour."""
    kind = "phone wallet" if profile.wallet else "card"
    return f"{profile.name}: {profile.label} {kind} {mask_pan(profile.pan)} ({profile.behaviour})"
