"""The reporter task that `posterm serve` and `posterm run` start when `[fleet] enabled`:
samples the engine each second, publishes the retained status on every change and at least
every `heartbeat_s`, and turns changes into events (queued, bounded, while the broker is down).

It only reads the engine; a failure here is logged and never reaches a sale.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from terminal.fleet.commands import RemoteCommands
from terminal.fleet.events import EventQueue
from terminal.fleet.link import BrokerLink
from terminal.fleet.remote_config import RemoteConfig
from terminal.fleet.status import changed, config_digest, events_between, iso, status_of
from terminal.fleet.topics import TerminalTopics
from terminal.payment.api import PaymentEngine
from terminal.security import alarms
from terminal.settings import Settings
from terminal.wiring.presence import DevicesLook

log = logging.getLogger(__name__)

TICK_S = 1.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), sort_keys=True).encode()


class FleetReporter:
    """Status and events of one terminal to the fleet broker."""

    def __init__(
        self,
        settings: Settings,
        engine: PaymentEngine,
        devices: DevicesLook,
        *,
        tick_s: float = TICK_S,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.devices = devices
        self.tick_s = tick_s
        self.clock = clock
        terminal = settings.terminal
        self.topics = TerminalTopics(
            settings.fleet.topic_prefix, terminal.merchant_id, terminal.terminal_id
        )
        self.events = EventQueue(settings.fleet.max_queued_events)
        self.started_at = clock()
        self.digest = config_digest(settings)
        self.status: dict[str, Any] | None = None
        self._published_at: datetime | None = None
        self._batch_since: Any = None
        self._batch_totals: dict[str, Any] | None = None
        self._lockouts_known: set[tuple[str, int]] = set()
        """PIN lockouts reported, as (role, failures)."""
        self._send = threading.Lock()
        self.link: BrokerLink | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bundles: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=16)
        self.remote_config = RemoteConfig(settings, engine, clock=clock, devices=devices)
        self.remote_commands = RemoteCommands(settings, self._run_command, clock=clock)

    # -- the task ----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Report until `stop` is set, then leave a retained `online: false` behind."""
        try:
            self.link = BrokerLink(
                self.settings.fleet,
                f"posterm-{self.topics.terminal_id}",
                will=self._will,
                on_connected=self._reconnected,
                subscriptions=(self.topics.config_set, self.topics.command),
                on_message=self._received,
            )
        except Exception as error:  # paho missing, unreadable CA: a sentence, selling goes on
            log.error("fleet: reporting is off: %s", getattr(error, "sentence", error))
            return
        loop = asyncio.get_running_loop()
        self._loop = loop
        bundles = asyncio.create_task(self._take_bundles(), name="fleet-config")
        stop_listening = alarms.listen(self.alarm)
        await self._link_known()
        try:
            while not stop.is_set():
                try:
                    await self.sample(await loop.run_in_executor(None, self.devices))
                except Exception:
                    log.exception("fleet: sampling the terminal's status failed")
                if not self.link.started and self.status is not None:
                    self.link.start()  # after the first status: it is the last will
                try:
                    await asyncio.wait_for(stop.wait(), self.tick_s)
                except TimeoutError:
                    pass
        finally:
            stop_listening()
            bundles.cancel()
            await loop.run_in_executor(None, self.link.stop, self._will())

    async def _link_known(self) -> None:
        """Wait for the engine's link check at start, so that the first status says the
        bank's real state and its result is not reported as a "restored" link."""
        checked = getattr(self.engine, "link_checked", None)
        if checked is None:
            return
        gateway = self.settings.gateway
        try:
            await asyncio.wait_for(checked(), gateway.connect_timeout_s + gateway.timeout_s)
        except Exception as error:  # a slow check only delays the first status
            log.info("fleet: first status without the start-up link check (%r)", error)

    async def sample(self, devices: dict[str, str]) -> None:
        """Read the engine once; queue the events the change means; publish when due."""
        now = self.clock()
        status = status_of(
            self.settings,
            self.engine,
            devices,
            started_at=self.started_at,
            digest=self.digest,
            now=now,
        )
        for event in events_between(self.status, status):
            self.event(event)
            if self.link is None or not self.link.connected:
                log.info(
                    "fleet: %s kept until the broker is back (%d waiting, %d dropped)",
                    event["event"],
                    len(self.events),
                    self.events.dropped,
                )
        self._watch_batch()
        self._watch_pin_lockouts()
        due = changed(self.status, status) or (
            self._published_at is None
            or (now - self._published_at).total_seconds() >= self.settings.fleet.heartbeat_s
        )
        self.status = status
        if due:
            self._published_at = None
        self._flush()

    def event(self, event: dict[str, Any]) -> None:
        """Queue one event (stamped with who and when) for the broker."""
        terminal = self.settings.terminal
        self.events.put(
            {
                **event,
                "terminal_id": terminal.terminal_id,
                "merchant_id": terminal.merchant_id,
                "at": iso(self.clock()),
            }
        )

    def alarm(self, kind: str, details: Mapping[str, Any]) -> None:
        """A security alarm of this process (any thread): an event, sent at once if the
        broker is there. Its details are plain ids, counts and reasons (alarms.py)."""
        if kind == "pin_lockout":
            self._lockouts_known.add((str(details.get("role")), int(details.get("failures", 0))))
        self.event({"event": "security_alarm", "alarm": kind, **details})
        log.warning("fleet: security alarm %s reported", kind)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._flush)

    def _watch_pin_lockouts(self) -> None:
        """PIN lockouts of other posterm processes on this terminal (a technician command in
        a shell): the shared attempts file (terminal/security/pins.py) says a role is locked
        after `failures` wrong PINs; each lockout is reported once."""
        from terminal.security.pins import STATE_FILE

        try:
            state = json.loads((self.settings.data_dir / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # no attempts yet, or caught mid-write: the next tick reads it
        if not isinstance(state, dict):
            return
        now = time.time()
        for role, entry in state.items():
            if not isinstance(entry, dict):
                continue
            failures = entry.get("failures", 0)
            locked_until = entry.get("locked_until", 0.0)
            if not isinstance(failures, int) or not isinstance(locked_until, (int, float)):
                continue
            if failures == 0:
                self._lockouts_known -= {k for k in self._lockouts_known if k[0] == role}
            elif locked_until > now and (role, failures) not in self._lockouts_known:
                self.alarm(
                    "pin_lockout",
                    {
                        "role": role,
                        "failures": failures,
                        "locked_for_s": round(locked_until - now),
                        "purpose": "another posterm process on this terminal",
                    },
                )

    def _watch_batch(self) -> None:
        """A batch closed when the totals' start moves: report the closed batch's totals."""
        totals = self.engine.totals()
        if self._batch_totals is not None and totals.since != self._batch_since:
            self.event({"event": "batch_closed", "totals": self._batch_totals})
        self._batch_since = totals.since
        self._batch_totals = totals.to_json()

    # -- publishing (event loop or link thread) ----------------------------------------
    def _flush(self) -> None:
        """Publish the status if not yet published, then the queued events in order."""
        link = self.link
        if link is None or not link.connected:
            return
        with self._send:
            status = self.status
            if status is not None and self._published_at is None:
                if link.publish(self.topics.status, encode(status), retain=True):
                    self._published_at = self.clock()
            dropped = self.events.take_dropped()
            if dropped and not self._send_event(
                {"event": "events_dropped", "count": dropped, "at": iso(self.clock())}
            ):
                self.events.dropped += dropped
                return
            while (event := self.events.peek()) is not None:
                if not self._send_event(event):
                    return
                self.events.pop()

    def _received(self, topic: str, payload: bytes) -> None:
        """From the link thread: a bundle or a command, handed to the event loop."""
        if topic not in (self.topics.config_set, self.topics.command) or self._loop is None:
            return

        def enqueue() -> None:
            try:
                self._bundles.put_nowait((topic, payload))
            except asyncio.QueueFull:
                log.warning("fleet: configuration bundles arrive faster than taken; one dropped")

        self._loop.call_soon_threadsafe(enqueue)

    async def _take_bundles(self) -> None:
        """One bundle or command at a time: verify, then apply or run, then answer."""
        while True:
            topic, token = await self._bundles.get()
            if topic == self.topics.command:
                answer = await self.remote_commands.take(token)
                reply_to = self.topics.command_result
            else:
                answer = await self.remote_config.take(token)
                reply_to = self.topics.config_result
                if answer["result"] == "applied":
                    self.settings = self.remote_config.settings
                    self.digest = config_digest(self.settings)
            log.info("fleet: %s %s: %s", reply_to, answer["result"], answer["sentence"])
            link = self.link
            if link is None or not link.publish(reply_to, encode(answer), retain=False):
                log.warning("fleet: an answer to the operator could not be sent")

    async def _run_command(self, name: str) -> dict[str, Any]:
        """Run one verified command through the engine's public API; its figures only."""
        loop = asyncio.get_running_loop()
        if name == "reload-status":
            self._published_at = None
            self._flush()
            return {}
        if name == "close-batch":
            batch = await self.engine.close_batch()
            return {
                "result": batch.result,
                "terminal_totals": batch.terminal_totals,
                "gateway_totals": batch.gateway_totals,
            }
        if name == "saf-flush":
            report = await self.engine.flush(deadline_s=60)  # type: ignore[attr-defined]
            return {
                "sent": report.sent,
                "declined": report.declined,
                "parked": report.parked,
                "left": report.left,
            }
        from terminal.wiring.probes import check_gateway

        devices = await loop.run_in_executor(None, self.devices)
        gateway = await loop.run_in_executor(None, check_gateway, self.settings)
        return {
            "devices": devices,
            "gateway": {"healthy": gateway.healthy, "problem": gateway.problem},
        }

    def _reconnected(self) -> None:
        """The broker may have lost the retained status or shown our will: publish it again."""
        self._published_at = None
        self._flush()

    def _send_event(self, event: dict[str, Any]) -> bool:
        assert self.link is not None
        return self.link.publish(self.topics.events, encode(event), retain=False)

    def _will(self) -> tuple[str, bytes] | None:
        """The retained status the broker shows once we vanish: the last one, offline."""
        status = self.status
        if status is None:
            return None
        return self.topics.status, encode({**status, "online": False})
