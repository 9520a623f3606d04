"""Small helpers for pilot tests: wait for what the operator would see."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot
from textual.widgets import Static


async def until(pilot: Pilot[object], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the screen did not get there in time")
        await pilot.pause(0.05)


def text_of(pilot: Pilot[object], selector: str) -> str:
    """The plain text a Static shows."""
    widget = pilot.app.screen.query_one(selector, Static)
    return str(widget.render())


def screen_text(pilot: Pilot[object]) -> str:
    """Everything on the active screen's Statics, joined (what a person reads)."""
    return "\n".join(str(w.render()) for w in pilot.app.screen.query(Static))


async def type_keys(pilot: Pilot[object], text: str) -> None:
    await pilot.press(*list(text))


def cheap_pin_hash(pin: str) -> str:
    """An argon2id PIN hash with small cost parameters: the same check, a fraction of the time
    (the terminal's own `posterm pin hash` uses the library's recommended cost)."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(pin)
