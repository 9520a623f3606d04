"""Operations the bank is told of rather than asked: a hold's capture or cancel, and a tip adjust
on a link that carries it as an advice (ISO 8583's 0220).

Each is committed to the store-and-forward queue before it is sent (state `submitted`, the same
id and bytes for every re-send), sent at once, and never reversed: unanswered, it stays queued
and the forwarder keeps sending the same bytes until the bank answers (which answers a repeated
message once, so two deliveries of one item are booked once: `Journal.queue_done_many`).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime

from terminal.money import Amount
from terminal.payment.api import Outcome, Progress, ProgressCallback, Result, Stage
from terminal.payment.bank import Operation
from terminal.payment.context import Core
from terminal.payment.journal import Change, Transaction
from terminal.payment.settlement import Subject, finish
from terminal.payment.states import State


async def queue_and_send(
    core: Core,
    operation: Operation,
    subject: Subject,
    progress: ProgressCallback,
    *,
    change: Change,
    before: tuple[Change, ...] = (),
    announce: str,
    behind_queue: bool = False,
) -> Transaction:
    """Commit `operation` to the queue with `change` (and `before` in the same commit), then
    send it at once (with `behind_queue`: only when nothing is queued ahead of it, so the queue
    keeps its order). The row as it stands after that first attempt."""
    journal = core.journal

    def encode(seq: int, at: datetime) -> bytes:
        return core.bank.encode(operation, seq, at)

    item = await asyncio.to_thread(
        journal.enqueue,
        change,
        operation.type,
        subject.txn_id,
        subject.amount,
        encode,
        before=before,
    )
    progress(Progress(Stage.AUTHORISING, announce, subject.txn_id))
    send_now = True
    if behind_queue:
        head = await asyncio.to_thread(journal.pending, limit=1)
        send_now = bool(head) and head[0].qid == item.qid
    if send_now:
        await core.forwarder.forward_one(item, deadline_s=core.settings.gateway.timeout_s)
    return await asyncio.to_thread(journal.get, subject.txn_id)


async def queued_outcome(
    core: Core,
    subject: Subject,
    txn: Transaction,
    progress: ProgressCallback,
    *,
    waiting: str,
    approved: str = "",
    charged: Amount | None = None,
) -> Outcome:
    """How a queued operation ended for now: approved or declined by the bank, or still
    waiting for its answer (`approved_offline` with the `waiting` sentence noted on the row;
    the forwarder is woken to keep sending). `approved`, when given, is noted on an approved row
    and is its message; `charged` is the outcome's `approved_amount` unless it was declined."""
    journal, txn_id = core.journal, subject.txn_id
    if txn.state is State.DECLINED:
        return finish(progress, subject.outcome(Result.DECLINED, txn.code, "", txn.message))
    if txn.state is State.APPROVED:
        if approved:
            await asyncio.to_thread(journal.note, txn_id, approved)
        outcome = subject.outcome(Result.APPROVED, txn.code, txn.auth_code, approved or txn.message)
    else:
        core.forwarder.wake()
        await asyncio.to_thread(journal.note, txn_id, waiting)
        outcome = subject.outcome(Result.APPROVED_OFFLINE, "", "", waiting, txn.state.value)
    if charged is not None:
        outcome = replace(outcome, approved_amount=charged)
    return finish(progress, outcome)
