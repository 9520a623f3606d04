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
- Jittered exponential backoff between attempts; while backing off, the link check
  (`/v1/health`) runs every few seconds and wakes the forwarder as soon as the gateway is back.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from terminal.payment.bank import Bank, Delivery
from terminal.payment.journal import Change, Journal, QueueItem
from terminal.payment.states import Event

log = logging.getLogger("terminal.payment.forwarder")

_PARK_STATUSES = frozenset({400, 401, 409, 413, 422})


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


def backoff_delay(attempt: int, *, base_s: float, max_s: float) -> float:
    """Full-jitter exponential backoff: a random wait up to min(max, base * 2^attempt)."""
    ceiling = min(max_s, base_s * (2 ** min(attempt, 30)))
    return max(base_s / 10, random.uniform(ceiling / 2, ceiling))


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
            delay = backoff_delay(failures, base_s=self.base_delay_s, max_s=self.max_delay_s)
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
        dispatched, so the queue never runs far ahead of an undelivered message.
        """
        counts = {"sent": 0, "declined": 0, "parked": 0}
        error = ""
        blocked = False
        async with self._sending:
            waiting = await self._pending_count()
            while not blocked:
                batch = await asyncio.to_thread(self.journal.pending, limit=4 * self.window)
                if not batch:
                    break
                in_flight: set[asyncio.Task[str]] = set()
                for item in batch:
                    if blocked:
                        break
                    in_flight.add(asyncio.create_task(self._forward(item, deadline_s)))
                    if len(in_flight) < self.window:
                        continue
                    done, in_flight = await asyncio.wait(
                        in_flight, return_when=asyncio.FIRST_COMPLETED
                    )
                    blocked = self._count(done, counts) or blocked
                    if progress is not None:
                        progress(self._report(counts, waiting, blocked))
                if in_flight:
                    done, _ = await asyncio.wait(in_flight)
                    blocked = self._count(done, counts) or blocked
                    if progress is not None:
                        progress(self._report(counts, waiting, blocked))
            if blocked or counts["parked"]:
                error = self.last_error
        left = await asyncio.to_thread(lambda: len(self.journal.pending(include_parked=True)))
        if self.on_change is not None:
            self.on_change()
        return FlushReport(
            counts["sent"], counts["declined"], counts["parked"], left, error, blocked=blocked
        )

    async def forward_one(self, item: QueueItem, *, deadline_s: float | None = None) -> str:
        """Deliver one queued message now, ahead of the queue (a fresh reversal: the
        operator is waiting, and a reversal depends on no earlier message)."""
        outcome = await self._forward(item, deadline_s)
        if self.on_change is not None:
            self.on_change()
        return outcome

    @staticmethod
    def _count(done: set[asyncio.Task[str]], counts: dict[str, int]) -> bool:
        """Tally finished deliveries; True when one could not be delivered."""
        blocked = False
        for task in done:
            outcome = task.result()
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

    async def _forward(self, item: QueueItem, deadline_s: float | None) -> str:
        delivery = await self.bank.deliver(item.message_id, item.body, deadline_s=deadline_s)
        if delivery.status == "answered":
            return await self._answered(item, delivery)
        if delivery.status == "refused" and delivery.http_status in _PARK_STATUSES:
            self.last_error = (
                f"{item.kind} {item.message_id} refused by the gateway: {delivery.detail}"
            )
            log.error("store-and-forward: %s; parked", self.last_error)
            await asyncio.to_thread(self.journal.queue_failed, item, self.last_error, park=True)
            return "parked"
        self.last_error = {
            "not_sent": "gateway unreachable",
            "no_answer": "no answer from the gateway",
        }.get(delivery.status, "gateway error")
        if delivery.detail:
            self.last_error += f" ({delivery.detail})"
        await asyncio.to_thread(self.journal.queue_failed, item, self.last_error)
        return "failed"

    async def _answered(self, item: QueueItem, delivery: Delivery) -> str:
        reply = delivery.answered
        if item.kind == "advice":
            if reply.result == "approved":
                event, outcome = Event.FORWARD_ACCEPTED, "sent"
            else:
                event, outcome = Event.FORWARD_DECLINED, "declined"
            fields = {"code": reply.code, "gateway_ref": reply.gateway_ref, "answer": reply.raw}
            if reply.auth_code:
                fields["auth_code"] = reply.auth_code
            if outcome == "declined":
                fields["message"] = (
                    f"The bank declined this offline sale when it was forwarded (code {reply.code}"
                    + (f": {reply.reason}" if reply.reason else "")
                    + ")."
                )
                log.warning(
                    "store-and-forward: advice %s declined (%s)", item.message_id, reply.code
                )
            change = Change(item.txn_id, event, fields)
        else:
            if reply.result not in ("reversed", "approved"):
                self.last_error = (
                    f"reverse {item.message_id} answered {reply.result} "
                    f"({reply.code} {reply.reason})"
                )
                await asyncio.to_thread(self.journal.queue_failed, item, self.last_error, park=True)
                return "parked"
            change = Change(item.txn_id, Event.REVERSAL_DONE, {"answer": reply.raw})
            outcome = "sent"
        await asyncio.to_thread(self.journal.queue_done, item, reply.result, reply.code, change)
        return outcome

    async def _pending_count(self) -> int:
        return await asyncio.to_thread(lambda: len(self.journal.pending()))

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
