"""Payment integration fixtures: a terminal configured against the real gateway simulator."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from payment_terminal import Terminal

from simulators.card.tap import TappedCard
from terminal.payment.engine import Engine

_TERMINAL_IDS = itertools.count(1)


@pytest.fixture
def terminal(gateway_sim_module: Any, tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    """Terminals enrolled with the module's simulator, each with its own id and journal (the
    ledger is read per terminal id); faults are cleared after each test."""

    def make(**overrides: Any) -> Terminal:
        overrides.setdefault("terminal_id", f"PAY{next(_TERMINAL_IDS):05d}")
        return Terminal(gateway_sim_module, tmp_path, **overrides)

    yield make
    gateway_sim_module.faults()


@pytest.fixture
async def running(terminal: Callable[..., Terminal]) -> AsyncIterator[tuple[Terminal, Engine]]:
    """A default terminal with its engine started (recovery done, forwarder running)."""
    term = terminal()
    engine = term.engine(TappedCard("visa-credit"))
    await engine.start()
    # Tests cut the link at once; let the start-up check finish on the live link first (else
    # its keep-alive connection outlives the listener, and the simulator resets the next
    # request on it: sent, no answer).
    await engine.link_checked()
    yield term, engine
    await engine.stop()
