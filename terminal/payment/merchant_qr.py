"""A sale paid by the customer scanning the terminal's code (PROTOCOL.md rule 5).

The `qr_intent` is the sale's message: its id is the sale's id, it is signed and committed
before it is sent, like an `authorize`. The gateway answers `pending` with an intent id; the
terminal builds the dynamic EMVCo code around it, shows it, and asks `qr_status` until the
wallet paid (approved), the issuer declined, the code expired, or the operator cancels — then
it sends `void` for the intent, and only a confirmed void ends the sale as cancelled. Any
point where the outcome cannot be learned ends in a reversal of the sale's id (rule 3).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from terminal.payment.api import (
    CodePresenter,
    Outcome,
    Progress,
    ProgressCallback,
    Result,
    SaleRequest,
    Stage,
)
from terminal.payment.bank import Operation
from terminal.payment.cancel import CancelToken, pass_point_of_no_return
from terminal.payment.context import Core
from terminal.payment.journal import Change
from terminal.payment.settlement import Settlement, Subject, finish
from terminal.payment.settlement_table import Then
from terminal.payment.states import Event

log = logging.getLogger("terminal.payment.merchant_qr")

GRACE_S = 30.0
"""How long past the code's expiry the terminal keeps asking before it reverses."""


async def merchant_presented_sale(
    core: Core,
    settlement: Settlement,
    presenter: CodePresenter | None,
    txn_id: str,
    request: SaleRequest,
    progress: ProgressCallback,
    cancel: asyncio.Event,
) -> Outcome:
    amount, entry = request.amount, "qr_mpm"
    subject = Subject(txn_id, amount, entry)
    if presenter is None:
        message = "No screen or customer display to show the payment code on."
        await asyncio.to_thread(
            core.journal.apply, Change(txn_id, Event.CANCEL, {"message": message})
        )
        return finish(progress, subject.outcome(Result.ERROR, message=message))
    settled = await settlement.send(
        "qr_intent",
        Operation("qr_intent", txn_id, amount),
        subject,
        progress,
        announce="Asking the bank for a payment code…",
    )
    if settled.outcome is not None:
        return settled.outcome
    reply = settled.reply
    assert reply is not None, "a pending intent is an answer"
    intent_id = str(reply.payload.get("intent_id", ""))
    expires_at = _expiry(reply.payload.get("expires_at"), core.settings.qr.intent_timeout_s)
    try:
        from terminal.qr.terminal_code import intent_payload  # type: ignore[import-not-found,unused-ignore]

        payload: str = intent_payload(core.settings, amount, intent_id)
    except Exception as error:  # a code that cannot be built: withdraw the intent
        log.error("cannot build the merchant code for %s: %s", intent_id, error)
        return await _withdraw(
            core, settlement, subject, intent_id, progress, "The payment code could not be built."
        )
    presenter.show(payload, amount, expires_at)
    progress(
        Progress(
            Stage.SHOWING_CODE,
            f"Scan to pay {amount}",
            txn_id,
            {"payload": payload, "expires_at": expires_at.isoformat(), "intent_id": intent_id},
        )
    )
    try:
        return await _poll(core, settlement, subject, intent_id, expires_at, progress, cancel)
    finally:
        presenter.clear()


async def _poll(
    core: Core,
    settlement: Settlement,
    subject: Subject,
    intent_id: str,
    expires_at: datetime,
    progress: ProgressCallback,
    cancel: asyncio.Event,
) -> Outcome:
    interval = core.settings.qr.poll_interval_s
    give_up = expires_at + timedelta(seconds=GRACE_S)
    while True:
        try:
            async with asyncio.timeout(interval):
                await cancel.wait()
        except TimeoutError:
            pass
        # While the bank is asked whether the code was paid, a cancel is refused (its answer
        # may be "paid"); between questions it is honoured by withdrawing the intent.
        if not pass_point_of_no_return(cancel, "authorising"):
            return await _withdraw(
                core, settlement, subject, intent_id, progress, "Cancelled by the operator."
            )
        status = Operation("qr_status", core.bank.new_id(), ref=intent_id)
        settled = await settlement.send(
            "qr_status",
            status,
            subject,
            progress,
            stored=False,
            deadline_s=max(interval * 3, 5.0),
        )
        if settled.outcome is not None:
            return settled.outcome
        if isinstance(cancel, CancelToken):
            cancel.release()
        if settled.row.then is Then.SILENT and datetime.now(UTC) > give_up:
            return await settlement.reverse_unknown(subject, progress)


async def _withdraw(
    core: Core,
    settlement: Settlement,
    subject: Subject,
    intent_id: str,
    progress: ProgressCallback,
    why: str,
) -> Outcome:
    """Void the intent; only the bank's confirmation makes the sale `cancelled`."""
    void = Operation("void", core.bank.new_id(), ref=intent_id or subject.txn_id)
    settled = await settlement.send("qr_withdraw", void, subject, progress, stored=False, why=why)
    assert settled.outcome is not None, "every withdrawal row ends the sale"
    return settled.outcome


def _expiry(value: object, default_s: float) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC) + timedelta(seconds=default_s)
