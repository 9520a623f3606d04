"""The HTTPS client for protocol v1: send one signed message, get its verified answer.

What each failure means for money decides what the client does:

- connection refused / connect timeout / TLS handshake failure: nothing was sent. The secondary
  URL (if any) is tried at once; if it fails too and the message never went out on an earlier
  attempt, `NothingSent` (the sale may go offline). When a certificate failed verification on
  the way, `Untrusted` instead (a `NothingSent`): a security alarm, logged and kept on disk
  (trust.py) until a verified connection answers, because a man in the middle must not be able
  to pass for "the bank is down" and force offline approvals.
- read timeout, connection dropped after sending, 5xx, or an answer whose signature does not
  verify or that passes the 64 KiB cap while it is read (logged as an alarm): the outcome is
  unknown. The SAME bytes are sent again with jittered
  exponential backoff until the deadline, then `OutcomeUnknown` (the engine reverses).
- a documented 4xx (`{"error": code}`): `ProtocolRejected` at once; retrying cannot help.
- the terminal's own failure while connecting (out of file handles, memory, disk: `LOCAL_FAULTS`):
  `LocalFailure` at once when nothing was sent yet; it is not the bank's fault, so the sale must
  not go offline. After an earlier attempt went out, the outcome stays unknown (reversal).

The HTTP library's exceptions (httpcore's) are sorted into those kinds here, once, where the
client meets the library; the payment core's adapter (payment/gateway_link.py) turns the
resulting gateway errors into its delivery kinds, and nothing re-maps them in between.

The transport is a parameter (tests pass a scripted one or a real transport with special
settings); the default is `GatewayTransport` (httpcore's pool on plain asyncio). TLS is
verified against `gateway.ca_file`; plain http is used only for loopback hosts when
`gateway.allow_plain_http_loopback` is set.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import random
import ssl
import time
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpcore

from terminal.backoff import backoff_s as backoff
from terminal.gateway.errors import (
    AnswerTooLarge,
    BadAnswer,
    GatewayError,
    LocalFailure,
    NothingSent,
    OutcomeUnknown,
    ProtocolRejected,
    Untrusted,
)
from terminal.gateway.jose import GatewayKeys
from terminal.gateway.messages import Answer
from terminal.gateway.transport import GatewayTransport
from terminal.gateway.trust import clear_alarm, raise_alarm
from terminal.loopback import is_loopback
from terminal.security import alarms
from terminal.settings import Settings
from terminal.settings.gateway_section import SYSTEM_CAS

log = logging.getLogger("terminal.gateway")

BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 2.0
HEALTH_TIMEOUT_S = 2.0
# httpcore's exceptions, sorted once by what they mean for money.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpcore.ConnectError,
    httpcore.ConnectTimeout,
    httpcore.PoolTimeout,
    httpcore.UnsupportedProtocol,
)
"""No connection: the request never left (the secondary may be tried, the sale may go offline)."""
_SENT_NO_ANSWER: tuple[type[Exception], ...] = (
    httpcore.ReadTimeout,
    httpcore.WriteTimeout,
    httpcore.ReadError,
    httpcore.WriteError,
    httpcore.RemoteProtocolError,
    httpcore.NetworkError,
)
"""Connected, then no complete answer: the request may have arrived."""
_LINK_DOWN: tuple[type[Exception], ...] = (
    *_NOT_SENT,
    *_SENT_NO_ANSWER,
    httpcore.TimeoutException,
    httpcore.ProtocolError,
    httpcore.ProxyError,
)
"""Any failure of a link check."""
LOCAL_FAULTS: dict[int, str] = {
    errno.EMFILE: "ran out of file handles",
    errno.ENFILE: "ran out of file handles (system-wide)",
    errno.ENOMEM: "ran out of memory",
    errno.ENOBUFS: "ran out of network buffers",
    errno.ENOSPC: "ran out of disk space",
    errno.EROFS: "found its disk read-only",
    errno.EIO: "had an input/output error",
}
"""Errors the terminal raises itself when it opens a connection: the bank is not at fault."""


def local_fault(error: BaseException) -> str | None:
    """What went wrong inside the terminal, when a connect error is one of `LOCAL_FAULTS`."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.errno in LOCAL_FAULTS:
            return f"{LOCAL_FAULTS[cause.errno]} ({errno.errorcode[cause.errno]})"
        cause = cause.__cause__ or cause.__context__
    return None


def backoff_s(attempt: int, rng: random.Random) -> float:
    """The pause before re-sending, retry number `attempt` (1, 2, ...): terminal/backoff.py."""
    return backoff(attempt, first_s=BACKOFF_FIRST_S, max_s=BACKOFF_MAX_S, rng=rng)


class Transport(Protocol):
    """What the client needs of its HTTP transport (`GatewayTransport`, or a test's)."""

    async def exchange(
        self, method: str, url: str, body: bytes = b"", *, connect_s: float, read_s: float
    ) -> tuple[int, bytes]:
        """(status, body); raises httpcore's exceptions."""
        ...

    async def aclose(self) -> None: ...


def tls_context(ca_file: str) -> ssl.SSLContext:
    """Verify the gateway against `ca_file` (or the system CAs: "" or "system"), TLS 1.2+."""
    try:
        context = ssl.create_default_context(
            cafile=None if ca_file in ("", SYSTEM_CAS) else ca_file
        )
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
        transport: Transport | None = None,
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
        self.last_exchange_s = 0.0
        """Seconds the last answered POST spent on the wire and at the bank (request written
        to answer read, before it is verified): the bank's share of a sale, as the terminal
        waits for it; benchmarks separate it from the terminal's own work."""
        self._forgeries: set[str] = set()
        """Message ids whose `send` already reported a forged answer (one alarm per send)."""
        self.data_dir = settings.data_dir
        """Where the link's trust alarm is kept (trust.py)."""
        self._transport: Transport = transport or GatewayTransport(tls_context(gateway.ca_file))

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def _exchange(
        self, method: str, url: str, *, connect_s: float, read_s: float, body: bytes = b""
    ) -> tuple[int, bytes]:
        """One request straight through the transport: (status, body).

        Why not `httpx.AsyncClient`: this link needs none of what a client adds (cookies,
        auth, redirects, URL merging), and under a store-and-forward backlog that layer cost a
        third of the terminal's CPU per request.
        """
        return await self._transport.exchange(method, url, body, connect_s=connect_s, read_s=read_s)

    def _attempt_timeout(self, remaining: float) -> float:
        """Read timeout of one attempt: a third of the gateway timeout, so retries fit."""
        return max(0.05, min(remaining, max(1.0, self.timeout_s / 3)))

    async def send(
        self, message_id: str, body: bytes, *, deadline_s: float | None = None
    ) -> Answer:
        """POST the exact signed bytes until a verified answer or the deadline (see module doc)."""
        try:
            return await self._send(message_id, body, deadline_s)
        finally:
            self._forgeries.discard(message_id)

    async def _send(self, message_id: str, body: bytes, deadline_s: float | None) -> Answer:
        deadline = time.monotonic() + (deadline_s if deadline_s is not None else self.timeout_s)
        sent = False
        untrusted = ""
        attempt = 0
        last_problem = ""
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            connected = False
            for url in self.urls:
                try:
                    posted = time.perf_counter()
                    status, content = await self._exchange(
                        "POST",
                        f"{url}/v1/messages",
                        connect_s=min(self.connect_timeout_s, max(remaining, 0.05)),
                        read_s=self._attempt_timeout(remaining),
                        body=body,
                    )
                except _NOT_SENT as error:
                    fault = local_fault(error)
                    if fault is not None:
                        if not sent:  # the terminal's own fault: no offline rules, no secondary
                            raise LocalFailure(fault) from None
                        last_problem = f"the terminal {fault}"
                        break
                    failed = certificate_failure(error)
                    if failed:
                        untrusted = last_problem = f"{url}: certificate not trusted ({failed})"
                        raise_alarm(self.data_dir, untrusted)
                        continue
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
                except AnswerTooLarge as alarm:
                    connected = sent = True
                    last_problem = f"{url}: {alarm.reason}"
                    log.error(
                        "SECURITY ALARM: gateway answer rejected (%s); treated as no answer",
                        alarm.reason,
                        extra={"url": url, "txn_id": message_id},
                    )
                    self._forged(message_id, alarm.reason)
                    break
                self.last_exchange_s = time.perf_counter() - posted
                connected = sent = True
                self.online = True
                clear_alarm(self.data_dir)
                answer = self._read(message_id, status, content)
                if answer is not None:
                    return answer
                last_problem = f"{url}: HTTP {status}"
                break
            if not connected:
                self.online = False
                if not sent:
                    raise Untrusted(untrusted) if untrusted else NothingSent(last_problem)
            remaining = deadline - time.monotonic()
            if remaining <= 0.01:
                self.online = False if not connected else self.online
                raise OutcomeUnknown(message_id, attempt, last_problem)
            await asyncio.sleep(min(backoff_s(attempt, self.rng), remaining))
            if deadline - time.monotonic() <= 0.01:
                raise OutcomeUnknown(message_id, attempt, last_problem)

    def _forged(self, message_id: str, reason: str) -> None:
        """Tell the alarm listeners (the fleet) once per send, not once per re-sent attempt."""
        if message_id not in self._forgeries:
            self._forgeries.add(message_id)
            alarms.raise_alarm(
                "forged_bank_answer", message_id=message_id, link="posterm-v1", reason=reason
            )

    def _read(self, message_id: str, status: int, content: bytes) -> Answer | None:
        """The verified answer; None when it counts as no answer; raises for protocol errors."""
        if status == 200:
            try:
                return self.keys.verify_answer(content, expected_id=message_id)
            except BadAnswer as alarm:
                log.error(
                    "SECURITY ALARM: gateway answer rejected (%s); treated as no answer",
                    alarm.reason,
                    extra={"txn_id": message_id},
                )
                self._forged(message_id, alarm.reason)
                return None
        if status >= 500:
            log.warning("gateway error %d; will retry", status, extra={"txn_id": message_id})
            return None
        code, message = _error_of(status, content)
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
                status, content = await self._exchange(
                    "GET",
                    f"{url}/v1/health",
                    connect_s=min(HEALTH_TIMEOUT_S, self.connect_timeout_s),
                    read_s=HEALTH_TIMEOUT_S,
                )
            except _LINK_DOWN as error:
                failed = certificate_failure(error)
                if failed:
                    raise_alarm(self.data_dir, f"{url}: certificate not trusted ({failed})")
                continue
            except AnswerTooLarge:
                continue
            clear_alarm(self.data_dir)
            if status == 200:
                try:
                    data = json.loads(content)
                    ok = isinstance(data, dict) and data.get("status") == "ok"
                except ValueError:
                    ok = False
                if ok:
                    self.online = True
                    return True
        self.online = False
        return False


def certificate_failure(error: BaseException) -> str:
    """The verification error when `error` is (caused by) a TLS certificate that did not
    verify, else "" (a refused connection or a timeout says nothing about trust)."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or "certificate verify failed"
        seen = seen.__cause__ or seen.__context__
    return ""


def _error_of(status: int, content: bytes) -> tuple[str, str]:
    try:
        data: Any = json.loads(content)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        message = data.get("message")
        return data["error"][:64], message[:200] if isinstance(message, str) else ""
    return f"http_{status}", ""
