"""The gateway link's HTTP transport: httpcore's connection pool over plain asyncio streams.

Why not httpx's default transport: every forwarded advice is one HTTPS request, and under a
backlog the terminal's CPU, not the network, sets the pace. httpcore's default network layer
goes through anyio, whose bookkeeping costs more than the request itself: on each request the
pool checks every pooled connection for expiry with a `poll()` syscall reached through anyio's
typed-attribute lookups, and every read and write enters cancel scopes (py-spy on the 5,000-
advice drain: ~45 % of the terminal's event loop). Here the same `httpcore.AsyncConnectionPool`
(HTTP/1.1, keep-alive, TLS verified with the caller's context) runs on asyncio streams, where
"has the server closed this idle connection" is a flag the event loop already keeps.

`exchange` raises httpcore's own exceptions, untranslated: the gateway client sorts them once
into "nothing sent" and "sent, no answer" (client.py); nothing in between re-maps them. The one
exception of its own is `AnswerTooLarge`: the body is read in chunks and reading stops (the
connection is closed, not returned to the pool) as soon as the answer passes the size cap, so a
hostile or broken peer streaming hundreds of megabytes costs the terminal 64 KiB, not its memory.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import Coroutine, Iterable
from typing import Any

import httpcore

from terminal.gateway.errors import AnswerTooLarge
from terminal.gateway.jose import MAX_COMPACT_BYTES

CLOSE_WAIT_S = 1.0
"""How long closing a connection may wait for the TLS goodbye before the socket is dropped."""

_READ_LIMIT = 256 * 1024
_DEFAULT_PORTS = {b"http": 80, b"https": 443}


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or TLS) connection as httpcore wants it, on an asyncio StreamReader/Writer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout("timed out reading from the gateway") from None
        except OSError as error:
            raise httpcore.ReadError(str(error) or type(error).__name__) from error

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError:
            raise httpcore.WriteTimeout("timed out writing to the gateway") from None
        except (OSError, RuntimeError) as error:
            raise httpcore.WriteError(str(error) or type(error).__name__) from error

    async def aclose(self) -> None:
        self._writer.close()
        try:
            async with asyncio.timeout(CLOSE_WAIT_S):
                await self._writer.wait_closed()
        except (TimeoutError, OSError):
            self._writer.transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError:
            self._writer.transport.abort()
            raise httpcore.ConnectTimeout("TLS handshake with the gateway timed out") from None
        except OSError as error:  # ssl.SSLError (certificate refused, ...) is an OSError
            self._writer.transport.abort()
            raise httpcore.ConnectError(str(error) or type(error).__name__) from error
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Idle keep-alive connection: readable means the server closed it (or broke it).
            # The loop may not have run since the FIN arrived, so ask the socket too.
            return (
                self._reader.at_eof()
                or self._reader.exception() is not None
                or self._writer.transport.is_closing()
                or _socket_readable(self._writer.get_extra_info("socket"))
            )
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        return None


def _socket_readable(sock: Any) -> bool:
    """True when the socket has data or EOF waiting (one non-blocking poll)."""
    if sock is None:
        return True
    try:
        fd = sock.fileno()
        if fd < 0:
            return True
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens connections for httpcore's pool with asyncio itself (no anyio layer)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        local = (local_address, 0) if local_address else None
        opening = asyncio.open_connection(host, port, local_addr=local, limit=_READ_LIMIT)
        return await _connected(opening, f"{host}:{port}", timeout, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        opening = asyncio.open_unix_connection(path, limit=_READ_LIMIT)
        return await _connected(opening, path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connected(
    opening: Coroutine[Any, Any, tuple[asyncio.StreamReader, asyncio.StreamWriter]],
    where: str,
    timeout: float | None,
    socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
) -> httpcore.AsyncNetworkStream:
    """Await a connection within `timeout`, as httpcore's connect errors."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await opening
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"connecting to {where} timed out") from None
    except OSError as error:
        raise httpcore.ConnectError(str(error) or type(error).__name__) from error
    _apply(writer, socket_options)
    return AsyncioStream(reader, writer)


def _apply(writer: asyncio.StreamWriter, options: Iterable[httpcore.SOCKET_OPTION] | None) -> None:
    sock: socket.socket | None = writer.get_extra_info("socket")
    if sock is None:
        return
    for option in options or ():
        sock.setsockopt(*option)


class GatewayTransport:
    """The gateway link's requests: httpcore's HTTP/1.1 pool on `AsyncioBackend`.

    `ssl_context` verifies the gateway (https URLs); plain http (loopback only, checked by the
    client) needs none.
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None,
        *,
        max_connections: int = 32,
        keepalive_expiry_s: float = 5.0,
        max_answer_bytes: int = MAX_COMPACT_BYTES,
    ) -> None:
        self.max_answer_bytes = max_answer_bytes
        """The largest answer body read; past it `AnswerTooLarge` (the protocol's JWS cap)."""
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=keepalive_expiry_s,
            http1=True,
            http2=False,
            network_backend=AsyncioBackend(),
        )

    async def exchange(
        self, method: str, url: str, body: bytes = b"", *, connect_s: float, read_s: float
    ) -> tuple[int, bytes]:
        """One request, its body read and the connection back in the pool: (status, body).

        Raises httpcore's exceptions (ConnectError, ReadTimeout, RemoteProtocolError, ...), and
        `AnswerTooLarge` once the body passes `max_answer_bytes` (declared or streamed).
        """
        target = httpcore.URL(url)
        host = target.host
        if target.port is not None and target.port != _DEFAULT_PORTS.get(target.scheme):
            host = b"%b:%d" % (host, target.port)
        headers = [(b"Host", host), (b"User-Agent", b"posterm")]
        if method == "POST":
            headers += [
                (b"Content-Type", b"application/jose"),
                (b"Content-Length", str(len(body)).encode("ascii")),
            ]
        timeouts = {"connect": connect_s, "read": read_s, "write": read_s, "pool": read_s}
        response = await self._pool.handle_async_request(
            httpcore.Request(
                method, target, headers=headers, content=body, extensions={"timeout": timeouts}
            )
        )
        try:
            content = await self._read_capped(response)
        finally:
            # Closing a response whose body was not read to the end closes its connection.
            await response.aclose()
        return response.status, content

    async def _read_capped(self, response: httpcore.Response) -> bytes:
        """The body, read chunk by chunk and never past the cap (a declared length above the
        cap is refused before any of it is read)."""
        limit = self.max_answer_bytes
        for name, value in response.headers:
            if name.lower() == b"content-length" and value.strip().isdigit():
                if int(value) > limit:
                    raise AnswerTooLarge(limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_stream():
            size += len(chunk)
            if size > limit:
                raise AnswerTooLarge(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        await self._pool.aclose()
