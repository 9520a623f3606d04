"""The nexo listener: HTTPS on `[nexo] listen` (port 8443), POST /nexo/ (and /nexo).

Every request is answered by `NexoDoor.handle`, which never raises; anything else on the port is
an HTTP 4xx. A body must arrive within 10 seconds and stay under `wire.MAX_BODY`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web

from terminal.ecr.server import HTTP_LIMITS
from terminal.errors import PostermError
from terminal.nexo import certificate
from terminal.nexo.door import NexoDoor
from terminal.nexo.wire import MAX_BODY
from terminal.settings import Settings

log = logging.getLogger(__name__)

BODY_TIMEOUT_S = 10.0
DOOR: web.AppKey[NexoDoor] = web.AppKey("door", NexoDoor)


class NexoUnavailable(PostermError):
    """The nexo door cannot start (port in use, certificate missing or unreadable)."""

    exit_code = 3


async def nexo(request: web.Request) -> web.StreamResponse:
    if request.content_length is not None and request.content_length > MAX_BODY:
        return web.Response(status=413)
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            body = await request.read()
    except TimeoutError:
        return web.Response(status=408)
    answer = await request.app[DOOR].handle(body)
    if answer.body is None:
        return web.Response(status=answer.status)
    content_type = "application/json" if answer.body else None
    return web.Response(status=answer.status, body=answer.body, content_type=content_type)


@web.middleware
async def _no_5xx(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return web.Response(status=413)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("nexo %s %s failed", request.method, request.path)
        return web.Response(status=400)


def build_nexo_app(door: NexoDoor) -> web.Application:
    app = web.Application(middlewares=[_no_5xx], client_max_size=MAX_BODY)
    app[DOOR] = door
    app.router.add_post("/nexo/", nexo)
    app.router.add_post("/nexo", nexo)
    return app


def tls_context(settings: Settings) -> ssl.SSLContext:
    """The server's TLS context; makes the certificate first when none was configured."""
    files = certificate.files(settings)
    if not settings.nexo.cert_file and not files.cert.exists():
        certificate.create(settings)
        log.warning(
            "nexo: made a new certificate; hand %s to the POS (posterm keys nexo-cert)", files.ca
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # No TLS 1.3 session tickets: the official clients make a new agent, so a new TLS session,
    # for every request and never resume one; two tickets per connection were work for both
    # sides (and one more write) on every payment.
    context.num_tickets = 0
    try:
        context.load_cert_chain(files.cert, files.key)
    except (OSError, ssl.SSLError) as error:
        raise NexoUnavailable(
            f"The nexo certificate {files.cert} or its key {files.key} cannot be used: {error}. "
            "Run `posterm keys nexo-cert`."
        ) from None
    return context


class NexoServer:
    """Runs the nexo door on `[nexo] listen` inside the current event loop."""

    def __init__(self, settings: Settings, door: NexoDoor) -> None:
        self.settings = settings
        self.door = door
        self.app = build_nexo_app(door)
        self._runner: web.AppRunner | None = None
        host, _, port = settings.nexo.listen.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)

    async def start(self) -> None:
        context = None if self.settings.nexo.allow_plain_http else tls_context(self.settings)
        runner = web.AppRunner(self.app, access_log=None, **HTTP_LIMITS)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=context)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            raise NexoUnavailable(
                f"The nexo API cannot listen on {self.settings.nexo.listen}: {error.strerror}. "
                "Change nexo.listen or stop what uses that port."
            ) from None
        self._runner = runner
        scheme = "http" if context is None else "https"
        log.info(
            "nexo Terminal API on %s://%s/nexo/ (POIID %s)",
            scheme,
            self.settings.nexo.listen,
            self.door.poi_id,
        )

    async def stop(self) -> None:
        await self.door.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.door.store.close()
