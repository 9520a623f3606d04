"""Tell systemd how the service is doing: READY=1, WATCHDOG=1, STATUS=..., STOPPING=1.

`posterm.service` is `Type=notify` with `WatchdogSec=`: systemd counts the service as started
only once it sends READY=1, and restarts it when WATCHDOG=1 stops arriving (a hung event loop,
a dead lock). The protocol is one datagram of `KEY=VALUE` lines to the AF_UNIX socket named in
$NOTIFY_SOCKET (a leading "@" means the abstract namespace), so the standard library is enough
and no libsystemd binding is needed. Outside systemd every call is a cheap no-op.

Feed the watchdog from the event loop itself (`watchdog_task`), not from a thread: a thread
would keep feeding while the loop is stuck, which is exactly what the watchdog must catch.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any


class ServiceNotifier:
    """Sends notifications to the service manager named by $NOTIFY_SOCKET (if any)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET", "")
        self.watchdog_s = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        """True when run by systemd with a notify socket."""
        return bool(self.address)

    def notify(self, **fields: str | int) -> bool:
        """Send `KEY=VALUE` lines (keys upper-cased); False when there is no one to tell."""
        if not self.address:
            return False
        payload = "\n".join(f"{key.upper()}={value}" for key, value in fields.items())
        address = self.address
        if address.startswith("@"):
            address = "\0" + address[1:]
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.sendto(payload.encode("utf-8"), address)
            except OSError:
                return False
        return True

    def ready(self, status: str = "") -> bool:
        """The service is up: systemd finishes `systemctl start` now."""
        if status:
            return self.notify(ready=1, status=status)
        return self.notify(ready=1)

    def watchdog(self) -> bool:
        """Still alive: resets systemd's watchdog timer."""
        return self.notify(watchdog=1)

    def status(self, text: str) -> bool:
        """A one-line status shown by `systemctl status posterm`."""
        return self.notify(status=text)

    def stopping(self) -> bool:
        """Shutting down on purpose (not a hang)."""
        return self.notify(stopping=1)


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Seconds systemd allows between WATCHDOG=1, or None when no watchdog applies to us."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # meant for another process (e.g. a parent shell)
    return int(usec) / 1_000_000


async def watchdog_task(
    notifier: ServiceNotifier, healthy: Callable[[], bool] = lambda: True
) -> None:
    """Feed the watchdog at half its interval while `healthy()` says so; run as a task.

    When `healthy()` turns False the feeding stops, so systemd restarts the service after the
    interval: use it for conditions a restart cures (e.g. the journal cannot be written).
    """
    if notifier.watchdog_s is None:
        return
    period = notifier.watchdog_s / 2
    while True:
        if healthy():
            notifier.watchdog()
        await asyncio.sleep(period)


def screen_supervisor(
    notifier: ServiceNotifier, status: str, *, tick_s: float = 0.25
) -> Callable[[Any], Awaitable[None]]:
    """An auto-pilot for a Textual app (`app.run(auto_pilot=...)`): READY=1 once the screen
    is up, WATCHDOG=1 from the app's own event loop while it runs, STOPPING=1 when it ends.

    Textual calls an auto-pilot when the app is ready and awaits it at shutdown, so it returns
    as soon as the app stops running (checked every `tick_s`).
    """

    async def supervise(pilot: Any) -> None:
        app = pilot.app
        notifier.ready(status)
        period = notifier.watchdog_s / 2 if notifier.watchdog_s else None
        next_feed = 0.0
        while app.is_running:
            now = time.monotonic()
            if period is not None and now >= next_feed:
                notifier.watchdog()
                next_feed = now + period
            await asyncio.sleep(tick_s)
        notifier.stopping()

    return supervise
