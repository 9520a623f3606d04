"""The payment engine: the one API the operator screen, the CLI and the ECR API drive.

It composes the payment core and owns nothing of a payment's meaning itself:

- `sale.py` runs a sale, `adjustments.py` refunds, voids and the batch close,
  `merchant_qr.py` the merchant-presented code; each works on a `Core` (journal, bank port,
  owner lock, queue), never on the engine.
- `settlement.py` says what every bank delivery means; `forwarder.py` forwards the queue.

Its entry points never raise for a runtime failure. Requests are checked before they get here
(`SaleRequest.check`, `check_refund`, `check_void`, which raise the door's refusal with exit
code 2 and send nothing). After that every failure (device, journal, bank, a bug) ends as an
`Outcome` with result `error` and a sentence; a bug is logged with its traceback, and the
transaction is moved to a state that needs nobody (cancelled, or reversing with its reversal
queued), or, if even the journal fails, left for start-up recovery.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from terminal.money import Amount
from terminal.payment import reports
from terminal.payment.adjustments import Adjustment, check_refund, check_void, run_adjustment
from terminal.payment.adjustments import close_batch as close_batch_with
from terminal.payment.api import (
    BatchResult,
    CardCapture,
    CodePresenter,
    CodeScanner,
    Outcome,
    ProgressCallback,
    QueueStatus,
    Result,
    SaleRequest,
    Totals,
    TransactionView,
)
from terminal.payment.bank import Bank, Operation
from terminal.payment.between_sales import BetweenSales
from terminal.payment.context import Core, Tracker
from terminal.payment.counter import CounterFlows
from terminal.payment.errors import JournalUnavailable, NotConfigured
from terminal.payment.forwarder import FlushReport, Forwarder
from terminal.payment.holds import HoldAction, HoldKind, PreauthRun, check_hold, run_hold_action
from terminal.payment.journal import Journal
from terminal.payment.recovery import OwnerLock, recover, resolve
from terminal.payment.risk import Limits, Rule
from terminal.payment.sale import RESERVE_BYTES, Devices, SaleRun
from terminal.payment.settlement import Settlement, finish
from terminal.payment.states import IN_FLIGHT, State
from terminal.settings import Settings

__all__ = ["RESERVE_BYTES", "Engine", "SaleTiming"]

log = logging.getLogger("terminal.payment.engine")

INTERNAL_PROBLEM = "The terminal had an internal problem (details are in the log)."
RESCUED = {
    State.CANCELLED: "Nothing was charged.",
    State.REVERSING: "The payment is being reversed, so nothing stays charged.",
}
"""What the operator is told of a transaction an internal problem interrupted."""


@dataclass(frozen=True, slots=True)
class SaleTiming:
    """Where the time of the last sale went (for the overhead benchmark)."""

    total_s: float
    device_s: float
    bank_s: float

    @property
    def engine_s(self) -> float:
        return max(0.0, self.total_s - self.device_s - self.bank_s)


class Engine(CounterFlows):
    """The payment engine (implements `terminal.payment.api.PaymentEngine`); tip adjust and
    split tender come from `CounterFlows` (counter.py)."""

    def __init__(
        self,
        settings: Settings,
        journal: Journal,
        bank: Bank,
        *,
        fingerprint: Callable[[str], str],
        card_capture: CardCapture | None = None,
        code_scanner: CodeScanner | None = None,
        code_presenter: CodePresenter | None = None,
        extra_rules: Sequence[Rule] = (),
        forwarder: Forwarder | None = None,
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.bank = bank
        journal.redact = bank.redact  # card data is wiped in the commit of the final answer
        self.card_capture = card_capture
        self.code_scanner = code_scanner
        self.code_presenter = code_presenter
        self.forwarder = forwarder or Forwarder(journal, bank)
        self.owner = OwnerLock(settings.data_dir)
        self.currency = settings.currency
        self._fingerprint = fingerprint
        self._extra_rules = extra_rules
        self._compose(settings)
        self.gate = BetweenSales()
        self.last_timing: SaleTiming | None = None
        self._task: asyncio.Task[None] | None = None
        self._link_check: asyncio.Task[None] | None = None
        self._closed = False

    def _compose(self, settings: Settings) -> None:
        """The parts that read the settings (limits, timeouts), built from `settings`."""
        self.settings = settings
        self.limits = Limits.from_settings(settings)
        self.core = Core(settings, self.journal, self.bank, self.owner, self.forwarder)
        self.settlement = Settlement(self.core)
        self.sales = SaleRun(
            self.core, self.settlement, self.limits, self._fingerprint, self._extra_rules
        )
        self.preauths = PreauthRun(self.core, self.settlement, self.limits, self._fingerprint)

    async def reconfigure(self, settings: Settings) -> None:
        """Take new settings between payments (a fleet configuration bundle): waits for the
        payment under way, then swaps limits, risk rules and timeouts at once; the card
        reader's kernel takes its new limits and the camera its QR decoder too. Identity, data
        folder, currency and the bank link are not changed while running: a `NotConfigured`
        says so and nothing changes."""
        unchanged = ("terminal", "gateway")
        moved = [
            name for name in unchanged if getattr(settings, name) != getattr(self.settings, name)
        ]
        if moved or settings.currency != self.settings.currency:
            what = ", ".join(
                [*moved, *(["currency"] if settings.currency != self.currency else [])]
            )
            raise NotConfigured(
                f"The running terminal cannot change [{what}]; restart it with the new site "
                "file instead. Nothing changed."
            )
        async with self.gate.between():
            self._compose(settings)
            for device in (self.card_capture, self.code_scanner):
                # the NFC kernel's limits, the QR decoder (terminal/wiring)
                use_settings = getattr(device, "use_settings", None)
                if use_settings is not None:
                    use_settings(settings)
        log.info("settings changed between payments")

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self, *, forward: bool = True) -> None:
        """Claim this engine's lock, recover what a crash left, start the forwarder, and check
        the link in the background (so "Bank: ONLINE" shows before the first sale, without a
        slow gateway delaying start-up)."""
        self.owner.acquire()
        await self.recover()
        if not await asyncio.to_thread(lambda: self.journal.card_data_wiped):
            # A journal written before card data was wiped at the final answer: once.
            wiped = await asyncio.to_thread(self.journal.wipe_card_data)
            log.info("card data wiped from %d stored messages of an older journal", wiped)
        if self._link_check is None:
            self._link_check = asyncio.create_task(self._check_link(), name="link-check")
        if forward and self._task is None:
            self._task = asyncio.create_task(self.forwarder.run(), name="store-and-forward")

    async def link_checked(self) -> None:
        """Wait for the link check that `start` began (for callers that then cut the link)."""
        if self._link_check is not None:
            await asyncio.shield(self._link_check)

    async def _check_link(self) -> None:
        """One link check at start: sets `gateway_online`; wakes the forwarder when up."""
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
        from terminal.payment.wallet_confirm import recover_wallet_sales

        await recover_wallet_sales(self.core, self.settlement)
        moved = await asyncio.to_thread(
            recover, self.journal, self.owner, self.bank.new_id, self._encode_reverse
        )
        if moved:
            self.forwarder.wake()
        return moved

    def _encode_reverse(
        self, reverse_id: str, ref: str, amount: Amount, seq: int, at: datetime
    ) -> bytes:
        return self.bank.encode(Operation("reverse", reverse_id, amount, ref=ref), seq, at)

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

    # -- payments -------------------------------------------------------------------------
    async def sale(
        self, request: SaleRequest, progress: ProgressCallback, cancel: asyncio.Event
    ) -> Outcome:
        """Run a sale to a definite end; never raises for a runtime failure. It runs under
        the settings in force when it starts (`reconfigure` waits for it)."""
        async with self.gate.payment():
            started = time.perf_counter()
            tracker = Tracker()
            devices = Devices(self.card_capture, self.code_scanner, self.code_presenter)
            try:
                return await self._guarded(
                    "sale",
                    self.sales.run(request, devices, progress, cancel, tracker),
                    tracker,
                    request.amount,
                    request.method.protocol_entry,
                    progress,
                )
            finally:
                self.last_timing = SaleTiming(
                    time.perf_counter() - started, tracker.device_s, tracker.bank_s
                )

    async def card_refund(
        self, request: SaleRequest, progress: ProgressCallback, cancel: asyncio.Event
    ) -> Outcome:
        """A card-present refund without a sale to refer to (the card is read, the bank
        credits it within its limit); never raises for a runtime failure."""
        async with self.gate.payment():
            tracker = Tracker()
            devices = Devices(self.card_capture, self.code_scanner, self.code_presenter)
            return await self._guarded(
                "refund",
                self.sales.card_refund(request, devices, progress, cancel, tracker),
                tracker,
                request.amount,
                "nfc",
                progress,
            )

    async def check_refund(self, sale_id: str, amount: Amount | None) -> Adjustment:
        """The refund the journal allows; raises `RefundNotAllowed` / `UnknownTransaction`
        (exit code 2, nothing sent) when it does not."""
        return await asyncio.to_thread(check_refund, self.journal, sale_id, amount)

    async def check_void(self, sale_id: str) -> Adjustment:
        """The void the journal allows; raises `VoidNotAllowed` / `UnknownTransaction`."""
        return await asyncio.to_thread(check_void, self.journal, sale_id)

    async def adjust(self, adjustment: Adjustment, progress: ProgressCallback) -> Outcome:
        """Send a checked refund or void to a definite end; never raises."""
        tracker = Tracker()

        async def run() -> Outcome:
            outcome = await run_adjustment(
                self.core, self.settlement, adjustment, progress, tracker
            )
            return outcome

        sale = adjustment.sale
        async with self.gate.payment():
            return await self._guarded(
                adjustment.kind, run(), tracker, adjustment.amount, sale.entry, progress
            )

    async def refund(
        self, sale_id: str, amount: Amount | None, progress: ProgressCallback
    ) -> Outcome:
        """`check_refund` then `adjust`: only the check's refusals raise."""
        return await self.adjust(await self.check_refund(sale_id, amount), progress)

    async def void(self, sale_id: str, progress: ProgressCallback) -> Outcome:
        """`check_void` then `adjust`: only the check's refusals raise."""
        return await self.adjust(await self.check_void(sale_id), progress)

    # -- pre-authorisations (holds.py) ------------------------------------------------------
    async def preauth(
        self, request: SaleRequest, progress: ProgressCallback, cancel: asyncio.Event
    ) -> Outcome:
        """Hold `request.amount` on a tapped card; never raises for a runtime failure. Never
        approved offline."""
        async with self.gate.payment():
            tracker = Tracker()
            return await self._guarded(
                "preauth",
                self.preauths.run(request, self.card_capture, progress, cancel, tracker),
                tracker,
                request.amount,
                "nfc",
                progress,
            )

    async def check_hold(
        self,
        kind: HoldKind,
        hold_id: str,
        amount: Amount | None = None,
        tip: Amount | None = None,
        reference: str = "",
    ) -> HoldAction:
        """The increment, capture or cancel the journal allows; raises `HoldNotAllowed` /
        `UnknownTransaction` (exit code 2, nothing sent) when it does not. `reference` is the
        till's idempotency key: a retry under it is answered with the first outcome."""
        return await asyncio.to_thread(
            check_hold, self.journal, kind, hold_id, amount, tip, reference
        )

    async def act_on_hold(self, action: HoldAction, progress: ProgressCallback) -> Outcome:
        """Send a checked increment, capture or cancel to a definite end; never raises."""
        tracker = Tracker()
        async with self.gate.payment():
            return await self._guarded(
                action.kind,
                run_hold_action(self.core, self.settlement, action, progress, tracker),
                tracker,
                action.amount,
                action.hold.entry,
                progress,
            )

    def open_holds(self) -> list[TransactionView]:
        """Pre-authorisations still held (the operator screen's "Open tabs")."""
        return reports.open_holds(self.journal)

    async def close_batch(self) -> BatchResult:
        """Forward what is queued, then close the batch with the bank (see adjustments.py).
        Never raises: a failure inside the terminal leaves the batch open, result "error"."""
        try:
            report = await self.forwarder.flush()
            return await close_batch_with(self.core, report)
        except JournalUnavailable as error:
            log.error("journal failed during the batch close: %s", error.sentence)
            return BatchResult(Result.ERROR, {}, {}, f"{error.sentence} The batch stays open.")
        except Exception:
            log.exception("the batch close failed inside the terminal")
            message = f"{INTERNAL_PROBLEM} The batch stays open; try again."
            return BatchResult(Result.ERROR, {}, {}, message)

    # -- the guard ------------------------------------------------------------------------
    async def _guarded(
        self,
        kind: str,
        work: Awaitable[Outcome],
        tracker: Tracker,
        amount: Amount,
        entry: str,
        progress: ProgressCallback,
    ) -> Outcome:
        """`work`'s outcome; any failure in it becomes an error outcome with a sentence."""
        try:
            return await work
        except JournalUnavailable as error:
            # The row on disk is the truth: recovery settles it on the next start.
            log.error("journal failed during %s %s: %s", kind, tracker.txn_id, error.sentence)
            message = error.sentence
            if tracker.txn_id:
                message += " If anything was sent it will be reversed."
            return finish(
                progress, Outcome(tracker.txn_id, Result.ERROR, amount, entry, message=message)
            )
        except Exception:
            log.exception("%s %s failed inside the terminal", kind, tracker.txn_id or "-")
            state = await self._rescue(tracker.txn_id)
            fate = RESCUED.get(state, "") if state is not None else ""
            message = " ".join(
                part
                for part in (INTERNAL_PROBLEM, fate, "Check history before trying again.")
                if part
            )
            outcome = Outcome(
                tracker.txn_id,
                Result.ERROR,
                amount,
                entry,
                message=message,
                state=state.value if state else "",
            )
            return finish(progress, outcome)

    async def _rescue(self, txn_id: str) -> State | None:
        """Move a transaction an internal problem interrupted to a state that needs nobody,
        as start-up recovery would; None when there is none or the journal cannot."""
        if not txn_id:
            return None
        sentences = (
            "Interrupted by an internal problem before anything was sent.",
            "Interrupted by an internal problem after the request was sent; "
            "the payment is being reversed.",
        )
        try:
            txn = await asyncio.to_thread(self.journal.get, txn_id)
            if txn.state not in IN_FLIGHT:
                return txn.state
            state = await asyncio.to_thread(
                resolve,
                self.journal,
                txn,
                self.bank.new_id,
                self._encode_reverse,
                sentences,
                detail="rescue",
            )
        except Exception:
            log.exception("%s could not be moved on; start-up recovery will", txn_id)
            return None
        self.forwarder.wake()
        return state
