"""The HTTPS client for protocol v1: send one signed message, get its verified answer.

What each failure means for money decides what the client does:

- connection refused / connect timeout / TLS handshake failure: nothing was sent. The secondary
  URL (if any) is tried at once; if it fails too and the message never went out on an earlier
  attempt, `NothingSent` (the sale may go offline).
- read timeout, connection dropped after sending, 5xx, or an answer whose signature does not
  verify (logged as an alarm): the outcome is unknown. The SAME bytes are sent again with jittered
  exponential backoff until the deadline, then `OutcomeUnknown` (the engine reverses).
- a documented 4xx (`{"error": code}`): `ProtocolRejected` at once; retrying cannot help.

The transport is a parameter (tests pass an `httpx.MockTransport` or a real transport with
special settings); the default is `GatewayTransport` (httpcore's pool on plain asyncio). TLS
is verified against `gateway.ca_file`; plain http is used only for loopback hosts when
`gateway.allow_plain_http_loopback` is set.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from terminal.gateway.errors import (
    BadAnswer,
    GatewayError,
    NothingSent,
    OutcomeUnknown,
    ProtocolRejected,
)
from terminal.gateway.jose import GatewayKeys
from terminal.gateway.messages import Answer
from terminal.gateway.transport import GatewayTransport
from terminal.loopback import is_loopback
from terminal.settings import Settings

log = logging.getLogger("terminal.gateway")

BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 2.0
HEALTH_TIMEOUT_S = 2.0
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
_SENT_NO_ANSWER = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.NetworkError,
)


def backoff_s(attempt: int, rng: random.Random) -> float:
    """Full-jitter exponential backoff before retry number `attempt` (1, 2, ...)."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (attempt - 1))
    return rng.uniform(ceiling / 2, ceiling)


def tls_context(ca_file: str) -> ssl.SSLContext:
    """Verify the gateway against `ca_file` (or the system CAs), TLS 1.2 or newer."""
    try:
        context = ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as error:
        raise GatewayError(
            f"The gateway CA file {ca_file!r} cannot be read ({error}); check gateway.ca_file."
        ) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class GatewayClient:
    """Sends messages to the primary gateway (secondary on connect failure)."""

    def __init__(
        self,
        settings: Settings,
        keys: GatewayKeys,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        gateway = settings.gateway
        self.keys = keys
        self.timeout_s = gateway.timeout_s
        self.connect_timeout_s = gateway.connect_timeout_s
        self.urls = [url for url in (gateway.url, gateway.secondary_url) if url]
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme == "http" and not (
                gateway.allow_plain_http_loopback and is_loopback(parts.hostname or "")
            ):
                raise GatewayError(
                    f"Refusing plain http to {url}: only loopback hosts with "
                    "gateway.allow_plain_http_loopback = true may skip TLS."
                )
        self.rng = rng or random.Random()
        self.online = False
        """Last known link state: True after any answer, False after nothing could be sent."""
        self._transport = transport or GatewayTransport(tls_context(gateway.ca_file))

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def _exchange(
        self, method: str, url: str, timeout: httpx.Timeout, body: bytes = b""
    ) -> httpx.Response:
        """One request straight through the transport, body read and connection released.

        Why not `httpx.AsyncClient`: this link needs none of what the client adds (cookies,
        auth, redirects, URL merging), and under a store-and-forward backlog that layer cost a
        third of the terminal's CPU per request. The transport, its timeouts (the request's
        `timeout` extension) and its exception classes are httpx's own.
        """
        headers = {"User-Agent": "posterm"}
        if method == "POST":
            headers["Content-Type"] = "application/jose"
        request = httpx.Request(
            method, url, content=body, headers=headers, extensions={"timeout": timeout.as_dict()}
        )
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    def _attempt_timeout(self, remaining: float) -> float:
        """Read timeout of one attempt: a third of the gateway timeout, so retries fit."""
        return max(0.05, min(remaining, max(1.0, self.timeout_s / 3)))

    async def send(
        self, message_id: str, body: bytes, *, deadline_s: float | None = None
    ) -> Answer:
        """POST the exact signed bytes until a verified answer or the deadline (see module doc)."""
        deadline = time.monotonic() + (deadline_s if deadline_s is not None else self.timeout_s)
        sent = False
        attempt = 0
        last_problem = ""
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            connected = False
            for url in self.urls:
                try:
                    response = await self._exchange(
                        "POST",
                        f"{url}/v1/messages",
                        httpx.Timeout(
                            self._attempt_timeout(remaining),
                            connect=min(self.connect_timeout_s, max(remaining, 0.05)),
                        ),
                        body,
                    )
                except _NOT_SENT as error:
                    last_problem = f"{url}: cannot connect ({type(error).__name__})"
                    log.info("gateway not reachable", extra={"url": url, "txn_id": message_id})
                    continue
                except _SENT_NO_ANSWER as error:
                    connected = sent = True
                    last_problem = f"{url}: no answer ({type(error).__name__})"
                    log.warning(
                        "gateway did not answer; will retry the same message",
                        extra={"url": url, "txn_id": message_id, "attempt": attempt},
                    )
                    break
                connected = sent = True
                self.online = True
                answer = self._read(message_id, response)
                if answer is not None:
                    return answer
                last_problem = f"{url}: HTTP {response.status_code}"
                break
            if not connected:
                self.online = False
                if not sent:
                    raise NothingSent(last_problem)
            remaining = deadline - time.monotonic()
            if remaining <= 0.01:
                self.online = False if not connected else self.online
                raise OutcomeUnknown(message_id, attempt, last_problem)
            await asyncio.sleep(min(backoff_s(attempt, self.rng), remaining))
            if deadline - time.monotonic() <= 0.01:
                raise OutcomeUnknown(message_id, attempt, last_problem)

    def _read(self, message_id: str, response: httpx.Response) -> Answer | None:
        """The verified answer; None when it counts as no answer; raises for protocol errors."""
        status = response.status_code
        if status == 200:
            try:
                return self.keys.verify_answer(response.content, expected_id=message_id)
            except BadAnswer as alarm:
                log.error(
                    "SECURITY ALARM: gateway answer rejected (%s); treated as no answer",
                    alarm.reason,
                    extra={"txn_id": message_id},
                )
                return None
        if status >= 500:
            log.warning("gateway error %d; will retry", status, extra={"txn_id": message_id})
            return None
        code, message = _error_of(response)
        log.warning(
            "gateway refused the message: %d %s %s",
            status,
            code,
            message,
            extra={"txn_id": message_id},
        )
        raise ProtocolRejected(status, code, message)

    async def health(self) -> bool:
        """GET /v1/health on the primary, then the secondary; updates `online`."""
        for url in self.urls:
            try:
                response = await self._exchange(
                    "GET",
                    f"{url}/v1/health",
                    httpx.Timeout(
                        HEALTH_TIMEOUT_S, connect=min(HEALTH_TIMEOUT_S, self.connect_timeout_s)
                    ),
                )
            except httpx.HTTPError:
                continue
            if response.status_code == 200:
                try:
                    ok = response.json().get("status") == "ok"
                except ValueError:
                    ok = False
                if ok:
                    self.online = True
                    return True
        self.online = False
        return False


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        data: Any = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        message = data.get("message")
        return data["error"][:64], message[:200] if isinstance(message, str) else ""
    return f"http_{response.status_code}", ""
