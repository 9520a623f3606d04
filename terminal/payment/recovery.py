"""Start-up recovery: every transaction a crash left between steps reaches a definite state.

Several processes may share one journal (the operator screen, a `posterm pay` from the till,
a technician's `posterm saf flush`). Each engine holds a lock file named by its owner token
while it runs; a transaction is recovered only when its owner's lock is free, that is, when
the process that was running it is gone. The kernel releases the lock of a killed process.

What recovery does, per state (PROTOCOL.md rule 3):
- `created`, `card_read`: nothing was sent → `cancelled`.
- `authorising`: the signed message may have reached the gateway and the operator was never
  told the outcome → `unknown`, and a reversal for its id is committed to the queue in the
  same commit (`reversing`); the forwarder sends it. Reversing an id the gateway never saw
  answers `reversed` too, so the money moved at most once and ends not moved.
- `unknown` (a reversal not yet queued): the reversal is queued.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from terminal.money import Amount
from terminal.payment.journal import Change, Journal, Transaction
from terminal.payment.states import Event, State
from terminal.security.private import private_folder

log = logging.getLogger("terminal.payment.recovery")

OWNERS_DIR = "owners"


class OwnerLock:
    """This engine's claim on the transactions it runs (an flock'ed file under data_dir)."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = Path(data_dir) / OWNERS_DIR
        self.token = uuid.uuid4().hex
        self._fd: int | None = None

    def acquire(self) -> str:
        if self._fd is None:
            private_folder(self.folder.parent)
            self.folder.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(self.folder / f"{self.token}.lock", os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._fd = fd
        return self.token

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                (self.folder / f"{self.token}.lock").unlink()
            os.close(self._fd)
            self._fd = None

    def alive(self, token: str) -> bool:
        """True while the engine with `token` still runs (its lock is held)."""
        if not token:
            return False
        if token == self.token:
            return self._fd is not None
        path = self.folder / f"{token}.lock"
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        return False


ReverseSigner = Callable[[str, str, Amount, int, datetime], bytes]
"""(reverse_id, ref, amount, seq, created_at) -> the signed reverse message."""


def recover(
    journal: Journal,
    owner: OwnerLock,
    new_id: Callable[[], str],
    sign_reverse: ReverseSigner,
) -> list[tuple[str, State]]:
    """Move every orphaned in-flight transaction on; returns (id, new state) per change.

    Runs in one thread (call it through `asyncio.to_thread`); each move is its own commit.
    """
    moved: list[tuple[str, State]] = []
    for txn in journal.in_flight():
        if owner.alive(txn.owner):
            continue
        moved.append((txn.id, resolve(journal, txn, new_id, sign_reverse, RESTARTED)))
    return moved


RESTARTED = (
    "Interrupted before anything was sent (the terminal restarted).",
    "The terminal restarted before the bank's answer was recorded; the payment is being reversed.",
)
"""The history's sentences for a transaction recovery moved on: (cancelled, reversing)."""


def resolve(
    journal: Journal,
    txn: Transaction,
    new_id: Callable[[], str],
    sign_reverse: ReverseSigner,
    sentences: tuple[str, str],
    *,
    detail: str = "recovery",
) -> State:
    """Bring one in-flight transaction to a state that needs nobody: cancelled when nothing
    was sent, else `reversing` with its reversal committed to the queue in the same commit."""
    if txn.state in (State.CREATED, State.CARD_READ):
        journal.apply(Change(txn.id, Event.CANCEL, {"message": sentences[0]}, detail=detail))
        return State.CANCELLED
    before: tuple[Change, ...] = ()
    if txn.state is State.AUTHORISING:
        before = (Change(txn.id, Event.NO_ANSWER, detail=detail),)
    reverse_id = new_id()

    def sign(seq: int, at: datetime) -> bytes:
        return sign_reverse(reverse_id, txn.id, txn.amount, seq, at)

    journal.enqueue(
        Change(txn.id, Event.REVERSE, {"message": sentences[1]}, detail=detail),
        "reverse",
        reverse_id,
        txn.amount,
        sign,
        before=before,
    )
    log.warning(
        "%s: %s %s was %s; reversal %s queued", detail, txn.type, txn.id, txn.state, reverse_id
    )
    return State.REVERSING
