"""An in-memory `PaymentEngine` for screen tests that do not need the real engine (layout,
keys, snapshots). Sales wait for `tap()` / `pay_code()` like a real reader or wallet would;
results follow the amount the way the gateway simulator's test amounts do (cents 51 decline
with insufficient funds) or `next_result`. Tests of payment outcomes that the issue names
(sale, decline, offline, refund, close batch) also run against the real engine."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from terminal.errors import PostermError
from terminal.money import Amount
from terminal.payment.api import (
    BatchResult,
    EntryMethod,
    Outcome,
    Progress,
    ProgressCallback,
    QueueStatus,
    Result,
    SaleRequest,
    Stage,
    Totals,
    TotalsLine,
    TransactionView,
)

T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
MPM_PAYLOAD = (
    "00020101021226360014A000000615000101060123450209POSTERM1520459995303978540512"
    "3.455802DE5917POSTERM DEMO SHOP6006BERLIN62610536c4d1e7f2-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
    "0708DEMO00016304ABCD"
)
"""As long as the real merchant-presented payload (a UUID reference label): sizes the code."""


class UnknownTransaction(PostermError):
    exit_code = 2


BATCH_NOT_CLOSED = (
    "The batch could not be closed (no answer: timed out); it stays open. "
    "Try again later: the same close is sent again."
)


class MemoryEngine:
    def __init__(self, currency: str = "EUR") -> None:
        self.currency = currency
        self.rows: list[TransactionView] = []
        self.online = True
        self.floor_limit = 5000
        self.queue: list[TransactionView] = []
        self.next_result: tuple[Result, str] | None = None
        self._tapped = asyncio.Event()
        self._paid = asyncio.Event()
        self.clock = T0
        self.batch_answer = "balanced"
        self.requests: list[SaleRequest] = []
        self.code_lifetime_s: float | None = 120.0
        """None: the merchant code has no expiry shown (stable snapshots)."""
        self._ids = 0

    def _new_id(self) -> str:
        self._ids += 1
        return str(uuid.UUID(int=0x7F1C2A9E5B8D4C3E9A1F000000000000 + self._ids))

    # -- the customer's side ------------------------------------------------------------
    def tap(self) -> None:
        self._tapped.set()

    def pay_code(self) -> None:
        self._paid.set()

    # -- PaymentEngine ------------------------------------------------------------------
    @property
    def gateway_online(self) -> bool:
        return self.online

    def _now(self) -> datetime:
        self.clock += timedelta(minutes=7)
        return self.clock

    async def _wait(self, event: asyncio.Event, cancel: asyncio.Event) -> bool:
        waiter = asyncio.ensure_future(event.wait())
        cancelled = asyncio.ensure_future(cancel.wait())
        done, pending = await asyncio.wait({waiter, cancelled}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        event.clear()
        return waiter in done

    async def sale(
        self, request: SaleRequest, progress: ProgressCallback, cancel: asyncio.Event
    ) -> Outcome:
        self.requests.append(request)
        txn = self._new_id()
        entry = request.method.protocol_entry
        progress(Progress(Stage.CHECKING, "Checking the amount.", txn))
        masked = ""
        if request.method is EntryMethod.NFC:
            progress(Progress(Stage.WAITING_FOR_CARD, "Present card.", txn))
            if not await self._wait(self._tapped, cancel):
                return self._record(txn, request, Result.CANCELLED, entry, "", "", "")
            progress(Progress(Stage.READING_CARD, "Reading card.", txn))
            masked = "476173******0119"
        elif request.method is EntryMethod.QR_SHOW:
            expires = (
                (datetime.now(UTC) + timedelta(seconds=self.code_lifetime_s)).isoformat()
                if self.code_lifetime_s is not None
                else ""
            )
            progress(
                Progress(
                    Stage.SHOWING_CODE,
                    "Showing code.",
                    txn,
                    {"payload": "000201010212" + "5303978540" + txn, "expires_at": expires},
                )
            )
            if not await self._wait(self._paid, cancel):
                return self._record(txn, request, Result.CANCELLED, entry, "", "", "")
        else:
            progress(Progress(Stage.SCANNING, "Scanning.", txn))
            if not await self._wait(self._paid, cancel):
                return self._record(txn, request, Result.CANCELLED, entry, "", "", "")
        progress(Progress(Stage.AUTHORISING, "Authorising.", txn))
        await asyncio.sleep(0)
        result, code = self.next_result or (
            (Result.DECLINED, "51") if request.amount.minor % 100 == 51 else (Result.APPROVED, "00")
        )
        self.next_result = None
        if not self.online and result is Result.APPROVED:
            if request.method is EntryMethod.NFC and request.amount.minor <= self.floor_limit:
                result, code = Result.APPROVED_OFFLINE, ""
            else:
                result, code = Result.ERROR, ""
        auth = "A1B2C3" if result is Result.APPROVED else ""
        message = {"51": "Insufficient funds."}.get(code, "")
        if result is Result.ERROR:
            message = "The bank cannot be reached and this sale cannot be approved offline."
        outcome = self._record(txn, request, result, entry, code, auth, masked, message)
        progress(Progress(Stage.RESULT, outcome.message or result.value, txn))
        return outcome

    def _record(
        self,
        txn: str,
        request: SaleRequest,
        result: Result,
        entry: str,
        code: str,
        auth: str,
        masked: str,
        message: str = "",
    ) -> Outcome:
        view = TransactionView(
            id=txn,
            type="sale",
            state=result.value,
            result=result.value,
            amount=request.amount,
            entry=entry,
            masked_pan=masked,
            created_at=self._now(),
            code=code,
            auth_code=auth,
            scheme="visa" if masked else "",
            aid="A0000000031010" if masked else "",
            reference=request.reference,
            tip=request.tip,
            message=message,
        )
        self.rows.append(view)
        if result is Result.APPROVED_OFFLINE:
            self.queue.append(view)
        return Outcome(
            txn,
            result,
            request.amount,
            entry,
            code,
            auth,
            masked,
            message,
            view.scheme,
            view.aid,
            result.value,
        )

    async def refund(
        self, sale_id: str, amount: Amount | None, progress: ProgressCallback
    ) -> Outcome:
        sale = self.transaction(sale_id)
        amount = amount or sale.amount
        txn = self._new_id()
        view = TransactionView(
            id=txn,
            type="refund",
            state="approved",
            result="approved",
            amount=amount,
            entry=sale.entry,
            masked_pan=sale.masked_pan,
            created_at=self._now(),
            code="00",
            auth_code="R00001",
            ref=sale_id,
        )
        self.rows.append(view)
        index = self.rows.index(sale)
        already = sale.refunded.minor if sale.refunded else 0
        self.rows[index] = replace(
            sale, refunded=Amount.of(already + amount.minor, sale.amount.currency)
        )
        return Outcome(txn, Result.APPROVED, amount, sale.entry, "00", "R00001", sale.masked_pan)

    async def card_refund(
        self, request: SaleRequest, progress: ProgressCallback, cancel: asyncio.Event
    ) -> Outcome:
        self.requests.append(request)
        txn = self._new_id()
        progress(Progress(Stage.WAITING_FOR_CARD, "Present card.", txn))
        if not await self._wait(self._tapped, cancel):
            return Outcome(txn, Result.CANCELLED, request.amount, "nfc")
        view = TransactionView(
            id=txn,
            type="refund",
            state="approved",
            result="approved",
            amount=request.amount,
            entry="nfc",
            masked_pan="476173******0119",
            created_at=self._now(),
            code="00",
            auth_code="R00002",
            reference=request.reference,
        )
        self.rows.append(view)
        return Outcome(txn, Result.APPROVED, request.amount, "nfc", "00", "R00002", view.masked_pan)

    async def void(self, sale_id: str, progress: ProgressCallback) -> Outcome:
        sale = self.transaction(sale_id)
        index = self.rows.index(sale)
        self.rows[index] = replace(sale, state="voided")
        return Outcome(self._new_id(), Result.APPROVED, sale.amount, sale.entry, "00")

    def history(self, *, limit: int = 100, search: str = "") -> list[TransactionView]:
        rows = list(reversed(self.rows))
        if search:  # as the real journal: id, masked PAN digits, reference
            rows = [
                r for r in rows if search in r.id or search in r.masked_pan or search in r.reference
            ]
        return rows[:limit]

    def transaction(self, transaction_id: str) -> TransactionView:
        for row in self.rows:
            if row.id == transaction_id:
                return row
        raise UnknownTransaction(f"No transaction {transaction_id} in the journal.")

    def totals(self) -> Totals:
        lines: dict[tuple[str, str, str], list[int]] = {}
        by_hour: dict[int, Amount] = {}
        for row in self.rows:
            key = (row.type, row.entry, row.result)
            count_total = lines.setdefault(key, [0, 0])
            count_total[0] += 1
            count_total[1] += row.amount.minor
            if row.type == "sale" and row.result in ("approved", "approved_offline"):
                hour = row.created_at.hour
                by_hour[hour] = Amount.of(
                    by_hour.get(hour, Amount.zero(self.currency)).minor + row.amount.minor,
                    self.currency,
                )
        return Totals(
            since=T0,
            lines=[
                TotalsLine(t, e, r, c, Amount.of(s, self.currency))
                for (t, e, r), (c, s) in sorted(lines.items())
            ],
            by_hour=by_hour,
        )

    async def close_batch(self) -> BatchResult:
        totals = self.totals().to_json()
        if self.batch_answer == "error":  # as the real engine when the bank does not answer
            return BatchResult("error", totals, {}, BATCH_NOT_CLOSED)
        return BatchResult(self.batch_answer, totals, totals)

    def decline_forwarded(self, sale_id: str) -> None:
        """The bank declines an offline sale when it is forwarded (as the real forwarder
        records it: result declined, state declined_after_forward)."""
        sale = self.transaction(sale_id)
        self.queue = [q for q in self.queue if q.id != sale_id]
        self.rows[self.rows.index(sale)] = replace(
            sale, state="declined_after_forward", result="declined", code="51"
        )

    def queue_status(self) -> QueueStatus:
        total = sum(r.amount.minor for r in self.queue)
        return QueueStatus(
            len(self.queue),
            Amount.of(total, self.currency),
            self.queue[0].created_at if self.queue else None,
            declined_offline=sum(r.state == "declined_after_forward" for r in self.rows),
        )
