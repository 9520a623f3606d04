"""The events waiting for the broker: bounded, oldest dropped first, the drops counted.

A terminal keeps selling while the broker is down; its memory must not grow with the outage,
and the fleet must learn that events were lost rather than believe the quiet.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class EventQueue:
    """A thread-safe FIFO of event objects holding at most `limit`."""

    def __init__(self, limit: int) -> None:
        self._items: deque[dict[str, Any]] = deque()
        self._limit = limit
        self._lock = threading.Lock()
        self.dropped = 0
        """Events dropped since the last `take_dropped` (oldest first)."""

    def put(self, event: dict[str, Any]) -> None:
        with self._lock:
            if len(self._items) >= self._limit:
                self._items.popleft()
                self.dropped += 1
            self._items.append(event)

    def peek(self) -> dict[str, Any] | None:
        with self._lock:
            return self._items[0] if self._items else None

    def pop(self) -> None:
        """Remove the oldest event (after it was handed to the broker)."""
        with self._lock:
            if self._items:
                self._items.popleft()

    def take_dropped(self) -> int:
        """The count of dropped events, reset to zero (reported once)."""
        with self._lock:
            dropped, self.dropped = self.dropped, 0
            return dropped

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
