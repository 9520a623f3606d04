"""Store-and-forward: sends queued advices and reversals, in order, exactly as stored.

Why it works this way (PROTOCOL.md rules 3 and 4):
- Each queued message was signed and committed when it was decided (offline approval,
  unknown outcome); the forwarder only ever sends those exact bytes, so a re-send carries the
  same `id` and the gateway answers it once, whichever process or attempt got there first.
- In order: messages are dispatched in queue order, at most `window` in flight at once (the
  gateway answers each on its own, and `seq` shows it the order); once one cannot be
  delivered nothing further is dispatched, and it is retried first next time. A message the
  gateway refuses outright (409, 422, 401, 400) is parked with the error, shown by
  `posterm saf status`, and no longer blocks the queue.
- What each delivery means (accepted, declined, parked, retried) is the settlement table's
  rows for `advice`, `reverse`, `capture` and `preauth_cancel` (settlement_table.py); a
  capture's or cancel's answer moves its hold in the same commit (hold_moves.py).
- Jittered exponential backoff (terminal/backoff.py) between attempts; while backing off, the
  link check (`/v1/health`) runs every few seconds and wakes the forwarder as soon as the
  gateway is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from terminal.backoff import backoff_s
from terminal.payment.bank import Bank
from terminal.payment.hold_moves import hold_moves
from terminal.payment.journal import Change, Journal
from terminal.payment.records import QueueAnswer, QueueItem
from terminal.payment.settlement import classify, journal_fields
from terminal.payment.settlement_table import Facts, Name, Then
from terminal.payment.states import Event

log = logging.getLogger("terminal.payment.forwarder")

QUEUE_NAMES: dict[str, Name] = {
    "advice": "advice",
    "tip_adjust": "tip_adjust_queued",
    "capture": "capture",
    "preauth_cancel": "preauth_cancel",
}
"""The settlement table's operation for each kind of queued message (else a reversal)."""

_READ_AHEAD = 64
"""Queue items read from the journal at a time while earlier ones are in flight."""


@dataclass(frozen=True, slots=True)
class FlushReport:
    """What one pass over the queue did."""

    sent: int
    """Messages the gateway answered in this pass."""
    declined: int
    """Of those, advices the gateway declined (the merchant carries the loss)."""
    parked: int
    """Messages the gateway refused outright in this pass."""
    left: int
    """Messages still waiting (including parked ones)."""
    last_error: str = ""
    blocked: bool = False
    """The head of the queue could not be delivered (gateway unreachable or silent)."""


class AnswerRecorder:
    """Records the gateway's answers in the journal in groups, in the background.

    While one commit runs, answers that arrive meanwhile wait and go into the next one
    together; the forwarder keeps sending and never waits for the disk itself.
    """

    def __init__(
        self,
        journal: Journal,
        refused: Callable[[QueueAnswer, Exception], Awaitable[str]],
    ) -> None:
        self.journal = journal
        self._park = refused
        self.failure: Exception | None = None
        """Why the journal could not record (disk full, ...); the forwarder stops sending."""
        self.refused: list[QueueAnswer] = []
        """Answers the journal would not record (their transaction had moved); parked."""
        self._waiting: list[QueueAnswer] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, answer: QueueAnswer) -> None:
        self._waiting.append(answer)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._record(), name="saf-record")

    async def drain(self) -> None:
        """Wait until every answer handed over is recorded; raises what the journal raised."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
        if self.failure is not None:
            raise self.failure

    async def _record(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                outcomes = await asyncio.to_thread(self.journal.queue_done_many, group)
            except Exception as error:
                self.failure = error
                return
            for answer, outcome in zip(group, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    self.refused.append(answer)
                    await self._park(answer, outcome)


def _kind_words(kind: str) -> str:
    """A queued message's kind as a sentence names it."""
    return "cancel of the pre-authorisation" if kind == "preauth_cancel" else kind


class Forwarder:
    """The queue's one sender per process; `run` is the background task, `flush` the
    operator's "forward everything now"."""

    def __init__(
        self,
        journal: Journal,
        bank: Bank,
        *,
        base_delay_s: float = 1.0,
        max_delay_s: float = 60.0,
        health_interval_s: float = 5.0,
        window: int = 8,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.journal = journal
        self.bank = bank
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.health_interval_s = health_interval_s
        self.window = max(1, window)
        """Messages in flight at once; 1 forwards strictly one after the other."""
        self.on_change = on_change
        self._wake = asyncio.Event()
        self._sending = asyncio.Lock()
        self.last_error = ""

    def wake(self) -> None:
        """Something was queued or the link may be back: try now."""
        self._wake.set()

    async def run(self) -> None:
        """Forward until cancelled."""
        failures = 0
        while True:
            report = await self.flush()
            if not report.blocked:
                failures = 0
                await self._sleep_until_woken(60.0)
                continue
            failures += 1
            delay = backoff_s(failures, first_s=self.base_delay_s, max_s=self.max_delay_s)
            log.info("store-and-forward: %s; next attempt in %.1f s", report.last_error, delay)
            await self._wait_for_link(delay)

    async def flush(
        self,
        progress: Callable[[FlushReport], None] | None = None,
        *,
        deadline_s: float | None = None,
    ) -> FlushReport:
        """Send pending messages in order until the queue is empty or the head fails.

        Up to `window` messages are in flight at once, dispatched in queue order (like
        pipelined requests on one link); when one cannot be delivered no further message is
        dispatched, so the queue never runs far ahead of an undelivered message. Answers are
        recorded in the journal in groups (one commit for those that arrived meanwhile), off
        the path of the next request; a crash before that commit only means the same bytes are
        sent again, and the gateway answers them from its store.
        """
        counts = {"sent": 0, "declined": 0, "parked": 0}
        async with self._sending:
            waiting = await asyncio.to_thread(self.journal.pending_count)
            recorder = AnswerRecorder(self.journal, self._refused)
            try:
                blocked = await self._pump(counts, waiting, recorder, progress, deadline_s)
            finally:
                await recorder.drain()
            for answer in recorder.refused:  # counted as answered, ended up parked
                counts["sent"] -= 1
                counts["declined"] -= answer.change.event is Event.FORWARD_DECLINED
                counts["parked"] += 1
            error = self.last_error if blocked or counts["parked"] else ""
        left = await asyncio.to_thread(self.journal.pending_count, include_parked=True)
        if self.on_change is not None:
            self.on_change()
        return FlushReport(
            counts["sent"], counts["declined"], counts["parked"], left, error, blocked=blocked
        )

    async def _pump(
        self,
        counts: dict[str, int],
        waiting: int,
        recorder: AnswerRecorder,
        progress: Callable[[FlushReport], None] | None,
        deadline_s: float | None,
    ) -> bool:
        """Keep `window` deliveries in flight, in queue order; True when one failed."""
        blocked = False
        ahead: deque[QueueItem] = deque()
        last_qid = 0
        read_all = False
        in_flight: set[asyncio.Task[tuple[str, QueueAnswer | None]]] = set()
        try:
            while True:
                while not blocked and len(in_flight) < self.window:
                    if not ahead and not read_all:
                        batch = await asyncio.to_thread(
                            self.journal.pending, limit=_READ_AHEAD, after_qid=last_qid
                        )
                        read_all = len(batch) < _READ_AHEAD
                        ahead.extend(batch)
                        last_qid = batch[-1].qid if batch else last_qid
                    if not ahead:
                        break
                    if ahead[0].kind == "tip_adjust" and in_flight:
                        break  # its sale's advice must have been answered first
                    item = ahead.popleft()
                    in_flight.add(asyncio.create_task(self._deliver(item, deadline_s)))
                if not in_flight:
                    return blocked
                done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                blocked = self._count(done, counts, recorder) or blocked
                if recorder.failure is not None:
                    self.last_error = f"the journal cannot record answers ({recorder.failure})"
                    blocked = True
                if progress is not None:
                    progress(self._report(counts, waiting, blocked))
        finally:
            for task in in_flight:
                task.cancel()

    async def forward_one(self, item: QueueItem, *, deadline_s: float | None = None) -> str:
        """Deliver one queued message now, ahead of the queue (a fresh reversal: the
        operator is waiting, and a reversal depends on no earlier message)."""
        outcome, answer = await self._deliver(item, deadline_s)
        if answer is not None:
            recorded = await asyncio.to_thread(self.journal.queue_done_many, [answer])
            if isinstance(recorded[0], Exception):
                outcome = await self._refused(answer, recorded[0])
        if self.on_change is not None:
            self.on_change()
        return outcome

    @staticmethod
    def _count(
        done: set[asyncio.Task[tuple[str, QueueAnswer | None]]],
        counts: dict[str, int],
        recorder: AnswerRecorder,
    ) -> bool:
        """Tally finished deliveries and hand their answers to the recorder; True when one
        could not be delivered."""
        blocked = False
        for task in done:
            outcome, answer = task.result()
            if answer is not None:
                recorder.add(answer)
            if outcome in ("sent", "declined"):
                counts["sent"] += 1
                counts["declined"] += outcome == "declined"
            elif outcome == "parked":
                counts["parked"] += 1
            else:
                blocked = True
        return blocked

    def _report(self, counts: dict[str, int], waiting: int, blocked: bool) -> FlushReport:
        left = max(0, waiting - counts["sent"] - counts["parked"])
        return FlushReport(
            counts["sent"], counts["declined"], counts["parked"], left, self.last_error, blocked
        )

    async def _deliver(
        self, item: QueueItem, deadline_s: float | None
    ) -> tuple[str, QueueAnswer | None]:
        """Send one queued message: its outcome, and the answer to record when there is one."""
        delivery = await self.bank.deliver(item.message_id, item.body, deadline_s=deadline_s)
        kind: Name = QUEUE_NAMES.get(item.kind, "reverse")
        row, reply, detail = classify(kind, delivery)
        facts = Facts(item.amount, _kind_words(item.kind), detail=detail, reply=reply)
        if row.then is Then.DONE and reply is not None and row.event is not None:
            change = Change(item.txn_id, row.event, journal_fields(row, facts))
            also: tuple[Change, ...] = ()
            if item.kind == "tip_adjust" and row.event is Event.FORWARD_DECLINED:
                from terminal.payment.tips import undo_queued_adjust

                also = await asyncio.to_thread(undo_queued_adjust, self.journal, item.txn_id)
            elif row.moves_ref:  # a capture or cancel moves its hold in the same commit
                txn = await asyncio.to_thread(self.journal.get, item.txn_id)
                also = await asyncio.to_thread(hold_moves, self.journal, txn, reply.result)
            outcome = "sent" if row.event is not Event.FORWARD_DECLINED else "declined"
            if outcome == "declined":
                log.warning(
                    "store-and-forward: %s %s declined (%s)", item.kind, item.message_id, reply.code
                )
            return outcome, QueueAnswer(item, reply.result, reply.code, change, also)
        if row.then is Then.PARK:
            await self._park(item, row.say(facts))
            return "parked", None
        self.last_error = row.say(facts)
        await asyncio.to_thread(self.journal.queue_failed, item, self.last_error)
        return "failed", None

    async def _park(self, item: QueueItem, why: str) -> None:
        """Stop retrying a message (retrying cannot help) and show why in `saf status`."""
        self.last_error = f"{item.kind} {item.message_id} {why}"
        log.error("store-and-forward: %s; parked", self.last_error)
        await asyncio.to_thread(self.journal.queue_failed, item, self.last_error, park=True)

    async def _refused(self, answer: QueueAnswer, error: Exception) -> str:
        """The journal refused to record an answer (the transaction moved meanwhile)."""
        await self._park(answer.item, f"answered {answer.result}, but not recorded: {error}")
        return "parked"

    async def _sleep_until_woken(self, timeout: float | None) -> bool:
        """Wait for `wake` (True) or the timeout (False)."""
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that arrives
            # as the event fires, and the forwarder would outlive `Engine.stop`.
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            return False
        finally:
            self._wake.clear()
        return True

    async def _wait_for_link(self, delay: float) -> None:
        """Back off for `delay`, but return early when woken or the link check succeeds."""
        loop = asyncio.get_running_loop()
        end = loop.time() + delay
        while (remaining := end - loop.time()) > 0:
            if await self._sleep_until_woken(min(remaining, self.health_interval_s)):
                return
            try:
                if await self.bank.health():
                    return
            except Exception:  # a link check must never kill the forwarder
                log.debug("link check failed", exc_info=True)
