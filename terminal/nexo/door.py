"""What each nexo message does with the engine: the door between the POS and the payment core.

It owns no payment decision: a sale is started through the same `EcrPayments` as `/ecr/v1`
(so Busy, the reference check and the operator screen are shared), reversals are the engine's
void or refund, and every answer is built from the engine's outcome.

`handle` never raises: every input ends as an HTTP status with a nexo answer (encrypted when
the request was), an empty body (AbortRequest), or 401 with no body (bad key or HMAC).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from terminal.ecr.errors import Conflict
from terminal.ecr.payments import EcrPayment, EcrPayments
from terminal.ecr.requests import PaymentRequest
from terminal.errors import PostermError
from terminal.nexo import answers
from terminal.nexo.errors import MessageFormat, NexoRefusal, SecurityRefused
from terminal.nexo.messages import (
    Header,
    PaymentCall,
    Request,
    header_of,
    output_lines,
    parse_abort,
    parse_payment,
    parse_request,
    parse_reversal,
)
from terminal.nexo.reservations import (
    Reservations,
    Responder,
    is_reservation,
    parse_reservation,
    reservation_response,
)
from terminal.nexo.security import SharedKey, is_secured, open_message, seal
from terminal.nexo.status import NOT_STARTED, StatusDesk, outcome_of
from terminal.nexo.store import Service, ServiceStore
from terminal.nexo.wire import dumps, loads
from terminal.payment.api import EntryMethod, PaymentEngine, Progress
from terminal.payment.authority import audit_adjustment
from terminal.payment.errors import RefundNotAllowed, VoidNotAllowed
from terminal.settings import Settings

log = logging.getLogger(__name__)
security_log = logging.getLogger("terminal.security.nexo")

CLAIMED = frozenset({"Payment", "Reversal", "Login", "Logout", "Print", "Display"})
"""Categories whose (SaleID, ServiceID) is recorded for replays; the others are questions."""

PAYMENT_WAIT_S = 150.0
"""How long a payment's HTTP request is held open (the clients' own limit)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP status and body (None: no body)."""

    status: int
    body: bytes | None


@dataclass(slots=True)
class _Running:
    header: Header
    call: PaymentCall
    payment: EcrPayment
    settled: asyncio.Task[bytes]


class Devices:
    """The receipt printer and customer display, for PrintRequest and DisplayRequest."""

    def __init__(
        self,
        print_lines: Callable[[list[str]], str] | None = None,
        show_lines: Callable[[list[str]], None] | None = None,
        printer_state: Callable[[], str] | None = None,
    ) -> None:
        self.print_lines = print_lines
        """Prints the lines; returns "" or the sentence why it could not."""
        self.show_lines = show_lines
        self.printer_state = printer_state


class NexoDoor:
    def __init__(
        self,
        settings: Settings,
        engine: PaymentEngine,
        payments: EcrPayments,
        store: ServiceStore,
        devices: Devices | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.payments = payments
        self.store = store
        self.devices = devices or Devices()
        section = settings.nexo
        self.poi_id = section.effective_poi_id(settings.terminal.terminal_id)
        self.keys = [SharedKey(k.identifier, k.version, k.passphrase) for k in section.keys]
        self.running: dict[tuple[str, str], _Running] = {}
        self.operator = ""
        self.operator_listeners: list[Callable[[str], None]] = []
        self.reservations = Reservations(settings, engine, payments)
        self.chores: set[asyncio.Future[None]] = set()
        """Background work started after an answer (the store's checkpoint)."""
        self.claiming: set[tuple[str, str]] = set()
        """(SaleID, ServiceID) being recorded, before their run is in `running`."""
        self.desk = StatusDesk(
            settings,
            engine,
            store,
            self.reservations,
            self.poi_id,
            lambda key: key in self.running or key in self.claiming,
        )

    # -- the envelope ------------------------------------------------------------------------

    async def handle(self, body: bytes) -> Answer:
        try:
            return await self._handle(body)
        except Exception:  # a bug must not become a 5xx or a traceback to the POS
            log.exception("nexo request failed")
            return Answer(400, b"")

    async def _handle(self, body: bytes) -> Answer:
        try:
            outer = loads(body)
            clear_header = header_of(outer)
        except MessageFormat as error:
            return Answer(400, dumps({"error": "MessageFormat", "message": error.sentence}))
        key: SharedKey | None = None
        message = outer["SaleToPOIRequest"]
        document = outer
        clear = body
        try:
            if is_secured(message):
                try:
                    plaintext, key = open_message(message, self.keys)
                except SecurityRefused as refusal:
                    security_log.warning(
                        "SECURITY: nexo request refused (key or HMAC check failed: %s) from "
                        "SaleID %r; nothing was processed",
                        refusal.sentence,
                        clear_header.sale_id,
                    )
                    return Answer(401, None)
                document = loads(plaintext)
                clear = plaintext
            elif self.keys and not self.settings.nexo.allow_unencrypted:
                raise NexoRefusal(
                    "NotAllowed",
                    "This terminal takes only encrypted requests (a shared key is configured).",
                )
            request = parse_request(document, clear)
        except NexoRefusal as refusal:
            return self._encode(
                clear_header,
                answers.refused(clear_header, refusal.condition, refusal.sentence),
                key,
            )
        header = request.header
        if header.poi_id != self.poi_id:
            return self._encode(
                header,
                answers.refused(
                    header,
                    "NotAllowed",
                    f"This terminal is POIID {self.poi_id}, not {header.poi_id}.",
                ),
                key,
            )
        try:
            result = await self._dispatch(request)
        except NexoRefusal as refusal:
            if header.category in CLAIMED and not refusal.keep:
                await asyncio.to_thread(self.store.forget, header.sale_id, header.service_id)
            return self._encode(
                header, answers.refused(header, refusal.condition, refusal.sentence), key
            )
        if result is None:
            return Answer(200, b"")
        return self._sealed(header, result, key)

    def _encode(self, header: Header, doc: dict[str, Any], key: SharedKey | None) -> Answer:
        return self._sealed(header, dumps(doc), key)

    def _sealed(self, header: Header, clear: bytes, key: SharedKey | None) -> Answer:
        if key is None:
            return Answer(200, clear)
        return Answer(200, dumps({"SaleToPOIResponse": seal(header.response(), clear, key)}))

    # -- categories ----------------------------------------------------------------------------

    async def _dispatch(self, request: Request) -> bytes | None:
        header = request.header
        if header.category == "Abort":
            self._abort(request)
            return None
        if header.category in ("TransactionStatus", "Diagnosis"):
            return dumps(await self._stateless(request))
        key = (header.sale_id, header.service_id)
        self.claiming.add(key)
        try:
            # In the loop, not a thread: one short write without fsync (store.py)
            earlier = self.store.claim(*key, header.category, request.digest, request.raw)
            if earlier is not None:
                return await self._repeat(request, earlier)
            if header.category == "Payment":
                return await self._payment(request)
            answer = dumps(await self._other(request))
            await asyncio.to_thread(self.store.answer, header.sale_id, header.service_id, answer)
            return answer
        finally:
            self.claiming.discard(key)

    async def _repeat(self, request: Request, earlier: Service) -> bytes:
        header = request.header
        if earlier.digest != request.digest:
            raise NexoRefusal(
                "NotAllowed",
                f"ServiceID {header.service_id} was used for another request of SaleID "
                f"{header.sale_id} within 48 hours; use a new ServiceID.",
                keep=True,
            )
        running = self.running.get((header.sale_id, header.service_id))
        if running is not None:
            return await self._wait(running)
        if earlier.response is not None:
            return earlier.response
        settled = await self.desk.answer_of(earlier)
        if settled == NOT_STARTED:  # recorded, then posterm stopped before it began: run it now
            return await self._payment(request)
        if settled is None:
            raise NexoRefusal("InProgress", "That request is still being processed.", keep=True)
        return settled

    async def _stateless(self, request: Request) -> dict[str, Any]:
        header = request.header
        if header.category == "Diagnosis":
            return answers.document(header, self._diagnosis())
        return answers.document(header, await self.desk.status(request))

    async def _other(self, request: Request) -> dict[str, Any]:
        header, body = request.header, request.body
        if header.category == "Reversal":
            return answers.document(header, await self._reversal(body))
        if header.category == "Login":
            operator = body.get("OperatorID", "")
            self.operator = operator if isinstance(operator, str) else ""
            for listener in self.operator_listeners:
                listener(self.operator)
            return answers.document(
                header,
                {
                    "Response": answers.success(),
                    "POISystemData": {
                        "DateTime": answers.now(),
                        "POIStatus": {"GlobalStatus": self._global_status()},
                    },
                },
            )
        if header.category == "Logout":
            self.operator = ""
            for listener in self.operator_listeners:
                listener("")
            return answers.document(header, {"Response": answers.success()})
        if header.category == "Print":
            return answers.document(header, await self._print(body))
        return answers.document(header, self._display(body))

    # -- payment -------------------------------------------------------------------------------

    async def _payment(self, request: Request) -> bytes:
        header = request.header
        if is_reservation(request.body):
            return await self._reservation(request)
        call = parse_payment(request.body, self.settings.currency)
        if call.refund and self.settings.ecr.refunds != "allowed":
            raise NexoRefusal(
                "NotAllowed",
                "Refunds from the till are not allowed on this terminal "
                f'([ecr] refunds = "{self.settings.ecr.refunds}"); nothing was sent.',
            )
        wanted = PaymentRequest(
            call.amount,
            EntryMethod.NFC,
            call.transaction_id,
            refund=call.refund,
            allow_partial=call.allow_partial,
            tip=call.tip,
        )
        try:
            started, _new = self.payments.start(wanted)
        except Conflict as conflict:
            condition = "Busy" if conflict.code == "busy" else "NotAllowed"
            raise NexoRefusal(condition, conflict.sentence) from None
        except PostermError as error:
            raise NexoRefusal("UnavailableService", error.sentence) from None
        if isinstance(started, str):  # approved before a restart under this TransactionID
            view = await asyncio.to_thread(self.engine.transaction, started)
            outcome = outcome_of(view)
            if outcome is None:
                raise NexoRefusal("InProgress", f"Sale {started} is not final yet.", keep=True)
            answer = dumps(
                answers.document(
                    header, answers.payment_response(call, outcome, view, self.settings)
                )
            )
            await asyncio.to_thread(self.store.answer, header.sale_id, header.service_id, answer)
            return answer
        key = (header.sale_id, header.service_id)
        settled = asyncio.ensure_future(self._settle(header, call, started))
        self.running[key] = _Running(header, call, started, settled)
        return await self._wait(self.running[key])

    async def _reservation(self, request: Request) -> bytes:
        """FirstReservation runs like a sale (card tap); UpdateReservation and Completion act
        on the hold at once (reservations.py)."""
        header = request.header
        reservation = parse_reservation(request.body, self.settings.currency)
        call = reservation.call
        if reservation.original_id:

            def noted(transaction_id: str) -> None:
                self.store.set_transaction(header.sale_id, header.service_id, transaction_id)

            body = await self.reservations.on_hold(reservation, noted)
            answer = dumps(answers.document(header, body))
            await asyncio.to_thread(self.store.answer, header.sale_id, header.service_id, answer)
            return answer
        respond = reservation_response(reservation.payment_type)
        started = self.reservations.start(reservation)
        if isinstance(started, str):  # held before a restart under this TransactionID
            view = await asyncio.to_thread(self.engine.transaction, started)
            outcome = outcome_of(view)
            if outcome is None:
                raise NexoRefusal("InProgress", f"Hold {started} is not final yet.", keep=True)
            answer = dumps(answers.document(header, respond(call, outcome, view, self.settings)))
            await asyncio.to_thread(self.store.answer, header.sale_id, header.service_id, answer)
            return answer
        key = (header.sale_id, header.service_id)
        settled = asyncio.ensure_future(self._settle(header, call, started, respond))
        self.running[key] = _Running(header, call, started, settled)
        return await self._wait(self.running[key])

    async def _wait(self, running: _Running) -> bytes:
        try:
            return await asyncio.wait_for(asyncio.shield(running.settled), PAYMENT_WAIT_S)
        except TimeoutError:
            raise NexoRefusal(
                "InProgress",
                "The payment is still running; ask TransactionStatusRequest for its outcome.",
                keep=True,
            ) from None

    async def _settle(
        self,
        header: Header,
        call: PaymentCall,
        payment: EcrPayment,
        respond: Responder = answers.payment_response,
    ) -> bytes:
        """Wait for the sale's end (whether or not its HTTP request is still open), store the
        answer for TransactionStatus and repeats, and return it."""
        key = (header.sale_id, header.service_id)
        try:
            # No row id is noted while it runs: the status desk finds the row by the till's
            # TransactionID (status.py), and the answer below is stored with it.
            while payment.outcome is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(payment.done.wait(), 0.5)
            outcome = payment.outcome

            # The answer from the journal row (for the receipts), stored, in the loop: a read
            # by key, the receipts and one write without fsync cost less than a thread hop.
            view = None
            if outcome.id:
                try:
                    view = self.engine.transaction(outcome.id)
                except PostermError:
                    view = None
            answer = dumps(answers.document(header, respond(call, outcome, view, self.settings)))
            self.store.answer(*key, answer, outcome.id)
            if self.store.checkpoint_due():
                self._background(asyncio.to_thread(self.store.checkpoint))
            return answer
        finally:
            self.running.pop(key, None)

    def _abort(self, request: Request) -> None:
        reference, reason = parse_abort(request.body)
        sale_id = reference.sale_id or request.header.sale_id
        running = self.running.get((sale_id, reference.service_id))
        if running is None:
            log.info("nexo abort of %s/%s: no such payment running", sale_id, reference.service_id)
            return
        try:
            self.payments.cancel(running.payment)
            log.info("nexo abort of %s/%s accepted (%s)", sale_id, reference.service_id, reason)
        except Conflict as refused:
            log.info(
                "nexo abort of %s/%s refused: %s", sale_id, reference.service_id, refused.sentence
            )

    # -- reversal ------------------------------------------------------------------------------

    async def _reversal(self, body: dict[str, Any]) -> dict[str, Any]:
        sale_id, reason = parse_reversal(body)
        if await self.reservations.is_hold(sale_id):  # a release, not a refund: no policy
            log.info("nexo reversal of hold %s (%s): release", sale_id, reason)
            return await self.reservations.release(sale_id)
        policy = self.settings.ecr.refunds
        if policy != "allowed":
            sentence = (
                "Reversals from the till are not allowed on this terminal "
                f'([ecr] refunds = "{policy}"): nothing was sent. Do it at the terminal.'
            )
            await asyncio.to_thread(
                audit_adjustment,
                self.settings.data_dir,
                "void",
                sale_id,
                None,
                "nexo",
                refusal=sentence,
            )
            raise NexoRefusal("NotAllowed", sentence)
        try:
            await asyncio.to_thread(self.engine.transaction, sale_id)
        except PostermError:
            raise NexoRefusal("NotFound", f"No sale {sale_id} on this terminal.") from None
        kind = "void"
        try:
            outcome = await self.engine.void(sale_id, _ignore)
        except VoidNotAllowed:
            kind = "refund"
            try:
                outcome = await self.engine.refund(sale_id, None, _ignore)
            except RefundNotAllowed as refusal:
                await asyncio.to_thread(
                    audit_adjustment,
                    self.settings.data_dir,
                    "refund",
                    sale_id,
                    None,
                    "nexo",
                    refusal=refusal.sentence,
                )
                raise NexoRefusal("NotAllowed", refusal.sentence) from None
        except PostermError as refusal:
            raise NexoRefusal("NotAllowed", refusal.sentence) from None
        log.info("nexo reversal of %s (%s) by %s: %s", sale_id, reason, kind, outcome.result.value)
        await asyncio.to_thread(
            audit_adjustment,
            self.settings.data_dir,
            kind,
            sale_id,
            outcome.amount,
            "nexo",
            outcome=outcome,
        )
        return answers.reversal_response(sale_id, outcome)

    # -- device and status ---------------------------------------------------------------------

    def _global_status(self) -> str:
        running = self.payments.running or self.reservations.running
        return "Busy" if running is not None else "OK"

    def _diagnosis(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "GlobalStatus": self._global_status(),
            "CommunicationOKFlag": bool(getattr(self.engine, "gateway_online", False)),
        }
        if self.devices.printer_state is not None:
            state = self.devices.printer_state()
            printer = {"ok": "OK", "paper out": "NoPaper", "offline": "OutOfOrder"}.get(state)
            if printer:
                status["PrinterStatus"] = printer
        return {"Response": answers.success(), "POIStatus": status}

    async def _print(self, body: dict[str, Any]) -> dict[str, Any]:
        lines = output_lines(body, "PrintRequest", "PrintOutput")
        qualifier = body.get("PrintOutput", {})
        document = (
            qualifier.get("DocumentQualifier", "Document")
            if isinstance(qualifier, dict)
            else "Document"
        )
        if self.devices.print_lines is None:
            raise NexoRefusal("UnavailableDevice", "No receipt printer is configured.")
        problem = await asyncio.to_thread(self.devices.print_lines, lines)
        if problem:
            return {
                "DocumentQualifier": document,
                "Response": answers.failure("UnavailableDevice", problem),
            }
        return {"DocumentQualifier": document, "Response": answers.success()}

    def _display(self, body: dict[str, Any]) -> dict[str, Any]:
        lines = output_lines(body, "DisplayRequest", "DisplayOutput")
        if self.devices.show_lines is None:
            raise NexoRefusal("UnavailableDevice", "No customer display is configured.")
        self.devices.show_lines(lines)
        return {
            "OutputResult": [
                {
                    "Device": "CustomerDisplay",
                    "InfoQualify": "Display",
                    "Response": answers.success(),
                }
            ]
        }

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` after the answer, keeping a reference until it ends; a failure is logged."""
        task = asyncio.ensure_future(work)
        self.chores.add(task)

        def done(finished: asyncio.Future[None]) -> None:
            self.chores.discard(task)
            if not finished.cancelled() and finished.exception() is not None:
                log.warning("nexo store checkpoint failed: %s", finished.exception())

        task.add_done_callback(done)

    async def close(self) -> None:
        await self.reservations.preauths.close()  # a hold still waiting for its card ends
        if self.chores:
            await asyncio.wait(self.chores, timeout=10)
        tasks = [r.settled for r in self.running.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=60)


def _ignore(step: Progress) -> None:
    return None
