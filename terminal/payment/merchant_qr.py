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
from typing import TYPE_CHECKING

from terminal.payment.api import Outcome, Progress, ProgressCallback, Result, SaleRequest, Stage
from terminal.payment.bank import Delivery
from terminal.payment.journal import Change
from terminal.payment.states import Event

if TYPE_CHECKING:
    from terminal.payment.engine import Engine

log = logging.getLogger("terminal.payment.merchant_qr")

GRACE_S = 30.0
"""How long past the code's expiry the terminal keeps asking before it reverses."""


class _Unresolved(Exception):
    """The outcome could not be learned: reverse."""


async def merchant_presented_sale(
    engine: Engine,
    txn_id: str,
    request: SaleRequest,
    progress: ProgressCallback,
    cancel: asyncio.Event,
) -> Outcome:
    from terminal.payment.response_codes import describe_code

    amount, entry, journal, bank = request.amount, "qr_mpm", engine.journal, engine.bank
    presenter = engine.code_presenter
    if presenter is None:
        message = "No screen or customer display to show the payment code on."
        await asyncio.to_thread(journal.apply, Change(txn_id, Event.CANCEL, {"message": message}))
        return _end(progress, Outcome(txn_id, Result.ERROR, amount, entry, message=message))

    def sign(seq: int, at: datetime) -> bytes:
        return bank.sign("qr_intent", id=txn_id, seq=seq, created_at=at, amount=amount)

    body = await asyncio.to_thread(journal.sign_and_apply, Change(txn_id, Event.SEND), sign)
    progress(Progress(Stage.AUTHORISING, "Asking the bank for a payment code…", txn_id))
    delivery = await bank.deliver(txn_id, body)
    if delivery.status == "not_sent":
        message = (
            "The bank cannot be reached and QR payments are never approved offline: "
            "ask the customer to pay by card."
        )
        refusal = {"code": "91", "rule": "offline_entry", "message": message}
        await asyncio.to_thread(journal.apply, Change(txn_id, Event.DECLINE_OFFLINE, refusal))
        return _end(
            progress, Outcome(txn_id, Result.DECLINED, amount, entry, "91", message=message)
        )
    if delivery.status == "refused":
        message = f"The bank refused the payment request ({delivery.detail}); nothing was charged."
        await asyncio.to_thread(
            journal.apply, Change(txn_id, Event.REJECT, {"code": "96", "message": message})
        )
        return _end(progress, Outcome(txn_id, Result.ERROR, amount, entry, "96", message=message))
    reply = delivery.reply
    if (
        delivery.status != "answered"
        or reply is None
        or reply.result not in ("pending", "declined")
    ):
        return await engine.reverse_unknown(txn_id, amount, entry, "", progress)
    if reply.result == "declined":
        message = (
            f"The bank refused the payment request: {describe_code(reply.code, reply.reason)}."
        )
        fields: dict[str, object] = {"code": reply.code, "message": message, "answer": reply.raw}
        await asyncio.to_thread(journal.apply, Change(txn_id, Event.DECLINE, fields))
        return _end(
            progress, Outcome(txn_id, Result.DECLINED, amount, entry, reply.code, message=message)
        )

    intent_id = str(reply.payload.get("intent_id", ""))
    expires_at = _expiry(reply.payload.get("expires_at"), engine.settings.qr.intent_timeout_s)
    try:
        from terminal.qr.terminal_code import intent_payload  # type: ignore[import-not-found,unused-ignore]

        payload: str = intent_payload(engine.settings, amount, intent_id)
    except Exception as error:  # a code that cannot be built: withdraw the intent
        log.error("cannot build the merchant code for %s: %s", intent_id, error)
        return await _withdraw(
            engine, txn_id, intent_id, request, progress, "The payment code could not be built."
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
        return await _poll(engine, txn_id, intent_id, expires_at, request, progress, cancel)
    finally:
        presenter.clear()


async def _poll(
    engine: Engine,
    txn_id: str,
    intent_id: str,
    expires_at: datetime,
    request: SaleRequest,
    progress: ProgressCallback,
    cancel: asyncio.Event,
) -> Outcome:
    from terminal.payment.response_codes import describe_code

    amount, entry, journal = request.amount, "qr_mpm", engine.journal
    interval = engine.settings.qr.poll_interval_s
    give_up = expires_at + timedelta(seconds=GRACE_S)
    while True:
        try:
            async with asyncio.timeout(interval):
                await cancel.wait()
        except TimeoutError:
            pass
        if cancel.is_set():
            return await _withdraw(
                engine, txn_id, intent_id, request, progress, "Cancelled by the operator."
            )
        delivery = await _ask(engine, "qr_status", intent_id, timeout=max(interval * 3, 5.0))
        reply = delivery.reply
        if reply is None:
            if datetime.now(UTC) > give_up:
                return await engine.reverse_unknown(txn_id, amount, entry, "", progress)
            continue
        fields = {"code": reply.code, "auth_code": reply.auth_code, "answer": reply.raw}
        if reply.result == "approved":
            message = "Approved" + (f" (auth code {reply.auth_code})." if reply.auth_code else ".")
            await asyncio.to_thread(
                journal.apply, Change(txn_id, Event.APPROVE, {**fields, "message": message})
            )
            return _end(
                progress,
                Outcome(
                    txn_id,
                    Result.APPROVED,
                    amount,
                    entry,
                    reply.code,
                    reply.auth_code,
                    message=message,
                ),
            )
        if reply.result in ("declined", "expired"):
            message = (
                "The code expired before it was paid."
                if reply.result == "expired"
                else f"Declined by the bank: {describe_code(reply.code, reply.reason)}."
            )
            await asyncio.to_thread(
                journal.apply, Change(txn_id, Event.DECLINE, {**fields, "message": message})
            )
            return _end(
                progress,
                Outcome(txn_id, Result.DECLINED, amount, entry, reply.code, message=message),
            )


async def _withdraw(
    engine: Engine,
    txn_id: str,
    intent_id: str,
    request: SaleRequest,
    progress: ProgressCallback,
    why: str,
) -> Outcome:
    """Void the intent; only the gateway's confirmation makes the sale `cancelled`."""
    amount, entry = request.amount, "qr_mpm"
    delivery = await _ask(engine, "void", intent_id or txn_id, timeout=None)
    reply = delivery.reply
    if reply is not None and reply.result == "approved":
        message = f"{why} Nothing was charged."
        await asyncio.to_thread(
            engine.journal.apply,
            Change(txn_id, Event.WITHDRAW, {"message": message, "answer": reply.raw}),
        )
        return _end(progress, Outcome(txn_id, Result.CANCELLED, amount, entry, message=message))
    return await engine.reverse_unknown(txn_id, amount, entry, "", progress)


async def _ask(engine: Engine, kind: str, ref: str, *, timeout: float | None) -> Delivery:
    """One qr_status or void for the intent (a fresh message id and seq each time)."""
    bank = engine.bank
    message_id = bank.new_id()
    seq = await asyncio.to_thread(engine.journal.next_seq)
    body = bank.sign(kind, id=message_id, seq=seq, created_at=engine.journal.clock(), ref=ref)
    return await bank.deliver(message_id, body, deadline_s=timeout)


def _expiry(value: object, default_s: float) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC) + timedelta(seconds=default_s)


def _end(progress: ProgressCallback, outcome: Outcome) -> Outcome:
    progress(Progress(Stage.RESULT, outcome.message, outcome.id, {"result": outcome.result.value}))
    return outcome
