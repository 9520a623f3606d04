"""Starting the reporter from the long-running commands: `posterm serve` (a task beside the ECR
API) and `posterm run` (an auto-pilot of the operator screen, which Textual awaits at exit).
Both do nothing unless `[fleet] enabled`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from terminal.payment.api import PaymentEngine
    from terminal.settings import Settings

AutoPilot = Callable[[Any], Awaitable[None]]


def start_reporting(
    settings: Settings,
    engine: PaymentEngine,
    stop: asyncio.Event,
    *,
    printer_opened: bool,
    display_opened: bool,
) -> asyncio.Task[None] | None:
    """The reporter task until `stop` is set, or None when the fleet is off."""
    if not settings.fleet.enabled:
        return None
    from terminal.fleet.reporter import FleetReporter
    from terminal.wiring.presence import devices_look

    look = devices_look(settings, printer_opened=printer_opened, display_opened=display_opened)
    reporter = FleetReporter(settings, engine, look)
    return asyncio.create_task(reporter.run(stop), name="fleet-reporter")


def screen_reporting(settings: Settings, then: AutoPilot | None) -> AutoPilot | None:
    """An auto-pilot that reports while the operator screen runs, beside `then` (the systemd
    supervisor, when there is one); `then` unchanged when the fleet is off."""
    if not settings.fleet.enabled:
        return then

    async def report(pilot: Any) -> None:
        app = pilot.app
        stop = asyncio.Event()
        task = start_reporting(
            settings,
            app.engine,
            stop,
            printer_opened=app.printing.configured,
            display_opened=app.customer_display.display is not None,
        )
        try:
            if then is not None:
                await then(pilot)
            while app.is_running:
                await asyncio.sleep(0.25)
        finally:
            stop.set()
            if task is not None:
                await task

    return report
