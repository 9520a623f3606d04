"""One persistent TCP (TLS) connection to the acquirer host, and answers matched to requests.

Requests are framed and written; a reader task takes every frame the host sends, decodes it
and hands it to the request waiting for (answer MTI, STAN, F41). What matches no waiting
request (a late answer to an earlier request, an answer for another terminal, an unknown STAN)
is logged with a sentence and ignored, never taken for the current one. A frame that is not a
message of the dialect is logged and dropped; a host that closes in the middle of a frame
drops the connection, and the waiting requests end as "no answer".

    link = Link(address, dialect, ssl_context, connect_timeout_s=3)
    answer, body = await link.exchange(key, wire, timeout_s=30)   # raises LinkError kinds
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from terminal.gateway.trust import clear_alarm, raise_alarm
from terminal.iso8583.codec import Message, decode
from terminal.iso8583.dialect import Dialect
from terminal.iso8583.errors import Iso8583Error, MessageError

log = logging.getLogger("terminal.iso8583.link")

Key = tuple[str, str, str]
"""(answer MTI, STAN, terminal id)."""


class NotConnected(Iso8583Error):
    """The host could not be connected to: nothing was sent."""

    def __init__(self, sentence: str, *, untrusted: bool = False) -> None:
        super().__init__(sentence)
        self.untrusted = untrusted
        """The host's TLS certificate did not verify (a security alarm, no offline approval)."""


class NoReply(Iso8583Error):
    """The request went out (or may have); no answer came before the deadline."""


@dataclass(frozen=True, slots=True)
class Answer:
    message: Message
    body: bytes


class Link:
    """The terminal's one connection to the host, opened on demand and re-opened after a drop."""

    def __init__(
        self,
        host: str,
        port: int,
        dialect: Dialect,
        ssl_context: ssl.SSLContext | None,
        *,
        terminal_id: str,
        connect_timeout_s: float = 3.0,
        data_dir: Path | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.dialect = dialect
        self.ssl_context = ssl_context
        self.terminal_id = terminal_id
        self.connect_timeout_s = connect_timeout_s
        self.data_dir = data_dir
        """Where the link's trust alarm is kept (terminal.gateway.trust), when given."""
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._waiting: dict[Key, asyncio.Future[Answer]] = {}
        self._connect_lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self) -> None:
        """Open the connection if it is not open. Raises NotConnected."""
        async with self._connect_lock:
            if self.connected:
                return
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        self.host,
                        self.port,
                        ssl=self.ssl_context,
                        server_hostname=self.host if self.ssl_context else None,
                    ),
                    self.connect_timeout_s,
                )
            except ssl.SSLCertVerificationError as error:
                detail = (
                    f"{self.host}:{self.port}: certificate not trusted ({error.verify_message})"
                )
                if self.data_dir is not None:
                    raise_alarm(self.data_dir, detail)
                log.error("security alarm: the acquirer host's TLS certificate failed (%s)", detail)
                raise NotConnected(
                    f"the acquirer host's certificate did not verify ({error.verify_message})",
                    untrusted=True,
                ) from None
            except (OSError, TimeoutError, ssl.SSLError) as error:
                raise NotConnected(
                    f"the acquirer host {self.host}:{self.port} cannot be reached "
                    f"({type(error).__name__}: {error or 'timeout'})"
                ) from None
            self._writer = writer
            self._reader_task = asyncio.create_task(self._read(reader, writer))
            if self.ssl_context is not None and self.data_dir is not None:
                clear_alarm(self.data_dir)

    async def exchange(self, key: Key, wire: bytes, *, timeout_s: float) -> Answer:
        """Send one framed request and wait for the answer under `key`.

        Raises NotConnected (nothing left) or NoReply (it may have arrived)."""
        await self.connect()
        writer = self._writer
        assert writer is not None
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        try:
            try:
                writer.write(wire)
                await writer.drain()
            except (OSError, ConnectionError) as error:
                await self._drop(f"writing failed: {error}")
                raise NoReply(f"the link broke while sending ({error})") from None
            try:
                return await asyncio.wait_for(future, timeout_s)
            except TimeoutError:
                raise NoReply(f"no answer within {timeout_s:g} s") from None
        finally:
            self._waiting.pop(key, None)

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        width = self.dialect.length_prefix
        reason = "the host closed the connection"
        try:
            while True:
                try:
                    prefix = await reader.readexactly(width)
                except asyncio.IncompleteReadError as error:
                    if error.partial:
                        reason = "the host closed the connection inside a length prefix"
                    break
                size = int.from_bytes(prefix, "big")
                if size == 0:
                    log.warning("the acquirer host sent an empty frame; ignored")
                    continue
                try:
                    body = await reader.readexactly(size)
                except asyncio.IncompleteReadError as error:
                    reason = (
                        f"the host's frame announced {size} bytes but the connection closed "
                        f"after {len(error.partial)}: a truncated frame, ignored"
                    )
                    break
                self._dispatch(body)
        except (OSError, ConnectionError) as error:
            reason = f"the connection failed: {error}"
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()
            log.warning("ISO 8583 link to %s:%s closed: %s", self.host, self.port, reason)
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(NoReply(f"the link closed before the answer ({reason})"))

    def _dispatch(self, body: bytes) -> None:
        try:
            message = decode(body, self.dialect)
        except MessageError as error:
            log.error("the acquirer host sent bytes that are not a message; ignored: %s", error)
            return
        terminal = message.text(41)
        key = (message.mti, message.text(11), terminal)
        future = self._waiting.get(key)
        if future is None or future.done():
            if terminal != self.terminal_id:
                log.error(
                    "the acquirer host sent a %s for terminal %r, not this one (%s); ignored",
                    message.mti,
                    terminal,
                    self.terminal_id,
                )
            else:
                log.warning(
                    "the acquirer host sent a %s with STAN %r that no request is waiting for "
                    "(a late or unknown answer); ignored",
                    message.mti,
                    message.text(11),
                )
            return
        future.set_result(Answer(message, body))

    async def _drop(self, reason: str) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        log.warning("ISO 8583 link dropped: %s", reason)

    async def aclose(self) -> None:
        await self._drop("closing")
        task, self._reader_task = self._reader_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
