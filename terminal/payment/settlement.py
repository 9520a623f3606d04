"""What a bank delivery means, decided in one place: a table and the one step that applies it.

`TABLE` (settlement_table.py) maps (operation, how the delivery ended) to a `Row`: what happens
next (`Then`), the state event, the operator's result, the ISO response code and the operator's
sentence. How a delivery ended is the answer's `result` ("approved", "declined", "pending", ...)
when the bank answered, else `not_sent`, `untrusted` (not sent: the bank's certificate failed
verification), `no_answer`, `refused` (retrying cannot help) or `refused_transient`; an answer
the operation does not expect falls to its `other_answer` row, an `untrusted` delivery without
a row of its own (or with `offline.suspend_on_tls_failure` off) to `not_sent`.
`classify` is the only code that takes a `Delivery` apart (an exhaustive `match`, checked by
mypy), so a new operation (pre-authorisation, capture) or a second acquirer protocol adds rows,
never branches.

`Settlement.send` is the one function that sends, waits and settles a transaction's message:
the signed bytes are committed (state `authorising`) before they leave, and a `no_answer`
queues the reversal in the same commit that records `unknown`, before the operator is told
(PROTOCOL.md rule 3). The store-and-forward queue (forwarder.py) and the batch close read the
same table for their own messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, assert_never

from terminal.money import Amount
from terminal.payment.api import Outcome, Progress, ProgressCallback, Result, Stage
from terminal.payment.bank import (
    Answered,
    Delivery,
    LocalFault,
    NoAnswer,
    NotSent,
    Operation,
    Refused,
    Reply,
)
from terminal.payment.cancel import CancelledBeforeSend
from terminal.payment.context import Core
from terminal.payment.cross_border import debit_of_answer
from terminal.payment.journal import Change
from terminal.payment.settlement_table import (
    ANSWER,
    NOT_ANSWERED,
    QUEUED,
    TABLE,
    Facts,
    Name,
    Row,
    Then,
)
from terminal.payment.states import Event, State

__all__ = [  # the table's names too, so callers need not know where it is kept
    "ANSWER",
    "NOT_ANSWERED",
    "QUEUED",
    "TABLE",
    "Facts",
    "Name",
    "Row",
    "Settled",
    "Settlement",
    "Subject",
    "Then",
    "classify",
    "ending_of",
    "finish",
    "journal_fields",
]

log = logging.getLogger("terminal.payment.settlement")


def ending_of(delivery: Delivery) -> tuple[str, Reply | None, str]:
    """(how it ended, the answer if any, detail): the one place a `Delivery` is taken apart."""
    match delivery:
        case Answered(reply=reply):
            return reply.result, reply, ""
        case NotSent(detail=detail, untrusted=untrusted):
            return ("untrusted" if untrusted else "not_sent"), None, detail
        case NoAnswer(detail=detail):
            return "no_answer", None, detail
        case Refused(detail=detail, final=final):
            return ("refused" if final else "refused_transient"), None, detail
        case LocalFault(detail=detail):
            return "local_fault", None, detail
        case _:
            assert_never(delivery)


def classify(
    name: Name,
    delivery: Delivery,
    *,
    suspend_untrusted: bool = True,
    asked: Amount | None = None,
) -> tuple[Row, Reply | None, str]:
    """The table's row for this delivery of operation `name`, with the answer and detail.

    `suspend_untrusted` is `offline.suspend_on_tls_failure`: off, an untrusted link counts as
    an unreachable one (the offline rules decide again). A `partial` answer whose approved
    amount is missing, in another currency, or not between zero and `asked` is an answer the
    terminal cannot trust: its `other_answer` row (a reversal)."""
    ending, reply, detail = ending_of(delivery)
    if ending == "partial" and not _sound_partial(reply, asked):
        ending = "other_answer"
    if ending == "untrusted" and (not suspend_untrusted or (name, ending) not in TABLE):
        ending = "not_sent"
    row = TABLE.get((name, ending))
    if row is None:
        row = TABLE[(name, "other_answer")]
    return row, reply, detail


def _sound_partial(reply: Reply | None, asked: Amount | None) -> bool:
    approved = reply.approved_amount if reply is not None else None
    return (
        approved is not None
        and asked is not None
        and approved.currency == asked.currency
        and 0 < approved.minor < asked.minor
    )


def journal_fields(row: Row, facts: Facts) -> dict[str, Any]:
    """The columns a settled row writes with its event."""
    fields: dict[str, Any] = {}
    reply = facts.reply
    if reply is not None:
        debit = debit_of_answer(reply.payload) if reply.result == "approved" else None
        values = {
            "code": reply.code,
            "auth_code": reply.auth_code,
            "gateway_ref": reply.gateway_ref,
            "answer": reply.raw,
            "expires_at": str(reply.payload.get("expires_at", "") or ""),
            "wallet_debit": debit.to_text() if debit is not None else "",
        }
        for name in row.keep:
            if name == "approved":  # a partial approval: the sale is what the card paid
                approved = reply.approved_amount
                if approved is not None and facts.amount is not None:
                    fields["amount"] = approved.minor
                    fields["requested"] = facts.amount.minor
                continue
            if name.endswith("?"):
                name = name[:-1]
                if not values[name]:
                    continue
            fields[name] = values[name]
    else:
        if row.code:
            fields["code"] = row.code
        if row.rule:
            fields["rule"] = row.rule
    message = row.say(facts)
    if message:
        fields["message"] = message
    return fields


# -- the step -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Subject:
    """The transaction a delivery settles, as its outcome shows it."""

    txn_id: str
    amount: Amount
    entry: str
    masked_pan: str = ""
    scheme: str = ""
    aid: str = ""
    kind: str = "sale"
    sale_id: str = ""
    """For a refund or void: the sale acted on."""
    label: str = ""
    cryptogram_type: str = ""
    cvm: str = ""
    """What the card said for the receipt (application label, TC/ARQC, CVM performed)."""

    def outcome(
        self,
        result: Result,
        code: str = "",
        auth_code: str = "",
        message: str = "",
        state: str = "",
    ) -> Outcome:
        return Outcome(
            self.txn_id,
            result,
            self.amount,
            self.entry,
            code,
            auth_code,
            self.masked_pan,
            message,
            self.scheme,
            self.aid,
            state,
            label=self.label,
            cryptogram_type=self.cryptogram_type,
            cvm=self.cvm,
        )


@dataclass(frozen=True, slots=True)
class Settled:
    """Where a delivery left the operation: ended (`outcome`), or going on (PENDING, SILENT)."""

    outcome: Outcome | None
    row: Row
    reply: Reply | None = None
    bank_s: float = 0.0
    """Seconds spent waiting for the bank."""


def finish(progress: ProgressCallback, outcome: Outcome) -> Outcome:
    """Tell the operator the end, and return it."""
    progress(Progress(Stage.RESULT, outcome.message, outcome.id, {"result": outcome.result.value}))
    return outcome


class Settlement:
    """Sends a transaction's message and settles its delivery by the table."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def send(
        self,
        name: Name,
        operation: Operation,
        subject: Subject,
        progress: ProgressCallback,
        *,
        announce: str = "",
        before: tuple[Change, ...] = (),
        stored: bool = True,
        deadline_s: float | None = None,
        why: str = "",
        offline: Callable[[], Awaitable[Outcome]] | None = None,
        moves_ref: Callable[[], tuple[Change, ...]] | None = None,
        gate: Callable[[], bool] | None = None,
    ) -> Settled:
        """Encode, (commit,) send, wait and settle one message.

        `stored`: the message is the transaction's own request, committed with `before` and
        the `send` event before it leaves; otherwise (a status question, an intent's void) it
        only takes the next `seq`. `offline` runs when the row says the offline rules decide;
        `moves_ref` gives the changes of the transaction acted on, committed with the approval.
        `gate` is asked inside the commit that stores the request (the point of no return): when
        it says no (a cancel was accepted), nothing is committed or sent and
        `CancelledBeforeSend` is raised.
        """
        core = self.core

        def encode(seq: int, at: datetime) -> bytes:
            if gate is not None and not gate():
                raise CancelledBeforeSend(subject.txn_id)
            return core.bank.encode(operation, seq, at)

        if stored:
            change = Change(subject.txn_id, Event.SEND)
            body = await asyncio.to_thread(
                core.journal.sign_and_apply, change, encode, before=before
            )
        else:
            seq = await asyncio.to_thread(core.journal.next_seq)
            body = encode(seq, core.journal.clock())
        if announce:
            progress(Progress(Stage.AUTHORISING, announce, subject.txn_id))
        started = time.perf_counter()
        delivery = await core.bank.deliver(operation.id, body, deadline_s=deadline_s)
        bank_s = time.perf_counter() - started
        row, reply, detail = classify(
            name,
            delivery,
            suspend_untrusted=core.settings.offline.suspend_on_tls_failure,
            asked=subject.amount,
        )
        facts = Facts(subject.amount, subject.kind, subject.sale_id, why, detail, reply)
        outcome: Outcome | None = None
        match row.then:
            case Then.DONE:
                outcome = await self._record(row, facts, subject, progress, moves_ref)
            case Then.REVERSE:
                if reply is not None:
                    log.error(
                        "%s %s: unexpected answer %r; reversing", name, operation.id, reply.result
                    )
                outcome = await self.reverse_unknown(subject, progress)
            case Then.REVERSE_DECLINE:
                outcome = await self.reverse_declined(row, facts, subject, progress)
            case Then.OFFLINE:
                if offline is None:
                    raise ValueError(f"{name} has no offline rules")
                outcome = await offline()
            case Then.PENDING | Then.SILENT:
                pass
            case Then.PARK | Then.RETRY:
                raise ValueError(f"{name}: a queue row for a transaction's own message")
            case _:
                assert_never(row.then)
        return Settled(outcome, row, reply, bank_s)

    async def cancelled_before_send(
        self, subject: Subject, progress: ProgressCallback, message: str, *also: Change
    ) -> Outcome:
        """The end of a send the operator cancelled before anything left (`send` raised
        `CancelledBeforeSend`): the cancel is committed, with `also` in the same commit."""
        cancel = Change(subject.txn_id, Event.CANCEL, {"message": message})
        await asyncio.to_thread(self.core.journal.apply, *also, cancel)
        return finish(progress, subject.outcome(Result.CANCELLED, message=message))

    async def _record(
        self,
        row: Row,
        facts: Facts,
        subject: Subject,
        progress: ProgressCallback,
        moves_ref: Callable[[], tuple[Change, ...]] | None,
    ) -> Outcome:
        assert row.event is not None and row.result is not None, row
        journal = self.core.journal
        change = Change(subject.txn_id, row.event, journal_fields(row, facts))

        def commit() -> None:
            others = moves_ref() if row.moves_ref and moves_ref is not None else ()
            journal.apply(change, *others)

        await asyncio.to_thread(commit)
        code = row.code if row.code is not None else facts.code
        auth_code = facts.auth_code if row.result is Result.APPROVED else ""
        return finish(progress, subject.outcome(row.result, code, auth_code, row.say(facts)))

    async def reverse_declined(
        self, row: Row, facts: Facts, subject: Subject, progress: ProgressCallback
    ) -> Outcome:
        """The bank approved part of an amount that had to be paid whole: the reversal of that
        part is committed with the row's event before the operator is told, then tried at once
        (the queue keeps trying if the bank does not answer)."""
        assert row.event is not None and row.result is not None, row
        core, txn_id = self.core, subject.txn_id
        approved = facts.approved or subject.amount
        reverse = Operation("reverse", core.bank.new_id(), amount=approved, ref=txn_id)

        def encode(seq: int, at: datetime) -> bytes:
            return core.bank.encode(reverse, seq, at)

        fields = {**journal_fields(row, facts), "rule": "partial_not_allowed"}
        item = await asyncio.to_thread(
            core.journal.enqueue,
            Change(txn_id, row.event, fields),
            "reverse",
            reverse.id,
            approved,
            encode,
        )
        await core.forwarder.forward_one(item, deadline_s=core.settings.gateway.timeout_s)
        state = (await asyncio.to_thread(core.journal.get, txn_id)).state
        if state is not State.REVERSED:
            core.forwarder.wake()
        code = row.code if row.code is not None else facts.code
        outcome = subject.outcome(row.result, code, "", row.say(facts), state.value)
        return finish(progress, outcome)

    async def reverse_unknown(self, subject: Subject, progress: ProgressCallback) -> Outcome:
        """Commit a reversal with `unknown` before telling the operator, then try it at once
        (PROTOCOL.md rule 3)."""
        return await self._reverse(
            subject,
            progress,
            "No answer from the bank: reversing the payment…",
            (
                "No answer from the bank in time, so the payment was reversed: nothing is "
                "charged. Ask for the payment again."
            ),
            (
                "No answer from the bank in time. A reversal is stored and will be sent as soon "
                "as the bank answers, so nothing stays charged. Ask for another payment."
            ),
            Result.ERROR,
            "68",
        )

    async def cancel_unconfirmed(
        self, subject: Subject, progress: ProgressCallback, why: str
    ) -> Outcome:
        """A wallet payment the customer did not confirm (or the operator stopped): cancel it
        with the wallet by a reversal of the sale's id, committed before anything is said. The
        wallet closes an unconfirmed payment for good and refunds a confirmed one, so nothing
        stays charged either way."""
        return await self._reverse(
            subject,
            progress,
            f"{why} Cancelling the payment with the wallet…",
            f"{why} The payment was cancelled with the wallet: nothing was charged.",
            (
                f"{why} The cancellation is stored and will be sent as soon as the bank answers, "
                "so nothing stays charged."
            ),
            Result.CANCELLED,
            "",
            Stage.CANCELLING,
        )

    async def _reverse(
        self,
        subject: Subject,
        progress: ProgressCallback,
        announce: str,
        reversed_sentence: str,
        queued_sentence: str,
        result: Result,
        code: str,
        stage: Stage = Stage.REVERSING,
    ) -> Outcome:
        core, txn_id = self.core, subject.txn_id
        progress(Progress(stage, announce, txn_id))
        reverse = Operation("reverse", core.bank.new_id(), amount=subject.amount, ref=txn_id)

        def encode(seq: int, at: datetime) -> bytes:
            return core.bank.encode(reverse, seq, at)

        item = await asyncio.to_thread(
            core.journal.enqueue,
            Change(txn_id, Event.REVERSE),
            "reverse",
            reverse.id,
            subject.amount,
            encode,
            before=(Change(txn_id, Event.NO_ANSWER),),
        )
        # Committed: now try it at once; if it fails the forwarder keeps trying.
        await core.forwarder.forward_one(item, deadline_s=core.settings.gateway.timeout_s)
        state = (await asyncio.to_thread(core.journal.get, txn_id)).state
        if state is State.REVERSED:
            message = reversed_sentence
        else:
            core.forwarder.wake()
            message = queued_sentence
        await asyncio.to_thread(core.journal.note, txn_id, message)
        return finish(progress, subject.outcome(result, code, "", message, state.value))
