"""`posterm gateway-sim`: the gateway simulator's HTTPS server (aiohttp).

Protocol (PROTOCOL.md): `POST /v1/messages`, `GET /v1/health`. Every bad input gets a
documented status and error code and changes nothing:

    400 malformed       not a JWS, bad base64/JSON, missing or wrongly typed fields, typ not
                        posterm-request, body larger than 64 KiB
    401 bad_signature   alg other than Ed25519/EdDSA (none, HS256, ...), signature does not
                        verify, kid of another terminal than the payload's terminal_id
    401 unknown_key     kid not enrolled
    409 id_conflict     same id as an earlier message, different payload
    422 stale           created_at older than 7 days or more than 5 minutes in the future
    503 unavailable     fault injection (error_5xx), or an internal error (logged; rolled back)

Faults (admin API) act on /v1/messages only: `drop_before` (connection dropped before the
message is processed), `drop_after` (processed and booked, then the answer is lost),
`delay_ms` (answer held back after booking), `error_5xx` (503 before processing), `down`
(the protocol port stops listening: connections are refused; the admin port stays up).

The admin API (admin.py) is served on its own listener only, behind a bearer token: the
protocol port answers 404 under /sim/, so a terminal (or anyone on its network path) cannot
reach the simulator's controls.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import sqlite3
import ssl
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from aiohttp import web
from joserfc.jwk import OKPKey

from simulators.bank.admin import admin_routes
from simulators.bank.faults import Faults
from simulators.bank.ledger import Ledger
from simulators.bank.processor import Processor
from simulators.bank.requests import Malformed, parse_request
from simulators.bank.setup import SIGNING_KID, SimFiles, prepare
from simulators.card.testcards import CARDS_FILE, load_test_cards
from terminal.gateway.jose import (
    JoseFailure,
    import_public_jwk,
    json_object,
    read_compact,
    sign_compact,
    verify_signature,
)
from terminal.gateway.messages import TYP_REQUEST, TYP_RESPONSE, utc_timestamp

log = logging.getLogger("simulators.bank")

MAX_BODY = 64 * 1024
ACCEPTANCE_WINDOW = timedelta(days=7)
CLOCK_SKEW = timedelta(minutes=5)


class Rejected(Exception):
    """A documented protocol error: answered with `status` and {"error": code}."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


class Simulator:
    """The simulated acquirer + issuers behind the protocol endpoint (one process)."""

    def __init__(
        self, data_dir: Path, *, cards_file: Path = CARDS_FILE, intent_ttl_s: float = 120.0
    ) -> None:
        self.files, self.keys = prepare(data_dir)
        self.ledger = Ledger(self.files.ledger, self.keys.pan_fingerprint)
        cards = load_test_cards(cards_file)
        self.issuers = {card.issuer.name: card.issuer for card in cards.values()}
        from simulators.bank.issuer import seed_cards

        seed_cards(self.ledger, cards)
        from simulators.bank.holds import prepare_holds

        prepare_holds(self.ledger, cards)
        self.processor = Processor(self.ledger, self.keys, self.issuers, intent_ttl_s=intent_ttl_s)
        self.faults = Faults()
        self.random = random.Random()
        self._key_cache: dict[str, tuple[str, str, OKPKey]] = {}
        self._commit_waiter: asyncio.Future[None] | None = None
        self._committing: asyncio.Future[None] | None = None
        self._commit_thread = ThreadPoolExecutor(1, thread_name_prefix="sim-commit")

    # -- enrolment -------------------------------------------------------------------------

    def terminal_key(self, kid: str) -> tuple[str, OKPKey] | None:
        """(terminal_id, public key) enrolled under `kid`, or None."""
        row = self.ledger.one("SELECT terminal_id, jwk FROM terminals WHERE kid = ?", kid)
        if row is None:
            return None
        cached = self._key_cache.get(kid)
        if cached is None or cached[1] != row["jwk"]:
            key = import_public_jwk(json.loads(row["jwk"]), "Ed25519")
            cached = (row["terminal_id"], row["jwk"], key)
            self._key_cache[kid] = cached
        return cached[0], cached[2]

    # -- the protocol ------------------------------------------------------------------------

    def handle(self, body: bytes, now: datetime | None = None) -> bytes:
        """The signed answer to one message body, or `Rejected`; nothing changes on rejection."""
        now = now or datetime.now(UTC)
        try:
            message = read_compact(body)
            if message.header.get("typ") != TYP_REQUEST:
                raise Rejected(400, "malformed", "typ must be posterm-request")
            enrolled = self.terminal_key(message.header["kid"])
            if enrolled is None:
                raise Rejected(401, "unknown_key", "kid is not enrolled")
            terminal_id, public_key = enrolled
            verify_signature(message, public_key)
            payload = json_object(message.payload)
            request = parse_request(payload)
        except JoseFailure as failure:
            status = 400 if failure.kind == "malformed" else 401
            raise Rejected(status, failure.kind, failure.reason) from None
        except Malformed as error:
            raise Rejected(400, "malformed", str(error)) from None
        if request.terminal_id != terminal_id:
            raise Rejected(401, "bad_signature", "the key belongs to another terminal")
        if now - request.created_at > ACCEPTANCE_WINDOW:
            raise Rejected(422, "stale", "created_at is older than the 7-day acceptance window")
        if request.created_at - now > CLOCK_SKEW:
            raise Rejected(422, "stale", "created_at is in the future")
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        try:
            with self.ledger.transaction():
                stored = self.ledger.stored(request.id)
                if stored is not None:
                    if stored["digest"] != digest:
                        raise Rejected(409, "id_conflict", "this id was used for another message")
                    answer: bytes = stored["answer"]
                    log.info("repeated message answered from the store", extra={"id": request.id})
                    return answer
                result = self.processor.process(request, now)
                signed = sign_compact(result, self.keys.signing, kid=SIGNING_KID, typ=TYP_RESPONSE)
                self.ledger.run(
                    "INSERT INTO messages (id, terminal_id, type, digest, answer, result,"
                    " received_at) VALUES (?,?,?,?,?,?,?)",
                    request.id,
                    request.terminal_id,
                    request.type,
                    digest,
                    signed,
                    result["result"],
                    utc_timestamp(now),
                )
                self._note_seq(request.terminal_id, request.seq)
        except Malformed as error:
            raise Rejected(400, "malformed", str(error)) from None
        log.info(
            "%s %s: %s %s",
            request.type,
            request.id,
            result["result"],
            result["code"],
            extra={"terminal_id": request.terminal_id},
        )
        return signed

    async def handle_async(self, body: bytes) -> bytes:
        """`handle`, with group commit: messages processed while a commit is pending share one
        fsync. An answer is released only once its changes are on disk.

        The COMMIT (the fsync) runs in the commit thread, so the event loop keeps reading and
        answering meanwhile; messages that arrive during a commit wait for it and then form the
        next group together (the busier the link, the more messages share one fsync).
        """
        await self.settle()
        committed = self._join_commit()
        answer = self.handle(body)
        await committed
        return answer

    async def settle(self) -> None:
        """Wait until no commit is running in the commit thread (the connection is ours)."""
        while self._committing is not None:
            await self._committing

    async def flush(self) -> None:
        """Wait for the pending group commit, if any (admin changes become durable)."""
        if self._commit_waiter is not None:
            await self._commit_waiter
        await self.settle()

    def _join_commit(self) -> asyncio.Future[None]:
        if self._commit_waiter is None:
            loop = asyncio.get_running_loop()
            self.ledger.db.execute("BEGIN IMMEDIATE")
            self._commit_waiter = loop.create_future()
            loop.call_soon(self._start_commit)
        return self._commit_waiter

    def _start_commit(self) -> None:
        """Hand the open group to the commit thread; its answers wait for the result."""
        waiter, self._commit_waiter = self._commit_waiter, None
        assert waiter is not None
        loop = asyncio.get_running_loop()
        idle: asyncio.Future[None] = loop.create_future()
        self._committing = idle
        job = loop.run_in_executor(self._commit_thread, self._commit)

        def committed(job: asyncio.Future[None]) -> None:
            self._committing = None
            idle.set_result(None)
            error = job.exception()
            if error is not None:
                waiter.set_exception(error)
                waiter.exception()  # retrieved: waiters that were refused never await it
            else:
                waiter.set_result(None)

        job.add_done_callback(committed)

    def _commit(self) -> None:
        """COMMIT (in the commit thread: sqlite3 releases the GIL while it fsyncs)."""
        try:
            self.ledger.db.execute("COMMIT")
        except sqlite3.Error as error:
            log.error("group commit failed, rolled back: %s", error)
            if self.ledger.db.in_transaction:
                self.ledger.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._commit_thread.shutdown(wait=True)
        self.ledger.close()

    def _note_seq(self, terminal_id: str, seq: int) -> None:
        row = self.ledger.one("SELECT last FROM seqs WHERE terminal_id = ?", terminal_id)
        if row is not None and seq > row["last"] + 1:
            log.warning("terminal %s skipped seq %d..%d", terminal_id, row["last"] + 1, seq - 1)
        if row is None or seq > row["last"]:
            self.ledger.run(
                "INSERT OR REPLACE INTO seqs (terminal_id, last) VALUES (?, ?)", terminal_id, seq
            )

    def hit(self, rate: float) -> bool:
        return rate > 0 and self.random.random() < rate


async def read_capped(request: web.Request, cap: int = MAX_BODY) -> bytes | None:
    """The request body, or None when it is larger than `cap`."""
    if request.content_length is not None and request.content_length > cap:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)


def _drop(request: web.Request) -> web.StreamResponse:
    """Cut the connection without an answer (what a lost packet or a crash looks like)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    log.info("fault injection: connection dropped")
    return web.Response(status=204)  # never reaches the client: the transport is gone


def protocol_routes(sim: Simulator) -> list[web.RouteDef]:
    async def messages(request: web.Request) -> web.StreamResponse:
        faults = sim.faults
        if faults.down:  # a keep-alive connection that outlived the listener
            return _drop(request)
        if sim.hit(faults.error_5xx):
            return error_response(503, "unavailable", "injected fault: gateway unavailable")
        body = await read_capped(request)
        if body is None:
            log.warning("refused an oversized body")
            return error_response(400, "malformed", f"body larger than {MAX_BODY} bytes")
        if sim.hit(faults.drop_before):
            return _drop(request)
        try:
            answer = await sim.handle_async(body)
        except Rejected as rejected:
            log.warning("refused a message: %s %s", rejected.code, rejected.message)
            return error_response(rejected.status, rejected.code, rejected.message)
        if faults.delay_ms:
            await asyncio.sleep(faults.delay_ms / 1000)
        if sim.hit(faults.drop_after):
            return _drop(request)
        return web.Response(body=answer, content_type="application/jose")

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "time": utc_timestamp(datetime.now(UTC))})

    return [web.post("/v1/messages", messages), web.get("/v1/health", health)]


@web.middleware
async def never_500(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """An unexpected error is logged and answered 503 (retryable); its transaction rolled back."""
    try:
        return await handler(request)
    except web.HTTPException as http:
        if http.status >= 500:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(http.status, "malformed")
        return error_response(http.status, code, http.reason)
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(503, "unavailable", "internal error; nothing was changed")


class OtherListener(Protocol):
    """Another protocol listener of the same simulator (the ISO 8583 one)."""

    async def set_down(self, down: bool) -> None: ...


class Service:
    """The running servers: the protocol port, and the admin API on a listener of its own
    (`admin`; port 0 picks a free one, see `admin_port`)."""

    def __init__(
        self,
        sim: Simulator,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None,
        admin: tuple[str, int] = ("127.0.0.1", 0),
        admin_token: str,
    ) -> None:
        self.sim = sim
        self.host, self.port, self.tls, self.admin = host, port, tls, admin
        self.main_app = web.Application(middlewares=[never_500], client_max_size=MAX_BODY)
        self.main_app.add_routes(protocol_routes(sim))
        self.main_runner = web.AppRunner(self.main_app, access_log=None)
        admin_app = web.Application(middlewares=[never_500], client_max_size=MAX_BODY)
        admin_app.add_routes(admin_routes(sim, self, admin_token))
        self.admin_runner = web.AppRunner(admin_app, access_log=None)
        self.admin_port = admin[1]
        """The admin listener's port once started (the one chosen when asked for 0)."""
        self.main_site: web.TCPSite | None = None
        self._cutting: asyncio.Task[None] | None = None
        self.also_down: list[OtherListener] = []
        """Other protocol listeners (the ISO 8583 one) the `down` fault stops too."""

    async def start(self) -> None:
        await self.main_runner.setup()
        await self._open_main()
        await self.admin_runner.setup()
        site = web.TCPSite(self.admin_runner, self.admin[0], self.admin[1], ssl_context=self.tls)
        await site.start()
        for address in self.admin_runner.addresses:  # the port bound when 0 was asked
            self.admin_port = int(address[1])

    async def _open_main(self) -> None:
        self.main_site = web.TCPSite(self.main_runner, self.host, self.port, ssl_context=self.tls)
        await self.main_site.start()

    async def set_down(self, down: bool, *, asked_on_main: bool = False) -> None:
        """Stop or resume listening on the protocol ports (connections refused while down)."""
        for other in self.also_down:
            await other.set_down(down)
        if down and self.main_site is not None:
            site, self.main_site = self.main_site, None
            await site.stop()
            if not asked_on_main:
                assert self.main_runner.server is not None
                await self.main_runner.server.shutdown(0.1)
                return
            # Asked on this very port: cut the open connections once the answer has left.
            self._cutting = asyncio.get_running_loop().create_task(self._cut_connections())
        elif not down and self.main_site is None:
            await self._open_main()

    async def _cut_connections(self) -> None:
        await asyncio.sleep(0.1)
        if self.main_site is None and self.main_runner.server is not None:
            await self.main_runner.server.shutdown(0.1)

    async def stop(self) -> None:
        await self.main_runner.cleanup()
        await self.admin_runner.cleanup()
        await self.sim.settle()
        self.sim.close()


def files_of(data_dir: Path) -> SimFiles:
    return SimFiles(data_dir.resolve())
