"""The gateway link's transport on real loopback sockets: keep-alive, and each failure as the
httpcore exception the client sorts into "nothing sent" or "sent, no answer"."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpcore
import pytest

from terminal.gateway.transport import GatewayTransport
from tests.conftest import free_port

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class LoopbackServer:
    """A tiny HTTP/1.1 server whose behaviour per connection the test chooses."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self.port = free_port()
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> LoopbackServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.behaviour(reader, writer)
        finally:
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/messages"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return await reader.readexactly(length)


def answer(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


async def echo_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        try:
            body = await read_request(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        writer.write(answer(body))
        await writer.drain()


async def echo_once_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    body = await read_request(reader)
    writer.write(answer(body))
    await writer.drain()


async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await asyncio.sleep(5)


async def cut_mid_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf")
    await writer.drain()


@pytest.fixture
async def transport() -> AsyncIterator[GatewayTransport]:
    link = GatewayTransport(None)
    yield link
    await link.aclose()


async def post(
    transport: GatewayTransport, url: str, body: bytes, read_s: float = 2.0
) -> tuple[int, bytes]:
    return await transport.exchange("POST", url, body, connect_s=1.0, read_s=read_s)


async def test_requests_share_one_keep_alive_connection(transport: GatewayTransport) -> None:
    async with LoopbackServer(echo_forever) as server:
        for n in range(5):
            assert await post(transport, server.url, b"advice %d" % n) == (200, b"advice %d" % n)
        assert server.connections == 1


def serve_in_thread(port: int, close_after_first: threading.Event) -> threading.Thread:
    """Blocking server in its own thread: answers one request per connection; closes the
    first connection only when told (while the client's loop is not running)."""
    listener = socket.create_server(("127.0.0.1", port))

    def run() -> None:
        with listener:
            for n in range(2):
                conn, _ = listener.accept()
                with conn:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        request += conn.recv(4096)
                    conn.sendall(answer(b"answer %d" % n))
                    if n == 0:
                        close_after_first.wait(5)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def test_a_connection_the_server_closed_is_replaced_not_reported(
    transport: GatewayTransport,
) -> None:
    port = free_port()
    close_now = threading.Event()
    server = serve_in_thread(port, close_now)
    url = f"http://127.0.0.1:{port}/v1/messages"
    assert (await post(transport, url, b"one"))[1] == b"answer 0"
    close_now.set()
    time.sleep(0.2)  # the server closes while this loop is blocked: it has not seen the FIN
    assert (await post(transport, url, b"two"))[1] == b"answer 1"
    server.join(5)


async def test_nobody_listening_is_a_connect_error(transport: GatewayTransport) -> None:
    with pytest.raises(httpcore.ConnectError):
        await post(transport, f"http://127.0.0.1:{free_port()}/v1/messages", b"x")


async def test_silence_after_sending_is_a_read_timeout(transport: GatewayTransport) -> None:
    async with LoopbackServer(never_answer) as server:
        with pytest.raises(httpcore.ReadTimeout):
            await post(transport, server.url, b"x", read_s=0.2)


async def test_a_connection_cut_mid_answer_is_a_protocol_error(
    transport: GatewayTransport,
) -> None:
    async with LoopbackServer(cut_mid_answer) as server:
        with pytest.raises((httpcore.RemoteProtocolError, httpcore.ReadError)):
            await post(transport, server.url, b"x")


def flood_in_thread(port: int, *, declare_length: bool, total: int = 300 * 1024 * 1024) -> None:
    """A blocking server that answers one request with `total` bytes of body (300 MB by
    default), chunked or with the length declared, one reused 1 MiB block at a time, until the
    client hangs up. Its own memory stays flat, so a traced peak is the client's."""
    listener = socket.create_server(("127.0.0.1", port))
    block = b"A" * (1024 * 1024)

    def run() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(4096)
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/jose\r\n"
                head += (
                    b"Content-Length: %d\r\n\r\n" % total
                    if declare_length
                    else b"Transfer-Encoding: chunked\r\n\r\n"
                )
                try:
                    conn.sendall(head)
                    for _ in range(total // len(block)):
                        if not declare_length:
                            conn.sendall(b"%x\r\n" % len(block))
                        conn.sendall(block)
                        if not declare_length:
                            conn.sendall(b"\r\n")
                except OSError:
                    return  # the client closed the connection: what the cap is for

    threading.Thread(target=run, daemon=True).start()


@pytest.mark.parametrize("declare_length", [False, True], ids=["chunked", "declared"])
async def test_a_300_mb_answer_is_cut_at_the_cap_without_a_big_allocation(
    transport: GatewayTransport, declare_length: bool
) -> None:
    import tracemalloc

    from terminal.gateway.errors import AnswerTooLarge
    from terminal.gateway.jose import MAX_COMPACT_BYTES

    port = free_port()
    flood_in_thread(port, declare_length=declare_length)
    tracemalloc.start()
    try:
        with pytest.raises(AnswerTooLarge) as refused:
            await post(transport, f"http://127.0.0.1:{port}/v1/messages", b"x", read_s=10.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.limit == MAX_COMPACT_BYTES == 64 * 1024
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes while refusing the answer"


async def test_an_answer_at_the_cap_is_read_whole(transport: GatewayTransport) -> None:
    from terminal.gateway.jose import MAX_COMPACT_BYTES

    body = b"J" * MAX_COMPACT_BYTES

    async def big_but_allowed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(body))
        await writer.drain()

    async with LoopbackServer(big_but_allowed) as server:
        assert await post(transport, server.url, b"x") == (200, body)
