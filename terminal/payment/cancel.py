"""An operator's or till's cancel that answers at once whether it will be honoured.

A cancel the terminal accepts must mean the customer is not charged. Before the sale's
request is committed (card not read yet, or read but not sent) nothing can be charged, so a
cancel is accepted and the engine promises not to send: it asks the token in the same journal
commit that moves the sale to `authorising` (`pass_point_of_no_return`), under the token's
lock, so a cancel either lands before that commit (the sale ends cancelled, nothing sent) or
is refused after it (the bank was asked; the sale ends approved or declined). A merchant-
presented code can be withdrawn while it is shown (the intent is voided, or reversed if the
bank cannot confirm), so the token is only held while the terminal asks whether it was paid.

The token is an `asyncio.Event` (set = cancel accepted), so capture steps and devices that
wait for a cancel keep doing so; a plain `asyncio.Event` handed to the engine still works,
it only cannot answer synchronously.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

AUTHORISING_SENTENCE = (
    "The payment is authorising with the bank and cannot be cancelled; it will end approved "
    "or declined. Refund or void it afterwards if needed."
)


@dataclass(frozen=True, slots=True)
class CancelAnswer:
    """Whether a cancel will be honoured; when refused, the sale's state and a sentence."""

    accepted: bool
    state: str = ""
    sentence: str = ""


class CancelToken(asyncio.Event):
    """A cancel request that is either honoured (nothing charged) or refused at once."""

    def __init__(self) -> None:
        super().__init__()
        self._guard = threading.Lock()
        self._held: tuple[str, str] | None = None
        """(state, sentence) while a cancel cannot be honoured."""

    def request(self) -> CancelAnswer:
        """Ask to cancel (on the event loop): accepted means nothing will be charged."""
        with self._guard:
            if self._held is not None:
                state, sentence = self._held
                return CancelAnswer(False, state, sentence)
            self.set()
            return CancelAnswer(True)

    def hold(self, state: str, sentence: str = AUTHORISING_SENTENCE) -> bool:
        """Pass the point of no return (any thread): False when a cancel came first, and the
        caller must then not send; True and later cancels are refused."""
        with self._guard:
            if self.is_set():
                return False
            self._held = (state, sentence)
            return True

    def release(self) -> None:
        """Cancels may be honoured again (a shown code once the status answer is in)."""
        with self._guard:
            self._held = None


def pass_point_of_no_return(cancel: asyncio.Event, state: str = "authorising") -> bool:
    """True when the caller may send: no cancel was accepted, and none will be from now on
    (a `CancelToken`); for a plain event, only that no cancel was asked for yet."""
    if isinstance(cancel, CancelToken):
        return cancel.hold(state)
    return not cancel.is_set()


class CancelledBeforeSend(Exception):
    """A cancel was accepted before the request was committed: nothing is sent."""
