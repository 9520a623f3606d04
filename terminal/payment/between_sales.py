"""A gate that lets new settings in only between payments.

Payments pass the gate (`payment()`); `between()` closes it to new payments, waits until the
ones under way have ended, and holds it closed while the caller swaps the settings, so a sale
that started under the old limits finishes under them and the next one sees the new ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class BetweenSales:
    """Counts running payments and keeps them apart from a change of settings."""

    def __init__(self) -> None:
        self._changed = asyncio.Condition()
        self._running = 0
        self._closed = False

    @property
    def running(self) -> int:
        return self._running

    @asynccontextmanager
    async def payment(self) -> AsyncIterator[None]:
        """One payment: waits while settings are being changed."""
        async with self._changed:
            await self._changed.wait_for(lambda: not self._closed)
            self._running += 1
        try:
            yield
        finally:
            async with self._changed:
                self._running -= 1
                self._changed.notify_all()

    @asynccontextmanager
    async def between(self) -> AsyncIterator[None]:
        """No payment runs inside this block; new ones wait until it ends."""
        async with self._changed:
            await self._changed.wait_for(lambda: not self._closed)
            self._closed = True
            try:
                await self._changed.wait_for(lambda: self._running == 0)
                yield
            finally:
                self._closed = False
                self._changed.notify_all()
