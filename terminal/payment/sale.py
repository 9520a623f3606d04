"""One sale, from the operator's amount to a definite, journaled end.

The order is what makes it safe:

1. Risk pre-checks, then the journal must accept a write (disk full or read-only → refused
   here, before any card is read); the sale's row is created.
2. The card (or code) is captured through the injected device protocol; only the masked PAN,
   scheme, AID, keyed fingerprint and what the receipt needs from the card (application
   label, cryptogram type, CVM performed) are journaled. The card data itself goes to the bank
   port in the `authorize` operation, which seals it.
3. The settlement step commits the `authorize` (state `authorising`, with its seq and exact
   bytes, together with `card_read`) before it is sent; the sale's id is that message's id.
4. The settlement table decides what the delivery means; when nothing was sent, the offline
   rules here decide (advice encoded and queued in the approving commit).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from terminal.emv.card_data import CardData
from terminal.payment import reports
from terminal.payment.api import (
    CardCapture,
    CodePresenter,
    CodeScanner,
    EntryMethod,
    Outcome,
    Progress,
    ProgressCallback,
    Result,
    SaleRequest,
    Stage,
)
from terminal.payment.bank import OfflineApproval, Operation
from terminal.payment.cancel import CancelledBeforeSend, pass_point_of_no_return
from terminal.payment.capture import Stopped, read_card, scan_code
from terminal.payment.card_read import card_read
from terminal.payment.context import Core, Tracker
from terminal.payment.errors import JournalUnavailable, UnknownTransaction
from terminal.payment.journal import Change, Rows
from terminal.payment.risk import Decision, Limits, Rule, check_card, check_sale, decide_offline
from terminal.payment.settlement import Settlement, Subject, finish
from terminal.payment.states import Event
from terminal.payment.tenders import TenderNotAllowed, tender_guard, with_tender_amounts
from terminal.payment.wallet_confirm import await_confirmation
from terminal.qr.wallet_code import WalletCodeError, WalletScheme, recognise_wallet_code

log = logging.getLogger("terminal.payment.sale")

RESERVE_BYTES = 256 * 1024
"""Free space a sale needs before it starts: its rows, history, queue entry, with margin."""


def wallet_of(text: str) -> WalletScheme | None:
    """The wallet of a scanned wallet pay code; None for any other code (EMVCo CPM)."""
    try:
        return recognise_wallet_code(text).scheme
    except WalletCodeError:
        return None


@dataclass(frozen=True, slots=True)
class Devices:
    """The capture devices a sale may use (None: not configured)."""

    card_capture: CardCapture | None = None
    code_scanner: CodeScanner | None = None
    code_presenter: CodePresenter | None = None


class SaleRun:
    """Runs sales over a `Core`; the engine makes one and hands it each request."""

    def __init__(
        self,
        core: Core,
        settlement: Settlement,
        limits: Limits,
        fingerprint: Callable[[str], str],
        extra_rules: Sequence[Rule] = (),
    ) -> None:
        self.core = core
        self.settlement = settlement
        self.limits = limits
        self.fingerprint = fingerprint
        self.extra_rules = tuple(extra_rules)

    async def run(
        self,
        request: SaleRequest,
        devices: Devices,
        progress: ProgressCallback,
        cancel: asyncio.Event,
        tracker: Tracker,
    ) -> Outcome:
        """The sale's end; raises only for a bug or a journal failure (the engine turns
        those into an outcome)."""
        core = self.core
        amount, method = request.amount, request.method
        entry = method.protocol_entry
        refusal = check_sale(self.limits, amount, method.value)
        if refusal is not None:
            # An invalid amount or currency is the door's to refuse (SaleRequest.check); one
            # that got here anyway ends as an error, never as a decline with a code.
            result = Result.ERROR if refusal.rule in ("amount", "currency") else Result.DECLINED
            code = "" if result is Result.ERROR else refusal.code
            return finish(
                progress, Outcome("", result, amount, entry, code, message=refusal.reason)
            )
        progress(Progress(Stage.CHECKING, "Checking that the payment can be recorded…"))
        txn_id = core.bank.new_id()
        try:
            owner = core.owner.acquire()
            await asyncio.to_thread(
                core.journal.create,
                txn_id,
                "sale",
                amount,
                entry=entry,
                reference=request.reference,
                tip=request.tip,
                ref=request.split_of,
                fields={"owner": owner},
                reserve_bytes=RESERVE_BYTES,  # the disk check and the row: one commit
                guard=tender_guard(request),
            )
        except (TenderNotAllowed, UnknownTransaction) as no_tender:
            return finish(
                progress, Outcome("", Result.ERROR, amount, entry, message=no_tender.sentence)
            )
        except JournalUnavailable as error:
            log.error("sale refused: %s", error.sentence)
            return finish(
                progress, Outcome("", Result.ERROR, amount, entry, message=error.sentence)
            )
        tracker.txn_id = txn_id
        if method is EntryMethod.QR_SHOW:
            from terminal.payment.merchant_qr import merchant_presented_sale

            return await merchant_presented_sale(
                core, self.settlement, devices.code_presenter, txn_id, request, progress, cancel
            )
        return await self._capture_and_send(txn_id, request, devices, progress, cancel, tracker)

    async def _capture_and_send(
        self,
        txn_id: str,
        request: SaleRequest,
        devices: Devices,
        progress: ProgressCallback,
        cancel: asyncio.Event,
        tracker: Tracker,
    ) -> Outcome:
        core = self.core
        amount, entry = request.amount, request.method.protocol_entry
        card: CardData | None = None
        text: str | None = None
        device_started = time.perf_counter()
        try:
            if request.method is EntryMethod.NFC:
                timeout = request.timeout_s or core.settings.nfc.tap_timeout_s
                card = await read_card(
                    devices.card_capture, txn_id, request, timeout, progress, cancel
                )
            else:
                timeout = request.timeout_s or core.settings.qr.scan_timeout_s
                text = await scan_code(devices.code_scanner, txn_id, timeout, progress, cancel)
        except Stopped as stop:
            if stop.result is Result.DECLINED:  # the card refused: nothing was sent
                fields = {"code": stop.code, "rule": "card", "message": stop.sentence}
                change = Change(txn_id, Event.DECLINE, fields)
            else:
                change = Change(txn_id, Event.CANCEL, {"message": stop.sentence})
            await asyncio.to_thread(core.journal.apply, change)
            return finish(
                progress,
                Outcome(txn_id, stop.result, amount, entry, stop.code, message=stop.sentence),
            )
        finally:
            tracker.device_s = time.perf_counter() - device_started
        subject = Subject(txn_id, amount, entry)
        # `card_read` is committed together with the next step (send or decline): alone it
        # changes nothing outside the terminal, and a crash before either is cancelled anyway.
        if card is not None:
            subject, read = card_read(txn_id, amount, entry, card, self.fingerprint, progress)
            objection = check_card(self.limits, amount, cdcvm=card.cdcvm)
            if objection is not None:
                return await self._decline_here(subject, objection, Event.DECLINE, progress, read)
        else:
            wallet = wallet_of(text or "")
            if wallet is not None:
                subject = Subject(txn_id, amount, entry, scheme=wallet.value)
                read = Change(txn_id, Event.CARD_READ, {"scheme": wallet.value})
                progress(Progress(Stage.CODE_SCANNED, f"{wallet.label} pay code scanned.", txn_id))
                return await self._send_wallet_code(subject, read, text or "", progress, cancel)
            read = Change(txn_id, Event.CARD_READ)
            progress(Progress(Stage.CODE_SCANNED, "Code scanned.", txn_id))
        authorize = Operation(
            "authorize",
            txn_id,
            amount,
            entry,
            card=card,
            qr_text=text,
            allow_partial=request.allow_partial,
        )

        async def offline() -> Outcome:
            return await self._offline(subject, card, progress)

        try:
            settled = await self.settlement.send(
                "sale_split" if request.allow_partial else "sale",
                authorize,
                subject,
                progress,
                announce="Authorising with the bank…",
                before=(read,),
                offline=offline,
                gate=lambda: pass_point_of_no_return(cancel),
            )
        except CancelledBeforeSend:
            return await self.settlement.cancelled_before_send(
                subject,
                progress,
                "Cancelled by the operator before anything was sent; nothing was charged.",
            )
        tracker.bank_s = settled.bank_s
        assert settled.outcome is not None, "every sale row ends the sale"
        if request.allow_partial or request.split_of:
            return await asyncio.to_thread(
                with_tender_amounts, core.journal, settled.outcome, settled.reply, request
            )
        return settled.outcome

    async def card_refund(
        self,
        request: SaleRequest,
        devices: Devices,
        progress: ProgressCallback,
        cancel: asyncio.Event,
        tracker: Tracker,
    ) -> Outcome:
        """A card-present refund with no sale to refer to (a till's "refund to this card"):
        journaled as a refund without `ref`, the card read like a sale's, sent online only
        (the table's refund rows: nothing offline, a lost answer reversed). The bank applies
        its own limit for such refunds."""
        core = self.core
        amount, entry = request.amount, EntryMethod.NFC.protocol_entry
        refusal = check_sale(self.limits, amount, EntryMethod.NFC.value)
        if refusal is not None and refusal.rule in ("amount", "currency"):
            return finish(
                progress, Outcome("", Result.ERROR, amount, entry, message=refusal.reason)
            )
        progress(Progress(Stage.CHECKING, "Checking that the refund can be recorded…"))
        txn_id = core.bank.new_id()
        try:
            owner = core.owner.acquire()
            await asyncio.to_thread(
                core.journal.create,
                txn_id,
                "refund",
                amount,
                entry=entry,
                reference=request.reference,
                fields={"owner": owner},
                reserve_bytes=RESERVE_BYTES,
            )
        except JournalUnavailable as error:
            return finish(
                progress, Outcome("", Result.ERROR, amount, entry, message=error.sentence)
            )
        tracker.txn_id = txn_id
        device_started = time.perf_counter()
        try:
            timeout = request.timeout_s or core.settings.nfc.tap_timeout_s
            card = await read_card(devices.card_capture, txn_id, request, timeout, progress, cancel)
        except Stopped as stop:
            result = Result.DECLINED if stop.result is Result.DECLINED else Result.CANCELLED
            event = Event.DECLINE if result is Result.DECLINED else Event.CANCEL
            fields = {"message": stop.sentence, **({"code": stop.code} if stop.code else {})}
            await asyncio.to_thread(core.journal.apply, Change(txn_id, event, fields))
            return finish(
                progress, Outcome(txn_id, result, amount, entry, stop.code, message=stop.sentence)
            )
        finally:
            tracker.device_s = time.perf_counter() - device_started
        subject, read = card_read(
            txn_id, amount, entry, card, self.fingerprint, progress, kind="refund"
        )
        operation = Operation("refund", txn_id, amount, entry, card=card)
        try:
            settled = await self.settlement.send(
                "refund",
                operation,
                subject,
                progress,
                announce="Sending the refund to the bank…",
                before=(read,),
                gate=lambda: pass_point_of_no_return(cancel),
            )
        except CancelledBeforeSend:
            return await self.settlement.cancelled_before_send(
                subject, progress, "Cancelled before anything was sent; nothing was refunded."
            )
        tracker.bank_s = settled.bank_s
        assert settled.outcome is not None, "every refund row ends the refund"
        return settled.outcome

    async def _send_wallet_code(
        self,
        subject: Subject,
        read: Change,
        text: str,
        progress: ProgressCallback,
        cancel: asyncio.Event,
    ) -> Outcome:
        """A wallet pay code: the `authorize` names the wallet (`qr.scheme`) and carries the code
        sealed; a `pending` answer means the customer is confirming on the phone."""
        core, txn_id = self.core, subject.txn_id
        authorize = Operation(
            "authorize",
            txn_id,
            subject.amount,
            subject.entry,
            qr_text=text,
            qr_scheme=subject.scheme,
        )
        try:
            settled = await self.settlement.send(
                "wallet_sale",
                authorize,
                subject,
                progress,
                announce="Sending the pay code to the wallet…",
                before=(read,),
                gate=lambda: pass_point_of_no_return(cancel),
            )
        except CancelledBeforeSend:
            return await self.settlement.cancelled_before_send(
                subject,
                progress,
                "Cancelled by the operator before anything was sent; nothing was charged.",
            )
        if settled.outcome is not None:
            return settled.outcome
        wallet = WalletScheme(subject.scheme).label
        return await await_confirmation(
            core, self.settlement, subject, settled.reply, wallet, progress, cancel
        )

    async def _offline(
        self, subject: Subject, card: CardData | None, progress: ProgressCallback
    ) -> Outcome:
        """Nothing was sent: approve here if the offline rules allow (PROTOCOL.md rule 4)."""
        core, txn_id = self.core, subject.txn_id
        fingerprint = self.fingerprint(card.pan) if card else ""
        decisions: list[Decision] = []

        def objection(rows: Rows, now: datetime) -> Change | None:
            """The offline rules, read and decided inside the approving commit (finding: two
            processes could both pass the last slot of a cap)."""
            facts = reports.offline_facts(
                rows,
                now,
                self.limits.velocity_window,
                fingerprint,
                subject.amount,
                subject.entry,
                card.expiry if card else "",
            )
            decision = decide_offline(self.limits, facts, self.extra_rules)
            decisions.append(decision)
            if decision.approved:
                return None
            fields = {"code": decision.code, "rule": decision.rule, "message": decision.reason}
            return Change(txn_id, Event.DECLINE_OFFLINE, fields)

        def approval() -> Change:
            decision = decisions[-1]
            fields = {
                "offline": True,
                "rule": decision.rule,
                "message": decision.reason,
                "code": "00",
            }
            return Change(txn_id, Event.APPROVE_OFFLINE, fields)

        # The advice keeps the sale's id: nothing with this id reached the gateway, and if it
        # somehow had, the gateway answers 409 instead of charging twice.
        advice = Operation(
            "advice",
            txn_id,
            subject.amount,
            subject.entry,
            card=card,
            offline=OfflineApproval(self.limits.floor_limit.minor),
        )
        queued = await asyncio.to_thread(
            core.journal.enqueue_unless,
            objection,
            approval,
            "advice",
            txn_id,
            subject.amount,
            lambda seq, at: core.bank.encode(advice, seq, at),
        )
        decision = decisions[-1]
        if isinstance(queued, Change):
            outcome = subject.outcome(Result.DECLINED, decision.code, "", decision.reason)
            return finish(progress, outcome)
        core.forwarder.wake()
        outcome = subject.outcome(Result.APPROVED_OFFLINE, "00", "", decision.reason)
        return finish(progress, outcome)

    async def _decline_here(
        self,
        subject: Subject,
        decision: Decision,
        event: Event,
        progress: ProgressCallback,
        first: Change | None = None,
    ) -> Outcome:
        """The terminal's own decline (CVM limit, offline limits); nothing reaches the bank."""
        fields = {"code": decision.code, "rule": decision.rule, "message": decision.reason}
        changes = (first,) if first is not None else ()
        await asyncio.to_thread(
            self.core.journal.apply, *changes, Change(subject.txn_id, event, fields)
        )
        outcome = subject.outcome(Result.DECLINED, decision.code, "", decision.reason)
        return finish(progress, outcome)
