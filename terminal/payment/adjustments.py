"""Refunds, voids and the batch close: operations on sales already made, online only.

Each is checked against the journal first (unknown id, refund above what is left, void of a
settled or refunded sale, a sale not yet confirmed by the bank): a refusal raises a
`PaymentError` with exit code 2 and nothing is sent. An accepted refund or void is journaled
like a sale (its own row, id = its message id, signed bytes committed before sending), and
its approval moves the sale (refunded amount, `voided`) in the same commit.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from terminal.money import Amount
from terminal.payment import reports
from terminal.payment.api import BatchResult, Outcome, Progress, ProgressCallback, Result, Stage
from terminal.payment.bank import Delivery
from terminal.payment.errors import GatewayUnreachable, RefundNotAllowed, VoidNotAllowed
from terminal.payment.journal import Change, Transaction
from terminal.payment.states import REFUNDABLE, VOIDABLE, Event, State

if TYPE_CHECKING:
    from terminal.payment.engine import Engine

_COUNTED_SALES = frozenset(
    {State.APPROVED, State.PARTIALLY_REFUNDED, State.REFUNDED, State.FORWARDED}
)


def _sale_of(engine: Engine, sale_id: str, action: str, error: type[Exception]) -> Transaction:
    sale = engine.journal.get(sale_id)  # UnknownTransaction (exit 2) for an unknown id
    if sale.type != "sale":
        raise error(f"{sale_id} is a {sale.type}, not a sale: only sales can be {action}.")
    return sale


def _why_not(sale: Transaction, action: str) -> str:
    if sale.state is State.APPROVED_OFFLINE:
        return (
            f"Sale {sale.id} was approved offline and has not reached the bank yet; it can be "
            f"{action} once it is forwarded (`posterm saf flush`). Nothing was sent."
        )
    state = sale.state.value.replace("_", " ")
    return f"Sale {sale.id} is {state}: it cannot be {action}. Nothing was sent."


def refund_in_flight(engine: Engine, sale_id: str) -> int:
    """Minor units of refunds of this sale that may still be approved (sent, not answered)."""
    value = engine.journal.scalar(
        "SELECT COALESCE(SUM(amount), 0) FROM transactions WHERE type = 'refund' AND ref = ? "
        "AND state IN ('created', 'card_read', 'authorising')",
        (sale_id,),
    )
    return int(value)


async def refund(
    engine: Engine, sale_id: str, amount: Amount | None, progress: ProgressCallback
) -> Outcome:
    """Refund all that is left of a sale, or `amount` of it."""
    sale = await asyncio.to_thread(_sale_of, engine, sale_id, "refunded", RefundNotAllowed)
    if sale.state not in REFUNDABLE:
        raise RefundNotAllowed(_why_not(sale, "refunded"))
    pending = await asyncio.to_thread(refund_in_flight, engine, sale_id)
    remaining = sale.amount - sale.refunded - Amount.of(pending, sale.amount.currency)
    wanted = remaining if amount is None else amount
    if wanted.currency != sale.amount.currency:
        raise RefundNotAllowed(
            f"Sale {sale_id} was in {sale.amount.currency.code}; a refund must be too. "
            "Nothing was sent."
        )
    if wanted.minor <= 0:
        raise RefundNotAllowed(
            f"Nothing is left to refund on sale {sale_id} ({sale.amount}, "
            f"{sale.refunded} refunded). Nothing was sent."
            if amount is None
            else "A refund must be more than zero. Nothing was sent."
        )
    if wanted > remaining:
        raise RefundNotAllowed(
            f"Refund of {wanted} refused: only {remaining} of sale {sale_id} ({sale.amount}) "
            "is left to refund. Nothing was sent."
        )
    outcome = await _send_adjustment(engine, "refund", sale, wanted, progress)
    return outcome


async def void(engine: Engine, sale_id: str, progress: ProgressCallback) -> Outcome:
    """Cancel a sale that is not yet settled (its batch is still open)."""
    sale = await asyncio.to_thread(_sale_of, engine, sale_id, "voided", VoidNotAllowed)
    if sale.state not in VOIDABLE:
        raise VoidNotAllowed(_why_not(sale, "voided"))
    if sale.batch is not None and sale.batch != engine.journal.batch_no:
        raise VoidNotAllowed(
            f"Sale {sale_id} was settled in batch {sale.batch}: it can no longer be voided; "
            "refund it instead. Nothing was sent."
        )
    return await _send_adjustment(engine, "void", sale, sale.amount, progress)


async def _send_adjustment(
    engine: Engine, kind: str, sale: Transaction, amount: Amount, progress: ProgressCallback
) -> Outcome:
    journal, bank = engine.journal, engine.bank
    owner = engine.owner.acquire()
    txn_id = bank.new_id()
    fields = {
        "masked_pan": sale.masked_pan,
        "scheme": sale.scheme,
        "aid": sale.aid,
        "owner": owner,
    }
    await asyncio.to_thread(
        journal.create,
        txn_id,
        kind,
        amount,
        entry=sale.entry,
        ref=sale.id,
        fields=fields,
        reserve_bytes=64 * 1024,
    )

    def sign(seq: int, at: datetime) -> bytes:
        return bank.sign(kind, id=txn_id, seq=seq, created_at=at, ref=sale.id, amount=amount)

    body = await asyncio.to_thread(journal.sign_and_apply, Change(txn_id, Event.SEND), sign)
    words = "refund" if kind == "refund" else "void"
    progress(Progress(Stage.AUTHORISING, f"Sending the {words} to the bank…", txn_id))
    delivery = await bank.deliver(txn_id, body)
    return await _settle(engine, kind, txn_id, sale, amount, delivery, progress)


async def _settle(
    engine: Engine,
    kind: str,
    txn_id: str,
    sale: Transaction,
    amount: Amount,
    delivery: Delivery,
    progress: ProgressCallback,
) -> Outcome:
    journal = engine.journal

    def outcome(result: Result, code: str, auth_code: str, message: str) -> Outcome:
        o = Outcome(
            txn_id,
            result,
            amount,
            sale.entry,
            code,
            auth_code,
            sale.masked_pan,
            message,
            sale.scheme,
            sale.aid,
        )
        progress(Progress(Stage.RESULT, message, txn_id, {"result": result.value}))
        return o

    if delivery.status == "answered":
        reply = delivery.answered
        fields: dict[str, Any] = {
            "code": reply.code,
            "auth_code": reply.auth_code,
            "gateway_ref": reply.gateway_ref,
            "answer": reply.raw,
        }
        if reply.result in ("approved", "reversed"):
            current = await asyncio.to_thread(journal.get, sale.id)
            if kind == "refund":
                refunded = current.refunded + amount
                event = Event.REFUND_FULL if refunded >= current.amount else Event.REFUND_PART
                sale_change = Change(sale.id, event, {"refunded": refunded.minor})
                message = f"Refund of {amount} approved."
            else:
                sale_change = Change(sale.id, Event.VOID)
                message = f"Sale {sale.id} voided: {amount} will not be charged."
            fields["message"] = message
            await asyncio.to_thread(
                journal.apply, Change(txn_id, Event.APPROVE, fields), sale_change
            )
            return outcome(Result.APPROVED, reply.code, reply.auth_code, message)
        if reply.result == "declined":
            message = f"The bank declined the {kind}: {_describe(reply.code, reply.reason)}."
            fields["message"] = message
            await asyncio.to_thread(journal.apply, Change(txn_id, Event.DECLINE, fields))
            return outcome(Result.DECLINED, reply.code, "", message)
    if delivery.status == "not_sent":
        message = f"The bank cannot be reached: the {kind} was not sent. Try again later."
        await asyncio.to_thread(
            journal.apply, Change(txn_id, Event.NOT_SENT, {"message": message, "code": "91"})
        )
        return outcome(Result.ERROR, "91", "", message)
    if delivery.status == "refused":
        message = (
            f"The bank refused the {kind} ({delivery.detail}); nothing changed. "
            "Call the technician if this repeats."
        )
        await asyncio.to_thread(
            journal.apply, Change(txn_id, Event.REJECT, {"message": message, "code": "96"})
        )
        return outcome(Result.ERROR, "96", "", message)
    return await engine.reverse_unknown(txn_id, amount, sale.entry, sale.masked_pan, progress)


def _describe(code: str, reason: str) -> str:
    from terminal.payment.response_codes import describe_code

    return describe_code(code, reason)


def batch_totals(engine: Engine) -> dict[str, Any]:
    """The close_batch totals in the gateway's canonical form (per kind and currency):
    approved sales online and offline minus voided or reversed; approved refunds."""
    totals: dict[str, dict[str, dict[str, Any]]] = {"sale": {}, "refund": {}}
    for txn in reports.batch_transactions(engine.journal):
        if txn.type == "sale" and txn.state in _COUNTED_SALES:
            kind = "sale"
        elif txn.type == "refund" and txn.state is State.APPROVED:
            kind = "refund"
        else:
            continue
        code = txn.amount.currency.code
        line = totals[kind].setdefault(code, {"count": 0, "value": 0})
        line["count"] += 1
        line["value"] += txn.amount.minor
    return {
        kind: {
            code: {"count": line["count"], "total": {"value": line["value"], "currency": code}}
            for code, line in by_currency.items()
        }
        for kind, by_currency in totals.items()
    }


async def close_batch(engine: Engine) -> BatchResult:
    """Forward what is queued, then send the totals; the gateway balances and a new batch opens."""
    report = await engine.forwarder.flush()
    waiting = report.left - await asyncio.to_thread(reports.parked_count, engine.journal)
    if waiting > 0:
        raise GatewayUnreachable(
            f"{waiting} offline sale(s) or reversal(s) could not be forwarded "
            f"({report.last_error or 'gateway unreachable'}); the batch stays open. "
            "Try again when the bank is reachable."
        )
    journal, bank = engine.journal, engine.bank
    pending = await asyncio.to_thread(journal.pending_close)
    if pending is not None:  # an earlier close went out without an answer: same id, same bytes
        message_id, totals_text, body = pending
        totals = json.loads(totals_text)
    else:
        totals = await asyncio.to_thread(batch_totals, engine)
        message_id = bank.new_id()

        def sign(seq: int, at: datetime) -> bytes:
            return bank.sign("close_batch", id=message_id, seq=seq, created_at=at, totals=totals)

        body = await asyncio.to_thread(
            journal.store_close, message_id, json.dumps(totals, sort_keys=True), sign
        )
    delivery = await bank.deliver(message_id, body)
    if delivery.status != "answered":
        raise GatewayUnreachable(
            f"The batch could not be closed ({delivery.status.replace('_', ' ')}"
            + (f": {delivery.detail}" if delivery.detail else "")
            + "); it stays open. Try again later: the same close is sent again."
        )
    reply = delivery.answered
    gateway_totals = reply.payload.get("totals", {})
    if not isinstance(gateway_totals, dict):
        gateway_totals = {}
    number = await asyncio.to_thread(
        journal.close_batch, reply.result, json.dumps(gateway_totals, sort_keys=True)
    )
    if reply.result == "balanced":
        message = f"Batch {number} closed and balanced with the bank."
    else:
        message = (
            f"Batch {number} closed OUT OF BALANCE: the bank's totals differ from the terminal's. "
            "Compare the reports and call the bank."
        )
    return BatchResult(reply.result, totals, gateway_totals, message)
