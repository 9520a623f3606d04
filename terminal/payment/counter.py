"""The engine's counter flows: tip adjust and split tender (cash tenders, the split sale as the
till sees it, voiding a split sale as a whole).

A mixin of `Engine`, kept apart so engine.py stays the composition it is; each method works on
the engine's `Core` and settlement table through tips.py and tenders.py and, like the engine's
own entry points, never raises for a runtime failure once its check passed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from terminal.money import Amount
from terminal.payment import tenders
from terminal.payment.adjustments import check_void, run_adjustment
from terminal.payment.api import Outcome, ProgressCallback, Result
from terminal.payment.context import Core, Tracker
from terminal.payment.errors import PaymentError
from terminal.payment.journal import Change, Journal
from terminal.payment.settlement import Settlement
from terminal.payment.states import Event, State
from terminal.payment.tips import TipAdjust, check_tip, run_tip_adjust

if TYPE_CHECKING:
    from terminal.payment.between_sales import BetweenSales
    from terminal.settings import Settings

log = logging.getLogger("terminal.payment.counter")


class CounterFlows:
    """Tip adjust and split tender, on the engine's parts."""

    settings: Settings
    journal: Journal
    core: Core
    settlement: Settlement
    gate: BetweenSales

    async def _guarded(
        self,
        kind: str,
        work: Awaitable[Outcome],
        tracker: Tracker,
        amount: Amount,
        entry: str,
        progress: ProgressCallback,
    ) -> Outcome:
        raise NotImplementedError  # the engine's

    # -- tip adjust -------------------------------------------------------------------------
    async def check_tip(self, sale_id: str, tip: Amount) -> TipAdjust:
        """The adjust the settings and the journal allow; raises `TipNotAllowed` /
        `UnknownTransaction` (exit code 2, nothing sent) when they do not."""
        return await asyncio.to_thread(check_tip, self.journal, self.settings.ui, sale_id, tip)

    async def tip_adjust(self, sale_id: str, tip: Amount, progress: ProgressCallback) -> Outcome:
        """`check_tip`, then send the adjust to a definite end: only the check's refusals
        raise."""
        adjust = await self.check_tip(sale_id, tip)
        tracker = Tracker()
        async with self.gate.payment():
            return await self._guarded(
                "tip_adjust",
                run_tip_adjust(
                    self.core, self.settlement, self.settings.ui, adjust, progress, tracker
                ),
                tracker,
                adjust.total,
                adjust.sale.entry,
                progress,
            )

    # -- split tender -----------------------------------------------------------------------
    async def check_tender(self, sale_id: str, amount: Amount | None) -> Amount:
        """What a further tender of a split sale pays (all that is left when `amount` is
        None); raises `TenderNotAllowed` / `UnknownTransaction` (exit code 2) else."""

        def check() -> Amount:
            first = self.journal.get(sale_id)
            wanted = amount if amount is not None else tenders.remaining(self.journal, first)
            tenders.check_tender(self.journal, sale_id, wanted)
            return wanted

        return await asyncio.to_thread(check)

    async def cash_tender(self, sale_id: str, amount: Amount | None) -> Outcome:
        """Record cash paid towards a split sale (no bank message); only the check's
        refusals raise."""
        wanted = await self.check_tender(sale_id, amount)
        txn_id = self.core.bank.new_id()
        txn = await asyncio.to_thread(tenders.record_cash, self.journal, txn_id, sale_id, wanted)
        first = await asyncio.to_thread(tenders.first_tender, self.journal, sale_id)
        left = await asyncio.to_thread(tenders.remaining, self.journal, first)
        message = f"Cash {wanted} recorded." + (
            f" {left} is still to pay." if left.minor else " The sale is paid."
        )
        return Outcome(
            txn.id,
            Result.APPROVED,
            wanted,
            "cash",
            "00",
            message=message,
            state=txn.state.value,
            approved_amount=wanted,
            remaining_amount=left,
        )

    def tenders(self, sale_id: str) -> dict[str, Any] | None:
        """The split sale with its tenders (None for a sale paid whole at once)."""
        return tenders.summary(self.journal, sale_id)

    async def void_tenders(self, sale_id: str, progress: ProgressCallback) -> list[Outcome]:
        """Void a split sale as a whole (its remainder abandoned): every card or QR tender is
        voided with the bank, every cash tender marked voided (the cash goes back). Refusals
        found before anything runs raise (`VoidNotAllowed`, exit code 2)."""
        rows = await asyncio.to_thread(tenders.voidable_tenders, self.journal, sale_id)
        for txn in rows:  # every card tender must be voidable before any is voided
            if txn.type == "sale":
                await asyncio.to_thread(check_void, self.journal, txn.id)
        outcomes: list[Outcome] = []
        for txn in rows:
            if txn.type == "cash":
                change = Change(txn.id, Event.VOID, {"message": "Cash given back."})
                await asyncio.to_thread(self.journal.apply, change)
                outcomes.append(
                    Outcome(
                        txn.id,
                        Result.APPROVED,
                        txn.amount,
                        "cash",
                        "00",
                        message="Cash given back.",
                        state=State.VOIDED.value,
                    )
                )
                continue
            try:
                adjustment = await asyncio.to_thread(check_void, self.journal, txn.id)
            except PaymentError as error:
                outcomes.append(
                    Outcome(txn.id, Result.ERROR, txn.amount, txn.entry, message=error.sentence)
                )
                continue
            tracker = Tracker()
            async with self.gate.payment():
                outcomes.append(
                    await self._guarded(
                        "void",
                        run_adjustment(self.core, self.settlement, adjustment, progress, tracker),
                        tracker,
                        adjustment.amount,
                        txn.entry,
                        progress,
                    )
                )
        return outcomes
