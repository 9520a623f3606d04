"""The payment engine: runs a sale from the operator's amount to a definite, journaled end.

One engine serves the operator screen, the CLI and the ECR API (`PaymentEngine` of api.py).
The order of a sale is what makes it safe:

1. Risk pre-checks, then the journal must accept a write (disk full or read-only → refused
   here, before any card is read); the sale's row is created.
2. The card (or code) is captured through the injected device protocol; only the masked PAN,
   scheme, AID and keyed fingerprint are journaled, the card data is sealed to the gateway.
3. The `authorize` is signed and committed (state `authorising`, with its seq and exact bytes)
   before it is sent; the sale's id is that message's id.
4. The delivery decides: answer → approved / declined; nothing sent → offline rules (advice
   signed and queued in the approving commit); no answer → reversal queued in the same commit
   as `unknown`, before the operator is told; refused → failed, nothing moved.

Refunds, voids and the batch close are in `adjustments.py`; reports in `reports.py`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from terminal.emv.card_data import CardData
from terminal.errors import UsageError
from terminal.money import Amount
from terminal.payment import reports
from terminal.payment.api import (
    BatchResult,
    CardCapture,
    CodePresenter,
    CodeScanner,
    EntryMethod,
    Outcome,
    Progress,
    ProgressCallback,
    QueueStatus,
    Result,
    SaleRequest,
    Stage,
    Totals,
    TransactionView,
)
from terminal.payment.bank import Bank, Delivery
from terminal.payment.capture import Stopped, read_card, scan_code
from terminal.payment.errors import JournalUnavailable
from terminal.payment.forwarder import FlushReport, Forwarder
from terminal.payment.journal import Change, Journal, iso
from terminal.payment.recovery import OwnerLock, recover
from terminal.payment.response_codes import describe_code
from terminal.payment.risk import Decision, Limits, Rule, check_card, check_sale, decide_offline
from terminal.payment.states import Event, State
from terminal.runtime import tune_for_commit_threads
from terminal.settings import Settings

log = logging.getLogger("terminal.payment.engine")


RESERVE_BYTES = 256 * 1024
"""Free space a sale needs before it starts: its rows, history, queue entry, with margin."""


@dataclass(frozen=True, slots=True)
class SaleTiming:
    """Where the time of the last sale went (for the overhead benchmark)."""

    total_s: float
    device_s: float
    bank_s: float

    @property
    def engine_s(self) -> float:
        return max(0.0, self.total_s - self.device_s - self.bank_s)


class Engine:
    """The payment engine (implements `terminal.payment.api.PaymentEngine`)."""

    def __init__(
        self,
        settings: Settings,
        journal: Journal,
        bank: Bank,
        *,
        card_capture: CardCapture | None = None,
        code_scanner: CodeScanner | None = None,
        code_presenter: CodePresenter | None = None,
        extra_rules: Sequence[Rule] = (),
        forwarder: Forwarder | None = None,
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.bank = bank
        self.card_capture = card_capture
        self.code_scanner = code_scanner
        self.code_presenter = code_presenter
        self.limits = Limits.from_settings(settings)
        self.extra_rules = tuple(extra_rules)
        self.forwarder = forwarder or Forwarder(journal, bank)
        self.owner = OwnerLock(settings.data_dir)
        self.currency = settings.currency
        self.last_timing: SaleTiming | None = None
        self._task: asyncio.Task[None] | None = None
        self._link_check: asyncio.Task[None] | None = None
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self, *, forward: bool = True) -> None:
        """Claim this engine's lock, recover what a crash left, start the forwarder, and check
        the link in the background (so "Bank: ONLINE" shows before the first sale, without a
        slow gateway delaying start-up)."""
        self.owner.acquire()
        tune_for_commit_threads()
        await self.recover()
        if self._link_check is None:
            self._link_check = asyncio.create_task(self._check_link(), name="link-check")
        if forward and self._task is None:
            self._task = asyncio.create_task(self.forwarder.run(), name="store-and-forward")

    async def link_checked(self) -> None:
        """Wait for the link check that `start` began (for callers that then cut the link)."""
        if self._link_check is not None:
            await asyncio.shield(self._link_check)

    async def _check_link(self) -> None:
        """One `/v1/health` at start: sets `gateway_online`; wakes the forwarder when up."""
        try:
            online = await self.bank.health()
        except Exception as error:  # the link check must never break start-up
            log.warning("link check at start failed: %s", error)
            return
        log.info("link check at start: gateway %s", "online" if online else "offline")
        if online:
            self.forwarder.wake()

    async def stop(self) -> None:
        """Stop the forwarder, close the link and the journal, release the lock."""
        if self._closed:
            return
        self._closed = True
        for task in (self._link_check, self._task):
            if task is not None:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):  # noqa: S110 - stopping anyway
                    pass
        self._link_check = self._task = None
        await self.bank.aclose()
        self.journal.close()
        self.owner.release()

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def recover(self) -> list[tuple[str, State]]:
        """Resolve transactions a crash left in flight (see recovery.py)."""
        self.owner.acquire()
        moved = await asyncio.to_thread(
            recover, self.journal, self.owner, self.bank.new_id, self._sign_reverse
        )
        if moved:
            self.forwarder.wake()
        return moved

    def _sign_reverse(
        self, reverse_id: str, ref: str, amount: Amount, seq: int, at: datetime
    ) -> bytes:
        return self.bank.sign(
            "reverse", id=reverse_id, seq=seq, created_at=at, ref=ref, amount=amount
        )

    @property
    def gateway_online(self) -> bool:
        return self.bank.online

    # -- reports --------------------------------------------------------------------------
    def history(self, *, limit: int = 100, search: str = "") -> list[TransactionView]:
        return reports.history(self.journal, limit=limit, search=search)

    def transaction(self, transaction_id: str) -> TransactionView:
        return reports.view(self.journal.get(transaction_id))

    def totals(self) -> Totals:
        return reports.totals(self.journal, self.currency)

    def queue_status(self) -> QueueStatus:
        return reports.queue_status(self.journal, self.currency)

    async def flush(
        self,
        progress: Callable[[FlushReport], None] | None = None,
        *,
        deadline_s: float | None = None,
    ) -> FlushReport:
        """Forward everything pending now (`posterm saf flush`)."""
        return await self.forwarder.flush(progress, deadline_s=deadline_s)

    # -- refunds, voids, batch close (adjustments.py) ---------------------------------------
    async def refund(
        self, sale_id: str, amount: Amount | None, progress: ProgressCallback
    ) -> Outcome:
        from terminal.payment.adjustments import refund

        return await refund(self, sale_id, amount, progress)

    async def void(self, sale_id: str, progress: ProgressCallback) -> Outcome:
        from terminal.payment.adjustments import void

        return await void(self, sale_id, progress)

    async def close_batch(self) -> BatchResult:
        from terminal.payment.adjustments import close_batch

        return await close_batch(self)

    # -- the sale -------------------------------------------------------------------------
    async def sale(
        self, request: SaleRequest, progress: ProgressCallback, cancel: asyncio.Event
    ) -> Outcome:
        """Run a sale to a definite end; never raises for a decline or a device problem."""
        started = time.perf_counter()
        timing = {"device": 0.0, "bank": 0.0}
        try:
            return await self._sale(request, progress, cancel, timing)
        finally:
            self.last_timing = SaleTiming(
                time.perf_counter() - started, timing["device"], timing["bank"]
            )

    async def _sale(
        self,
        request: SaleRequest,
        progress: ProgressCallback,
        cancel: asyncio.Event,
        timing: dict[str, float],
    ) -> Outcome:
        amount, method = request.amount, request.method
        entry = method.protocol_entry
        refusal = check_sale(self.limits, amount, method.value)
        if refusal is not None:
            if refusal.rule in ("amount", "currency"):
                raise UsageError(refusal.reason)
            return self._finish(
                progress,
                Outcome("", Result.DECLINED, amount, entry, refusal.code, message=refusal.reason),
            )
        progress(Progress(Stage.CHECKING, "Checking that the payment can be recorded…"))
        txn_id = self.bank.new_id()
        try:
            owner = self.owner.acquire()
            await asyncio.to_thread(
                self.journal.create,
                txn_id,
                "sale",
                amount,
                entry=entry,
                reference=request.reference,
                tip=request.tip,
                fields={"owner": owner},
                reserve_bytes=RESERVE_BYTES,  # the disk check and the row: one commit
            )
        except JournalUnavailable as error:
            log.error("sale refused: %s", error.sentence)
            return self._finish(
                progress, Outcome("", Result.ERROR, amount, entry, message=error.sentence)
            )
        try:
            return await self._run(txn_id, request, progress, cancel, timing)
        except JournalUnavailable as error:
            # The row on disk is the truth: recovery settles it on the next start.
            log.error("journal failed during sale %s: %s", txn_id, error.sentence)
            return self._finish(
                progress,
                Outcome(
                    txn_id,
                    Result.ERROR,
                    amount,
                    entry,
                    message=f"{error.sentence} If anything was sent it will be reversed.",
                ),
            )

    async def _run(
        self,
        txn_id: str,
        request: SaleRequest,
        progress: ProgressCallback,
        cancel: asyncio.Event,
        timing: dict[str, float],
    ) -> Outcome:
        amount, entry = request.amount, request.method.protocol_entry
        card: CardData | None = None
        sealed_card: dict[str, Any] | None = None
        sealed_qr: dict[str, Any] | None = None
        device_started = time.perf_counter()
        try:
            if request.method is EntryMethod.NFC:
                timeout = request.timeout_s or self.settings.nfc.tap_timeout_s
                card = await read_card(
                    self.card_capture, txn_id, request, timeout, progress, cancel
                )
            elif request.method is EntryMethod.QR_SCAN:
                timeout = request.timeout_s or self.settings.qr.scan_timeout_s
                text = await scan_code(self.code_scanner, txn_id, timeout, progress, cancel)
                sealed_qr = self.bank.seal_qr(text)
            else:
                from terminal.payment.merchant_qr import merchant_presented_sale

                return await merchant_presented_sale(self, txn_id, request, progress, cancel)
        except Stopped as stop:
            if stop.result is Result.DECLINED:  # the card refused: nothing was sent
                fields = {"code": stop.code, "rule": "card", "message": stop.sentence}
                change = Change(txn_id, Event.DECLINE, fields)
            else:
                change = Change(txn_id, Event.CANCEL, {"message": stop.sentence})
            await asyncio.to_thread(self.journal.apply, change)
            return self._finish(
                progress,
                Outcome(txn_id, stop.result, amount, entry, stop.code, message=stop.sentence),
            )
        finally:
            timing["device"] = time.perf_counter() - device_started
        # `card_read` is committed together with the next step (send or decline): alone it
        # changes nothing outside the terminal, and a crash before either is cancelled anyway.
        if card is not None:
            fields = {
                "masked_pan": card.masked_pan,
                "scheme": card.scheme,
                "aid": card.aid,
                "fingerprint": self.bank.fingerprint(card.pan),
            }
            read = Change(txn_id, Event.CARD_READ, fields)
            label = card.label or card.scheme.upper()
            progress(Progress(Stage.CARD_READ, f"Card read: {label} {card.masked_pan}", txn_id))
            objection = check_card(self.limits, amount, cdcvm=card.cdcvm)
            if objection is not None:
                return await self._decline_here(
                    txn_id, card, amount, entry, objection, Event.DECLINE, progress, read
                )
            sealed_card = self.bank.seal_card(card)
        else:
            read = Change(txn_id, Event.CARD_READ)
            progress(Progress(Stage.CODE_SCANNED, "Code scanned.", txn_id))

        def sign(seq: int, at: datetime) -> bytes:
            return self.bank.sign(
                "authorize",
                id=txn_id,
                seq=seq,
                created_at=at,
                amount=amount,
                entry=entry,
                card=sealed_card,
                qr=sealed_qr,
            )

        body = await asyncio.to_thread(
            self.journal.sign_and_apply, Change(txn_id, Event.SEND), sign, before=(read,)
        )
        progress(Progress(Stage.AUTHORISING, "Authorising with the bank…", txn_id))
        bank_started = time.perf_counter()
        delivery = await self.bank.deliver(txn_id, body)
        timing["bank"] = time.perf_counter() - bank_started
        return await self._settle(txn_id, delivery, card, sealed_card, amount, entry, progress)

    async def _settle(
        self,
        txn_id: str,
        delivery: Delivery,
        card: CardData | None,
        sealed_card: dict[str, Any] | None,
        amount: Amount,
        entry: str,
        progress: ProgressCallback,
    ) -> Outcome:
        masked = card.masked_pan if card else ""
        if delivery.status == "answered":
            reply = delivery.answered
            fields: dict[str, Any] = {
                "code": reply.code,
                "auth_code": reply.auth_code,
                "gateway_ref": reply.gateway_ref,
                "answer": reply.raw,
            }
            if reply.result == "approved":
                message = "Approved" + (
                    f" (auth code {reply.auth_code})." if reply.auth_code else "."
                )
                fields["message"] = message
                await asyncio.to_thread(self.journal.apply, Change(txn_id, Event.APPROVE, fields))
                return self._finish(
                    progress,
                    self._outcome(
                        txn_id,
                        Result.APPROVED,
                        amount,
                        entry,
                        card,
                        reply.code,
                        reply.auth_code,
                        message,
                    ),
                )
            if reply.result == "declined":
                message = f"Declined by the bank: {describe_code(reply.code, reply.reason)}."
                fields["message"] = message
                await asyncio.to_thread(self.journal.apply, Change(txn_id, Event.DECLINE, fields))
                return self._finish(
                    progress,
                    self._outcome(
                        txn_id, Result.DECLINED, amount, entry, card, reply.code, "", message
                    ),
                )
            log.error("sale %s: unexpected answer result %r; reversing", txn_id, reply.result)
            return await self.reverse_unknown(txn_id, amount, entry, masked, progress)
        if delivery.status == "not_sent":
            return await self._offline(txn_id, card, sealed_card, amount, entry, progress)
        if delivery.status == "refused":
            message = (
                f"The bank refused the message ({delivery.detail}); nothing was charged. "
                "Call the technician if this repeats."
            )
            await asyncio.to_thread(
                self.journal.apply, Change(txn_id, Event.REJECT, {"message": message, "code": "96"})
            )
            return self._finish(
                progress,
                self._outcome(txn_id, Result.ERROR, amount, entry, card, "96", "", message),
            )
        return await self.reverse_unknown(txn_id, amount, entry, masked, progress)

    # -- offline (PROTOCOL.md rule 4) -------------------------------------------------------
    async def _offline(
        self,
        txn_id: str,
        card: CardData | None,
        sealed_card: dict[str, Any] | None,
        amount: Amount,
        entry: str,
        progress: ProgressCallback,
    ) -> Outcome:
        fingerprint = self.bank.fingerprint(card.pan) if card else ""
        facts = await asyncio.to_thread(
            reports.offline_facts,
            self.journal,
            self.limits.velocity_window,
            fingerprint,
            amount,
            entry,
            card.expiry if card else "",
        )
        decision = decide_offline(self.limits, facts, self.extra_rules)
        if not decision.approved:
            return await self._decline_here(
                txn_id, card, amount, entry, decision, Event.DECLINE_OFFLINE, progress
            )
        floor = self.limits.floor_limit.minor

        def sign(seq: int, at: datetime) -> bytes:
            offline = {
                "approved_at": iso(at),
                "reason": "gateway_unreachable",
                "floor_limit": floor,
            }
            return self.bank.sign(
                "advice",
                id=txn_id,
                seq=seq,
                created_at=at,
                amount=amount,
                entry=entry,
                card=sealed_card,
                offline=offline,
            )

        # The advice keeps the sale's id: nothing with this id reached the gateway, and if it
        # somehow had, the gateway answers 409 instead of charging twice.
        change = Change(
            txn_id,
            Event.APPROVE_OFFLINE,
            {"offline": True, "rule": decision.rule, "message": decision.reason, "code": "00"},
        )
        await asyncio.to_thread(self.journal.enqueue, change, "advice", txn_id, amount, sign)
        self.forwarder.wake()
        return self._finish(
            progress,
            self._outcome(
                txn_id, Result.APPROVED_OFFLINE, amount, entry, card, "00", "", decision.reason
            ),
        )

    async def _decline_here(
        self,
        txn_id: str,
        card: CardData | None,
        amount: Amount,
        entry: str,
        decision: Decision,
        event: Event,
        progress: ProgressCallback,
        first: Change | None = None,
    ) -> Outcome:
        """The terminal's own decline (CVM limit, offline limits); nothing reaches the bank."""
        fields = {"code": decision.code, "rule": decision.rule, "message": decision.reason}
        changes = (first,) if first is not None else ()
        await asyncio.to_thread(self.journal.apply, *changes, Change(txn_id, event, fields))
        return self._finish(
            progress,
            self._outcome(
                txn_id, Result.DECLINED, amount, entry, card, decision.code, "", decision.reason
            ),
        )

    # -- unknown outcome (PROTOCOL.md rule 3) -----------------------------------------------
    async def reverse_unknown(
        self, txn_id: str, amount: Amount, entry: str, masked_pan: str, progress: ProgressCallback
    ) -> Outcome:
        """Commit a reversal before telling the operator, then try to deliver it at once."""
        progress(
            Progress(Stage.REVERSING, "No answer from the bank: reversing the payment…", txn_id)
        )
        reverse_id = self.bank.new_id()

        def sign(seq: int, at: datetime) -> bytes:
            return self._sign_reverse(reverse_id, txn_id, amount, seq, at)

        item = await asyncio.to_thread(
            self.journal.enqueue,
            Change(txn_id, Event.REVERSE),
            "reverse",
            reverse_id,
            amount,
            sign,
            before=(Change(txn_id, Event.NO_ANSWER),),
        )
        # Committed: now try it at once; if it fails the forwarder keeps trying.
        await self.forwarder.forward_one(item, deadline_s=self.settings.gateway.timeout_s)
        state = (await asyncio.to_thread(self.journal.get, txn_id)).state
        if state is State.REVERSED:
            message = (
                "No answer from the bank in time, so the payment was reversed: nothing is charged. "
                "Ask for the payment again."
            )
        else:
            self.forwarder.wake()
            message = (
                "No answer from the bank in time. A reversal is stored and will be sent as soon "
                "as the bank answers, so nothing stays charged. Ask for another payment."
            )
        await asyncio.to_thread(self.journal.note, txn_id, message)
        outcome = Outcome(
            txn_id, Result.ERROR, amount, entry, "68", "", masked_pan, message, state=state.value
        )
        return self._finish(progress, outcome)

    # -- outcomes -------------------------------------------------------------------------
    @staticmethod
    def _outcome(
        txn_id: str,
        result: Result,
        amount: Amount,
        entry: str,
        card: CardData | None,
        code: str,
        auth_code: str,
        message: str,
    ) -> Outcome:
        return Outcome(
            id=txn_id,
            result=result,
            amount=amount,
            entry=entry,
            code=code,
            auth_code=auth_code,
            masked_pan=card.masked_pan if card else "",
            message=message,
            scheme=card.scheme if card else "",
            aid=card.aid if card else "",
        )

    @staticmethod
    def _finish(progress: ProgressCallback, outcome: Outcome) -> Outcome:
        progress(
            Progress(Stage.RESULT, outcome.message, outcome.id, {"result": outcome.result.value})
        )
        return outcome
