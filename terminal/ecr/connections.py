"""Who may hold a connection to the ECR API, and for how long.

Without this, anyone who can reach the port could open connections and send nothing (or half a
header, a byte at a time): aiohttp waits an hour by default, and a thousand such sockets use
up the process's file descriptors, so the till's next payment cannot even connect.

- A connection is a *stranger* until one of its requests carried the right token. A stranger
  has `ecr.header_timeout_s` to become trusted; then it is closed.
- At most `ecr.max_connections` are open. At the limit, the oldest stranger is closed to make
  room for the newcomer (a till connects and sends its token within milliseconds, so a flood
  of strangers only ever pushes out itself); when every open connection is trusted, the
  newcomer is refused. One warning is logged per burst, not one per connection.

It wraps aiohttp's protocol factory (`AppRunner.server`) rather than aiohttp's internals: each
accepted socket gets a small protocol that counts it and hands everything to aiohttp's own.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable

log = logging.getLogger(__name__)

QUIET_S = 10.0
"""A burst ends after this long without hitting the limit; the next one is logged again."""


class ConnectionGuard:
    """Counts the API's connections, closes strangers that overstay, and caps the total."""

    def __init__(self, max_connections: int, header_timeout_s: float) -> None:
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self._open: OrderedDict[GuardedConnection, None] = OrderedDict()
        """Open connections, oldest first."""
        self._by_handler: dict[object, GuardedConnection] = {}
        self._last_at_limit: float | None = None
        self.refused = 0
        """Newcomers turned away because every open connection was trusted."""
        self.evicted = 0
        """Strangers closed to make room."""
        self.expired = 0
        """Strangers closed after header_timeout_s."""

    @property
    def open(self) -> int:
        return len(self._open)

    def protocol_factory(
        self, handler_factory: Callable[[], asyncio.Protocol]
    ) -> Callable[[], asyncio.Protocol]:
        """The factory for `loop.create_server`: aiohttp's, behind this guard."""
        return lambda: GuardedConnection(self, handler_factory)

    def trust(self, handler: object) -> None:
        """A request on this connection (aiohttp's `request.protocol`) carried the token."""
        connection = self._by_handler.get(handler)
        if connection is not None:
            connection.trust()

    def _admit(self, connection: GuardedConnection) -> bool:
        if len(self._open) >= self.max_connections:
            self._at_limit()
            stranger = next((c for c in self._open if not c.trusted), None)
            if stranger is None:
                self.refused += 1
                return False
            self.evicted += 1
            stranger.close()
        self._open[connection] = None
        return True

    def _at_limit(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._last_at_limit is None or now - self._last_at_limit > QUIET_S:
            log.warning(
                "The ECR API has reached its limit of %d connections (ecr.max_connections): "
                "closing the oldest that have not sent the token, refusing new ones if all "
                "have. Something may be flooding the port; this is logged once per burst.",
                self.max_connections,
            )
        self._last_at_limit = now

    def _register(self, connection: GuardedConnection, handler: object) -> None:
        self._by_handler[handler] = connection

    def _forget(self, connection: GuardedConnection) -> None:
        self._open.pop(connection, None)
        if connection.handler is not None:
            self._by_handler.pop(connection.handler, None)


class GuardedConnection(asyncio.Protocol):
    """One accepted socket: admitted or refused, then aiohttp's handler does the HTTP."""

    def __init__(
        self, guard: ConnectionGuard, handler_factory: Callable[[], asyncio.Protocol]
    ) -> None:
        self.guard = guard
        self.handler_factory = handler_factory
        self.handler: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.trusted = False
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self.guard._admit(self):
            transport.abort()
            return
        self._deadline = asyncio.get_running_loop().call_later(
            self.guard.header_timeout_s, self._overstayed
        )
        self.handler = self.handler_factory()
        self.guard._register(self, self.handler)
        self.handler.connection_made(transport)

    def trust(self) -> None:
        self.trusted = True
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def close(self) -> None:
        """Close now (a stranger pushed out at the limit or past its deadline)."""
        self.guard._forget(self)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self.transport is not None:
            self.transport.abort()

    def _overstayed(self) -> None:
        self._deadline = None
        if not self.trusted:
            self.guard.expired += 1
            log.debug("ECR connection closed: no request with the token in time")
            self.close()

    def data_received(self, data: bytes) -> None:
        if self.handler is not None:
            self.handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self.handler.eof_received() if self.handler is not None else None

    def pause_writing(self) -> None:
        if self.handler is not None:
            self.handler.pause_writing()

    def resume_writing(self) -> None:
        if self.handler is not None:
            self.handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard._forget(self)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self.handler is not None:
            self.handler.connection_lost(exc)
