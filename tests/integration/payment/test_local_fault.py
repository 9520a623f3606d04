"""A terminal that runs out of file handles (or memory, or disk) while connecting is not a bank
that cannot be reached: the sale ends as an error with code 96, never approved offline, and
nothing is queued (the assessor: EMFILE was classed as "bank unreachable")."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from typing import Any

import pytest
from payment_terminal import Terminal, pay

from simulators.card.tap import TappedCard
from terminal.payment.api import Result
from terminal.payment.states import State


def out_of_file_handles(*args: Any, **kwargs: Any) -> socket.socket:
    raise OSError(errno.EMFILE, "Too many open files")


async def test_out_of_file_handles_is_an_error_not_an_offline_approval(
    terminal: Callable[..., Terminal], monkeypatch: pytest.MonkeyPatch
) -> None:
    term = terminal()
    engine = term.engine(TappedCard("visa-credit"))  # not started: no pooled connection yet
    try:
        with monkeypatch.context() as patch:
            # The library boundary: asyncio's own socket creation, as RLIMIT_NOFILE makes it.
            patch.setattr(socket, "socket", out_of_file_handles)
            outcome = await pay(engine, "9.99")  # under the floor limit: offline would approve
        assert outcome.result is Result.ERROR, outcome.message
        assert outcome.code == "96"
        assert outcome.message.startswith("The terminal ran out of file handles (EMFILE);")
        assert "nothing was charged" in outcome.message
        txn = engine.journal.get(outcome.id)
        assert txn.state is State.FAILED and not txn.offline
        assert engine.journal.pending_count(include_parked=True) == 0
        assert [e for e in term.ledger() if e["id"] == outcome.id] == []
        # With its file handles back, the same terminal pays online again.
        again = await pay(engine, "9.99")
        assert again.result is Result.APPROVED, again.message
    finally:
        await engine.stop()
